"""Scheduler manager: picks a pool for each new volume and hands it over.

Placement is under one lock per scheduler process: filter, weigh, pick and
consume capacity happen together, so concurrent requests see each other's
choices before the next capability report arrives.

A restart delays placement, it does not fail it. A scheduler knows the pools
only from the capability reports it has received since it started; a volume
service reports every ``periodic_interval`` and when it starts. A create
that finds no pool to consider, or that a young scheduler cannot place before
every up volume service reported, is *parked*: it is placed when a report
arrives, or fails once its wait is over (see ``_wait_until``). The RPC
thread that brought it returns at once, so waiting creates never hold up the
reports they wait for.
"""

import collections
import datetime
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import context as bs_context
from blockstore.common import exception
from blockstore.common import messages
from blockstore.common import service
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states
from blockstore.scheduler import filters as filter_mod
from blockstore.scheduler import host_state
from blockstore.scheduler import pool_filters
from blockstore.scheduler import weighers as weigher_mod
from blockstore.volume import rpcapi as volume_rpcapi

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


# A volume service seen within this many service-down times may come back (it
# restarts, or a broker restart held up its heartbeats): creates that find no pool
# wait for it as long (see SchedulerManager._wait_until).
RECENTLY_SEEN = 5


class SchedulerManager(service.Manager):
    RPC_API_VERSION = '1.2'

    def __init__(self, host, service_name='blockstore-scheduler'):
        super().__init__(host, service_name)
        self.host_manager = host_state.HostManager()
        self.volume_rpcapi = volume_rpcapi.VolumeAPI()
        self.filters = [filter_mod.FILTERS[name]() for name in CONF.scheduler_default_filters]
        self.weighers = [weigher_mod.WEIGHERS[name]() for name in CONF.scheduler_default_weighers]
        self._lock = threading.Lock()
        self._reports_seen = threading.Event()
        self._started = time.monotonic()
        self._reporters = set()      # backends that reported since this scheduler started
        # Creates waiting for a capability report: (context, volume, request_spec, deadline).
        self._parked = collections.deque()
        self._parked_changed = threading.Condition()
        self._waiter = None
        self._placing = set()        # ids of the volumes a thread is placing now
        self._report_count = 0

    def init_host_with_rpc(self, ctx):
        # A fresh scheduler knows nothing: ask every volume service to report now.
        self.volume_rpcapi.publish_service_capabilities(ctx)
        threading.Thread(target=self._sweep_unplaced, args=(ctx,), daemon=True,
                         name='scheduler-sweep').start()

    # -- RPC endpoints ------------------------------------------------------

    def update_service_capabilities(self, context, service_name=None, host=None,
                                    capabilities=None, cluster_name=None, timestamp=None):
        self.host_manager.update_service_capabilities(host, capabilities or {}, cluster_name,
                                                      timestamp)
        with self._parked_changed:
            self._reporters.add(host)
            self._report_count += 1
            self._reports_seen.set()
            self._parked_changed.notify_all()

    def create_volume(self, context, volume, request_spec, deadline=None):
        """Place ``volume`` and hand it to its volume service (or park it, or fail it).

        ``deadline``: the monotonic time until which a parked create may wait
        (set when it was first parked). One thread at a time handles a volume
        here: a duplicate (a redelivered cast, a sweep) meanwhile is dropped.
        """
        with self._parked_changed:
            if volume.id in self._placing:
                LOG.info('Volume %s is being placed already', volume.id)
                return
            self._placing.add(volume.id)
        try:
            self._create_volume(context, volume, request_spec, deadline)
        finally:
            with self._parked_changed:
                self._placing.discard(volume.id)

    def _create_volume(self, context, volume, request_spec, deadline):
        while True:
            with self._parked_changed:
                reports = self._report_count
            try:
                host = self._place(context, request_spec)
                break
            except exception.NoValidBackend as e:
                until = self._wait_until(context, request_spec, deadline)
                if until is not None:
                    self._park(context, volume, request_spec, until, e.msg, deadline is None)
                    return
                with self._parked_changed:
                    if self._report_count != reports:
                        # A report came in since this attempt began (a young scheduler's
                        # first ones arrive as its first creates are placed): use it.
                        continue
                LOG.warning('Volume %s: %s', volume.id, e.msg)
                self._fail(context, volume, e.msg, request_spec)
                return
            except Exception:
                LOG.exception('Scheduling volume %s failed', volume.id)
                self._fail(context, volume, 'Scheduling failed', request_spec)
                return
        # Record the placement (not a status change) only if nobody placed it yet:
        # a create may arrive twice (redelivery, or the startup sweep below).
        # A clustered backend: the volume also records its cluster (its queue).
        cluster = self.host_manager.cluster_of(host)
        placed = db.conditional_update(
            context, 'volume', volume.id,
            {'host': host, 'cluster_name': cluster, 'scheduled_at': utcnow()},
            expected={'status': states.CREATING, 'host': None})
        if not placed:
            LOG.info('Volume %s was placed or deleted meanwhile; not handing it over',
                     volume.id)
            return
        volume.host = host
        volume.cluster_name = cluster
        volume.obj_reset_changes(['host', 'cluster_name'])
        self.volume_rpcapi.create_volume(context, volume, request_spec)

    def periodic_tasks(self):
        return [(self._sweep_lost_creates, CONF.periodic_interval)]

    def _sweep_lost_creates(self):
        """Place creates an API inserted but never handed over (it died before its cast).

        Such a create has its work record and no host, and no service owns it.
        A live API casts within milliseconds of the insert, so a create older
        than ``service_down_time`` still unplaced was lost (or its scheduler
        died holding it); one parked here is waiting already.
        """
        self._sweep_unplaced(bs_context.get_admin_context(), wait=False,
                             older_than=CONF.service_down_time)

    def _sweep_unplaced(self, ctx, wait=True, older_than=None):
        """Place creates whose scheduling was lost (a scheduler died holding them).

        At start (``wait``): after the first report, or the first two report
        intervals (creates that still find no pool then are parked like any
        other). ``older_than``: only volumes created that many seconds ago.
        """
        if wait:
            self._reports_seen.wait(CONF.periodic_interval * 2)
        with self._parked_changed:
            parked = {volume.id for _ctx, volume, _spec, _deadline in self._parked}
        cutoff = None
        if older_than is not None:
            cutoff = utcnow() - datetime.timedelta(seconds=older_than)
        for worker in objects.WorkerList.get_all(ctx, resource_type='volume',
                                                 operation='create', service_id=None):
            if worker.resource_id in parked:
                continue
            try:
                volume = objects.Volume.get_by_id(ctx, worker.resource_id)
            except exception.VolumeNotFound:
                continue
            if cutoff is not None and volume.created_at.replace(tzinfo=None) > cutoff:
                continue
            if volume.status == states.CREATING and not volume.host:
                LOG.info('Scheduling volume %s whose placement was lost', volume.id)
                self.create_volume(ctx, volume, worker.args.get('request_spec') or {})

    # -- waiting for capability reports ------------------------------------

    def _wait_until(self, context, spec, deadline=None):
        """Until when a create that could not be placed waits for reports; None: fail now.

        * A scheduler younger than two report intervals has not heard every
          volume service yet: its creates wait until then, or (when some pool
          exists but did not fit) until every up volume service has reported.
        * A create finding no pool at all waits up to ``RECENTLY_SEEN``
          service-down times when a volume service that could take it
          (enabled, not frozen, of the origin's backend for a clone or a
          volume from a snapshot) was seen within as long: it may be
          restarting, or its heartbeats held up (a broker restart stalls
          them), and reports as soon as it is back.
        A parked create keeps the deadline it was first given.
        """
        now = time.monotonic()
        if deadline is not None:
            return deadline if now < deadline else None
        backend = utils.backend_of(spec['source_host']) if spec.get('source_host') else None
        services = [svc for svc in objects.ServiceList.get_all(context,
                                                               binary='blockstore-volume')
                    if not svc.disabled and not svc.frozen
                    and (backend is None or svc.host == backend)]
        young_until = self._started + 2 * CONF.periodic_interval
        with self._parked_changed:
            unreported = [svc for svc in services if svc.host not in self._reporters
                          and svc.is_up(CONF.service_down_time)]
        no_pool = not self._candidates(context, spec)
        until = []
        if now < young_until and (unreported or no_pool):
            until.append(young_until)
        if no_pool and any(svc.is_up(RECENTLY_SEEN * CONF.service_down_time)
                           for svc in services):
            until.append(now + RECENTLY_SEEN * CONF.service_down_time)
        return max(until) if until else None

    def _park(self, context, volume, spec, deadline, reason, first=True):
        if first:
            LOG.info('Volume %s waits up to %.0f s for capability reports: %s', volume.id,
                     max(0, deadline - time.monotonic()), reason)
        with self._parked_changed:
            self._parked.append((context, volume, spec, deadline))
            if self._waiter is None or not self._waiter.is_alive():
                self._waiter = threading.Thread(target=self._place_parked, daemon=True,
                                                name='scheduler-placement-wait')
                self._waiter.start()
            self._parked_changed.notify_all()

    def _place_parked(self):
        """Retry parked creates after each report (and each second); ends when none is left."""
        while True:
            with self._parked_changed:
                if not self._parked:
                    self._waiter = None
                    return
                self._parked_changed.wait(1)
                batch = list(self._parked)
                self._parked.clear()
            for ctx, volume, spec, deadline in batch:
                try:
                    self.create_volume(ctx, volume, spec, deadline=deadline)
                except Exception:
                    LOG.exception('Placing parked volume %s failed', volume.id)

    # -- placement ----------------------------------------------------------

    def _candidates(self, context, spec):
        pools = self.host_manager.get_pools(context)
        source = spec.get('source_host')
        if source:
            pools = [p for p in pools if p.serves(utils.backend_of(source))]
        return pools

    def _place(self, context, spec):
        with self._lock:
            pools = self._candidates(context, spec)
            if not pools:
                raise exception.NoValidBackend(reason='No volume service is up and reporting.')
            if spec.get('image_id'):
                # Only backends whose driver declares ImageOps can copy an image in.
                pools = [p for p in pools
                         if 'ImageOps' in (p.capabilities.get('declared_interfaces') or ())]
                if not pools:
                    raise exception.NoValidBackend(
                        reason='No backend can copy images to volumes (ImageOps).')
            for f in self.filters:
                pools = [p for p in pools if f.passes(p, spec)]
                if not pools:
                    raise exception.NoValidBackend(
                        reason='No pool passed %s for a %sGB volume.' % (
                            type(f).__name__, spec.get('size')))
            best = weigher_mod.order(pools, spec, self.weighers)[0]
            best.consume(spec.get('size') or 0)
            return best.host

    def _fail(self, context, volume, reason, request_spec=None):
        states.transition(context, 'volume', volume.id, 'create_failed')
        backup_id = (request_spec or {}).get('backup_id')
        if backup_id:
            # A volume from a backup (3.47, restore to a new volume) claimed the backup
            # ('restore'); nothing will restore into a volume that was never placed.
            states.transition(context, 'backup', backup_id, 'restore_done')
        db.worker_destroy(context, 'volume', volume.id)
        messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                        volume.id, 'SCHEDULE_ALLOCATE_VOLUME', reason)

    def get_pools(self, context, filters=None):
        """The pools of up, enabled backends that match ``filters`` (RPC 1.1)."""
        pools = pool_filters.apply(self.host_manager.get_pools(context), filters)
        return [p.as_dict() for p in pools]

    # -- types, qos, actions, transfers
    def find_backend_pool(self, context, host=None, request_spec=None):
        """The pool of ``host`` ('host@backend[#pool]') passing every filter, or None (1.2)."""
        spec = dict(request_spec or {}, source_host=host)
        wanted_pool = (host or '').partition('#')[2] or None
        if not self._reports_seen.is_set():
            # Just started: give volume services a moment to answer our request.
            self._reports_seen.wait(5)
        with self._lock:
            pools = [p for p in self._candidates(context, spec)
                     if wanted_pool is None or p.pool_name == wanted_pool]
            for f in self.filters:
                pools = [p for p in pools if f.passes(p, spec)]
            return pools[0].host if pools else None
