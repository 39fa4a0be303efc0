"""Database queries of the operations API: services, clusters, work of a service.

Clusters have no table: a cluster is the set of services sharing a
``cluster_name`` (and binary), and its flags are theirs.
"""

import sqlalchemy as sa
from sqlalchemy import select, update

from blockstore.db.api import _reader, _writer
from blockstore.db import models
from blockstore.db.models import utcnow


def _host_match(column, host):
    """``host`` itself, or any backend or pool of it (``host@backend``, ``host#pool``)."""
    return sa.or_(column == host, column.like(_escape(host) + '@%', escape='\\'),
                  column.like(_escape(host) + '#%', escape='\\'))


def _escape(text):
    return text.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


def service_get_all(context, host=None, binary=None, cluster_name=None, service_id=None,
                    disabled=None, topic=None, host_prefix=False):
    """Services matching every given filter, by id.

    ``host_prefix``: ``host`` also matches the backends of that host, as
    Cinder's host filters do (``node`` matches ``node@lvm``).
    """
    s = models.Service
    q = select(s)
    if host is not None:
        q = q.where(_host_match(s.host, host) if host_prefix else s.host == host)
    if binary is not None:
        q = q.where(s.binary == binary)
    if cluster_name is not None:
        q = q.where(s.cluster_name == cluster_name)
    if service_id is not None:
        q = q.where(s.id == service_id)
    if disabled is not None:
        q = q.where(s.disabled.is_(bool(disabled)))
    if topic is not None:
        q = q.where(s.topic == topic)
    with _reader(context) as session:
        return list(session.execute(q.order_by(s.id)).scalars())


def service_set_flags(context, service_ids, values):
    """Set admin flags (disabled, disabled_reason, frozen) of services; rows changed."""
    allowed = {'disabled', 'disabled_reason', 'frozen'}
    bad = set(values) - allowed
    if bad:
        raise AssertionError('not admin flags: %s' % sorted(bad))
    if not service_ids:
        return 0
    values = dict(values, updated_at=utcnow())
    with _writer(context) as session:
        return session.execute(update(models.Service).where(
            models.Service.id.in_(list(service_ids))).values(**values)).rowcount


def clustered_services(context, binary=None, name=None):
    """Services that belong to a cluster, ordered by cluster, binary and id."""
    s = models.Service
    q = select(s).where(s.cluster_name.is_not(None))
    if binary is not None:
        q = q.where(s.binary == binary)
    if name is not None:
        q = q.where(s.cluster_name == name)
    with _reader(context) as session:
        return list(session.execute(q.order_by(s.cluster_name, s.binary, s.id)).scalars())


def volumes_follow_cluster(context, host, cluster, live_clusters):
    """Make the volumes on backend ``host`` record its cluster (``NAME@backend``, or None).

    Volumes that record none or a cluster in ``live_clusters`` no more (the
    service joined a cluster, left one, or its cluster was renamed) get
    ``cluster#pool`` (None without ``cluster``); those of another cluster that
    still has services stay with it. One conditional update per volume (its
    cluster_name unchanged meanwhile). Returns how many changed.
    """
    v = models.Volume
    changed = 0
    with _writer(context) as session:
        rows = session.execute(select(v.id, v.host, v.cluster_name).where(
            v.deleted.is_(False), _host_match(v.host, host))).all()
        for vid, vhost, current in rows:
            now_in = current.partition('#')[0] if current else None
            if now_in == cluster or (now_in is not None and now_in in live_clusters):
                continue
            pool = vhost.partition('#')[2]
            wanted = ('%s#%s' % (cluster, pool) if pool else cluster) if cluster else None
            same = v.cluster_name.is_(None) if current is None else v.cluster_name == current
            changed += session.execute(update(v).where(v.id == vid, same).values(
                cluster_name=wanted)).rowcount
    return changed


# -- work of a service ------------------------------------------------------------------------

def _work_queries(w, mine):
    """{resource type: query of the work records ``mine`` selects, joined to their volume}."""
    v, snap, att = models.Volume, models.Snapshot, models.VolumeAttachment
    return {
        'volume': select(w).join(v, sa.and_(w.resource_type == 'volume',
                                            w.resource_id == v.id)).where(mine),
        'snapshot': (select(w).join(snap, sa.and_(w.resource_type == 'snapshot',
                                                  w.resource_id == snap.id))
                     .join(v, snap.volume_id == v.id).where(mine)),
        'attachment': (select(w).join(att, sa.and_(w.resource_type == 'attachment',
                                                   w.resource_id == att.id))
                       .join(v, att.volume_id == v.id).where(mine)),
    }


def _select_work(context, queries, resource_type, resource_id, until):
    w = models.Worker
    found = []
    with _reader(context) as session:
        for rtype, q in queries.items():
            if resource_type is not None and rtype != resource_type:
                continue
            if resource_id is not None:
                q = q.where(w.resource_id == resource_id)
            if until is not None:
                q = q.where(w.created_at <= until)
            found.extend(session.execute(q.order_by(w.id)).scalars())
    return sorted(found, key=lambda r: r.id)


def workers_of_service(context, service, resource_type=None, resource_id=None, until=None):
    """Work records a service left: claimed by it, or not yet claimed on its backend.

    A record nobody claimed yet (the cast was still queued) belongs to the
    service of the backend its resource lives on (a snapshot's or an
    attachment's: its volume's).
    """
    w, v = models.Worker, models.Volume
    on_backend = _host_match(v.host, service.host)
    mine = sa.or_(w.service_id == service.id, sa.and_(w.service_id.is_(None), on_backend))
    return _select_work(context, _work_queries(w, mine), resource_type, resource_id, until)


def unclaimed_workers_of_cluster(context, cluster_name, until):
    """Work records nobody claimed, created by ``until``, on volumes of a cluster
    (``NAME@backend``): their casts went to the cluster's queue, and a member that
    died may have taken them with it."""
    w, v = models.Worker, models.Volume
    mine = sa.and_(w.service_id.is_(None), _host_match(v.cluster_name, cluster_name))
    return _select_work(context, _work_queries(w, mine), None, None, until)


def workers_of_resource(context, resource_id, resource_type=None):
    w = models.Worker
    q = select(w).where(w.resource_id == resource_id)
    if resource_type is not None:
        q = q.where(w.resource_type == resource_type)
    with _reader(context) as session:
        return list(session.execute(q).scalars())


# -- hosts ----------------------------------------------------------------------------------------

def volume_usage_by_project_on_host(context, host):
    """{project_id: (volumes, GiB, snapshots, snapshot GiB)} of live resources on a backend."""
    v, snap = models.Volume, models.Snapshot
    on_host = _host_match(v.host, host)
    found = {}
    with _reader(context) as session:
        for project, n, gb in session.execute(
                select(v.project_id, sa.func.count(), sa.func.coalesce(sa.func.sum(v.size), 0))
                .where(v.deleted.is_(False), on_host).group_by(v.project_id)):
            found[project] = [int(n), int(gb), 0, 0]
        for project, n, gb in session.execute(
                select(snap.project_id, sa.func.count(),
                       sa.func.coalesce(sa.func.sum(snap.volume_size), 0))
                .join(v, snap.volume_id == v.id)
                .where(snap.deleted.is_(False), on_host).group_by(snap.project_id)):
            found.setdefault(project, [0, 0, 0, 0])[2:] = [int(n), int(gb)]
    return {k: tuple(val) for k, val in found.items()}
