"""Cleanup of the work failed services left (POST /workers/cleanup, 3.24).

The request selects services (by default the ones that are down) and, for
each, the work records it left: records it claimed, and records on its
backend nobody claimed yet. For a volume service:

* a live volume service of the same backend (the service itself, when it is
  up) or of its cluster is asked to take the records over and redo the work
  (volume RPC ``do_cleanup``): the service is reported as ``cleaning``;
* when there is none, the resources are marked failed as Cinder marks them
  when work is lost (creating -> error, deleting -> error_deleting,
  extending -> error_extending, ...) and the records removed: the service
  is reported as ``unavailable``, meaning nobody could redo its work.

Schedulers own no records: a create whose placement was lost has a record
nobody claimed and no host; cleaning a scheduler sends those creates to the
scheduler again (placement is recorded once, so a repeat is harmless).

The members of a cluster do the same without the operator: each runs
:func:`take_over_dead_peers` periodically, which calls :func:`take_over` for
every member of its cluster down longer than ``service_down_time`` that left
work (the claims decide which live member redoes each record), and restores
the dead member's exports on the live one.
"""

import threading

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.db import api as db
from blockstore.db import services as services_db
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states
from blockstore.ops import services as svc

LOG = logging.getLogger(__name__)

CLEANABLE = ('volume', 'snapshot')


def locate(ctx, resource_id, resource_type=None):
    """{service_id, resource_type} of the one work record of a resource (400 otherwise)."""
    workers = services_db.workers_of_resource(ctx, resource_id, resource_type)
    if not workers:
        raise exception.InvalidInput(reason='There is no resource with UUID %s pending '
                                            'cleanup.' % resource_id)
    if len(workers) > 1:
        raise exception.InvalidInput(reason='There are multiple resources with UUID %s '
                                            'pending cleanup.  Please be more specific.'
                                     % resource_id)
    worker = workers[0]
    located = {'resource_type': worker.resource_type}
    if worker.service_id is not None:
        located['service_id'] = worker.service_id
    return located


def _peer(ctx, service, now):
    """A live volume service that can redo ``service``'s work, or None."""
    if svc.is_up(service, now):
        return service
    if service.cluster_name:
        for other in services_db.service_get_all(ctx, cluster_name=service.cluster_name,
                                                 binary=service.binary):
            if other.id != service.id and svc.is_up(other, now) and not other.frozen:
                return other
    return None


# Failure events that land on available and must settle from the volume's attachments
# (an upload of an in-use volume returns to in-use).
_SETTLED_ENDS = {('volume', 'upload_failed')}


def fail_work(ctx, worker):
    """Mark the resource of a lost work record failed, as Cinder does; drop the record."""
    machine = states.MACHINES.get(worker.resource_type)
    event = '%s_failed' % worker.operation
    if worker.resource_type == 'attachment' and event in machine.table:
        from blockstore.db import attachments as db_att
        from blockstore.volume.attach import service as attach_flow
        try:
            row = db_att.attachment_get(ctx, worker.resource_id)
            attach_flow.change(ctx, row.volume_id, row.id, event)
            LOG.info('Cleanup: %s of attachment %s was lost; marked %s', worker.operation,
                     row.id, event)
        except exception.BlockstoreException:
            pass
    elif machine is not None and event in machine.table:
        then = None
        if (worker.resource_type, event) in _SETTLED_ENDS:
            then = states.settler(worker.resource_id)
        if states.transition(ctx, worker.resource_type, worker.resource_id, event, then=then):
            LOG.info('Cleanup: %s of %s %s was lost; marked %s', worker.operation,
                     worker.resource_type, worker.resource_id, event)
    else:
        LOG.warning('Cleanup: no failure state for %s of %s %s; only its record is removed',
                    worker.operation, worker.resource_type, worker.resource_id)
    db.worker_destroy(ctx, worker.resource_type, worker.resource_id, worker.operation)


def _requeue_unplaced(ctx, scheduler_api, until):
    """Send creates whose placement was lost to the scheduler again."""
    for worker in objects.WorkerList.get_all(ctx, resource_type='volume',
                                             operation='create', service_id=None):
        if worker.created_at and worker.created_at.replace(tzinfo=None) > until:
            continue
        try:
            volume = objects.Volume.get_by_id(ctx, worker.resource_id)
        except exception.VolumeNotFound:
            continue
        if volume.status == states.CREATING and not volume.host:
            scheduler_api.create_volume(ctx, volume, worker.args.get('request_spec') or {})


def cleanup(ctx, volume_api, scheduler_api, service_id=None, cluster_name=None, host=None,
            binary=None, is_up=False, disabled=None, resource_id=None, resource_type=None):
    """(cleaning, unavailable): the matching services, by whether their work is redone."""
    until = utcnow()
    now = until
    services = services_db.service_get_all(ctx, host=host, binary=binary,
                                           cluster_name=cluster_name, service_id=service_id,
                                           disabled=disabled, host_prefix=True)
    if is_up is not None:
        services = [s for s in services if svc.is_up(s, now) == is_up]
    cleaning, unavailable = [], []
    requeued = False
    casts, lost = [], []
    for service in services:
        if service.binary == svc.SCHEDULER_BINARY:
            live = [s for s in services_db.service_get_all(ctx, binary=svc.SCHEDULER_BINARY)
                    if svc.is_up(s, now)]
            if not live:
                unavailable.append(service)
                continue
            if not requeued and resource_type in (None, 'volume'):
                _requeue_unplaced(ctx, scheduler_api, until)
                requeued = True
            cleaning.append(service)
            continue
        if service.binary != svc.VOLUME_BINARY:
            continue
        work = services_db.workers_of_service(ctx, service, resource_type, resource_id, until)
        peer = _peer(ctx, service, now)
        if peer is not None:
            if work:
                casts.append((peer, service, len(work)))
            cleaning.append(service)
        else:
            lost.extend(work)
            unavailable.append(service)
    # Casts first: a peer too old for do_cleanup (ServiceTooOld) stops before anything
    # was marked failed.
    for peer, service, n in casts:
        LOG.info('Cleanup: %s redoes %d work records of %s', peer.host, n, service.host)
        volume_api.do_cleanup(ctx, peer.host, service.id, resource_type=resource_type,
                              resource_id=resource_id)
    for worker in lost:
        fail_work(ctx, worker)
    return cleaning, unavailable


# -- on the live volume service ------------------------------------------------------------------

def take_over(manager, ctx, service_id, resource_type=None, resource_id=None):
    """Claim and redo the work a down peer left (the volume manager's ``do_cleanup``).

    ``manager`` is the live VolumeManager: it must be the service itself or
    in the same cluster. Each record is claimed (``Worker.claim``: one
    winner however many cleaners run) and its operation redone the way the
    service would redo its own after a restart; records whose resource moved
    on are dropped. Returns the ids of the resources being redone.
    """
    found = services_db.service_get_all(ctx, service_id=service_id)
    mine = manager.service
    if not found:
        LOG.warning('Cleanup: service %s no longer exists', service_id)
        return []
    dead = found[0]
    if dead.id != mine.id and not (dead.cluster_name and dead.cluster_name == mine.cluster_name):
        LOG.warning('Cleanup: %s is neither %s nor in its cluster; not taking its work over',
                    mine.host, dead.host)
        return []
    return _claim_and_redo(manager, ctx, services_db.workers_of_service(
        ctx, dead, resource_type, resource_id), dead.host)


def _claim_and_redo(manager, ctx, rows, left_by):
    """Claim each work record (one conditional update: one winner) and redo the won ones
    on ``manager``'s threads; drop records whose resource moved on."""
    mine = manager.service
    redo = []
    for row in rows:
        worker = objects.Worker.from_db(ctx, row)
        obj = manager._load(ctx, worker.resource_type, worker.resource_id)
        if obj is None or obj.status != worker.status:
            db.worker_destroy(ctx, worker.resource_type, worker.resource_id, worker.operation)
            continue
        if worker.claim(mine.id):
            redo.append((worker, obj))
    for worker, obj in redo:
        LOG.info('Cleanup: %s redoes %s of %s %s left by %s', mine.host, worker.operation,
                 worker.resource_type, obj.id, left_by)
        threading.Thread(target=manager._redo, args=(ctx, worker, obj), daemon=True,
                         name='cleanup-%s' % obj.id).start()
    return [obj.id for _w, obj in redo]


def take_over_dead_peers(manager, ctx):
    """Claim and redo the work of the down members of ``manager``'s cluster.

    Run periodically by every member of a cluster (``VolumeManager.
    take_over_dead_peers``). A member is down when it has not heartbeated for
    longer than ``service_down_time``; each of its records is claimed with one
    conditional update (:func:`take_over`), so two live members never both
    redo one. Its volumes' exports are restored here once per outage (later
    operations reach them through the cluster's queue). Returns the ids of the
    resources being redone.
    """
    mine = manager.service
    if not mine.cluster_name:
        return []
    now = utcnow()
    handled = manager.peers_taken_over   # ids of down members whose exports moved here
    members = services_db.service_get_all(ctx, cluster_name=mine.cluster_name,
                                          binary=mine.binary)
    if any(m.id == mine.id and m.frozen for m in members):
        return []   # frozen now (the row, not what this service read at start)
    redone = []
    for peer in members:
        if peer.id == mine.id:
            continue
        if svc.is_up(peer, now):
            handled.discard(peer.id)
            continue
        if services_db.workers_of_service(ctx, peer, until=now):
            LOG.info('Takeover: %s is down; %s claims its work', peer.host, mine.host)
            redone.extend(take_over(manager, ctx, peer.id))
        if peer.id not in handled:
            handled.add(peer.id)
            manager._ensure_exports(ctx, backend=peer.host)
            # Casts the member took from the cluster's queue and died before claiming
            # (on volumes any member hosts): redone here; if one is still queued, the
            # second run finds the work done and skips it.
            unclaimed = services_db.unclaimed_workers_of_cluster(
                ctx, mine.cluster_name, peer.last_seen_at)
            if unclaimed:
                redone.extend(_claim_and_redo(manager, ctx, unclaimed, peer.host))
    return redone
