"""Services, clusters, availability zones, hosts and pools, as Cinder's API shows them.

A service is up while its heartbeats (``last_seen_at``) are younger than
``service_down_time``. Clusters are derived from the services sharing a
``cluster_name``: a cluster is up when any of its services is, disabled when
all of them are; enabling or disabling a cluster does so to its services,
which is what the scheduler looks at.
"""

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import timeutils

from blockstore.common import exception
from blockstore.common import utils
from blockstore.db import services as services_db

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

VOLUME_BINARY = 'blockstore-volume'
SCHEDULER_BINARY = 'blockstore-scheduler'
BACKUP_BINARY = 'blockstore-backup'
# Cinder's binary names, which clients send: they mean ours.
BINARY_ALIASES = {'cinder-volume': VOLUME_BINARY, 'cinder-scheduler': SCHEDULER_BINARY,
                  'cinder-backup': BACKUP_BINARY}

# How long listing services waits for the scheduler's pools (backend_state, 3.49).
POOLS_TIMEOUT = 10


class ServiceUnavailable(exception.BlockstoreException):
    code = 503
    safe = True
    msg_fmt = '%(what)s is unavailable: %(reason)s'


def binary_name(binary):
    """Our name of a binary given by a client (``cinder-volume`` -> ``blockstore-volume``)."""
    if binary is None:
        return None
    return BINARY_ALIASES.get(binary, binary)


def is_up(service, now=None):
    seen = service.last_seen_at
    if seen is None:
        return False
    now = now or timeutils.utcnow()
    return abs((now - seen.replace(tzinfo=None)).total_seconds()) <= CONF.service_down_time


class ServiceInfo:
    """A service row with what the API shows of it computed."""

    def __init__(self, row, now=None, backend_state=None):
        for name in ('id', 'host', 'binary', 'topic', 'cluster_name', 'availability_zone',
                     'disabled', 'disabled_reason', 'frozen', 'replication_status',
                     'active_backend_id', 'created_at', 'last_seen_at'):
            setattr(self, name, getattr(row, name))
        self.is_up = is_up(row, now)
        self.state = 'up' if self.is_up else 'down'
        self.status = 'disabled' if row.disabled else 'enabled'
        # The heartbeat time, or the last admin change if later (Cinder's modified_at).
        times = [t for t in (row.last_seen_at, row.updated_at) if t is not None]
        self.updated_at = max(times) if times else None
        self.backend_state = backend_state
        self.is_volume = row.binary == VOLUME_BINARY


# -- scheduler's view of backends ---------------------------------------------------------------

def get_pools(ctx, scheduler_api, filters=None, timeout=None):
    """The scheduler's pools (RPC 1.1 ``get_pools``); 503 when it does not answer."""
    try:
        if timeout is not None:
            pools = scheduler_api.get_pools(ctx, filters=filters, timeout=timeout)
        else:
            pools = scheduler_api.get_pools(ctx, filters=filters)
    except messaging.MessagingTimeout:
        raise ServiceUnavailable(what='The scheduler',
                                 reason='it did not answer the pool listing in time')
    return list(pools or [])


def _backend_states(ctx, scheduler_api):
    """{backend: 'up'/'down'} from the scheduler's pools; {} if no scheduler can say."""
    if not any(is_up(s) for s in services_db.service_get_all(ctx, binary=SCHEDULER_BINARY)):
        return {}
    try:
        pools = get_pools(ctx, scheduler_api, timeout=POOLS_TIMEOUT)
    except (ServiceUnavailable, exception.ServiceTooOld) as e:
        LOG.warning('Listing services without backend_state: %s', e.msg)
        return {}
    states = {}
    for pool in pools:
        state = (pool.get('capabilities') or {}).get('backend_state', 'up')
        # A cluster's pool is listed once, under one member: the others serve it too.
        for backend in [utils.backend_of(pool.get('name'))] + list(pool.get('members') or ()):
            states[backend] = state
    return states


# -- services --------------------------------------------------------------------------------

def list_services(ctx, host=None, binary=None, scheduler_api=None):
    """ServiceInfos; with a ``scheduler_api``, volume services carry ``backend_state``.

    ``host`` matches as Cinder's does: ``node`` also matches ``node@backend``.
    """
    rows = services_db.service_get_all(ctx, host=host, binary=binary_name(binary),
                                       host_prefix=True)
    states = _backend_states(ctx, scheduler_api) if scheduler_api is not None else {}
    now = timeutils.utcnow()
    return [ServiceInfo(r, now, states.get(r.host)) for r in rows]


def _one_service(ctx, host, binary):
    rows = services_db.service_get_all(ctx, host=host, binary=binary_name(binary))
    if not rows:
        raise exception.ServiceNotFound(service_id='%s (%s)' % (host, binary))
    return rows[0]


def set_disabled(ctx, host, binary, disabled, reason=None, set_reason=False):
    """Enable or disable scheduling to one service (by host and binary)."""
    row = _one_service(ctx, host, binary)
    values = {'disabled': disabled}
    if not disabled:
        values['disabled_reason'] = None
    elif set_reason:
        values['disabled_reason'] = reason
    services_db.service_set_flags(ctx, [row.id], values)


def _replication_services(ctx, host, cluster_name):
    """Volume services a freeze/thaw/failover acts on: of a host, or of a cluster."""
    rows = services_db.service_get_all(ctx, host=host, cluster_name=cluster_name,
                                       binary=VOLUME_BINARY, host_prefix=True)
    if not rows:
        if host:
            reason = 'No service found with host=%s' % host
        else:
            reason = 'No service found with cluster=%s' % cluster_name
        raise exception.InvalidInput(reason=reason)
    # A host in a cluster acts for its whole cluster, as in Cinder.
    clusters = {r.cluster_name for r in rows if r.cluster_name}
    if host and clusters:
        if len(clusters) > 1:
            raise exception.InvalidInput(reason='Services from different clusters found.')
        rows = services_db.service_get_all(ctx, cluster_name=clusters.pop(),
                                           binary=VOLUME_BINARY)
    return rows


def set_frozen(ctx, host, cluster_name, frozen):
    """Freeze (no new management operations scheduled) or thaw a backend or cluster."""
    rows = _replication_services(ctx, host, cluster_name)
    services_db.service_set_flags(ctx, [r.id for r in rows], {'frozen': frozen})
    return rows


def failover(ctx, host, cluster_name, backend_id=None):
    """Replication failover: no backend has replication configured yet, so always 400."""
    rows = _replication_services(ctx, host, cluster_name)
    statuses = sorted({r.replication_status for r in rows})
    raise exception.InvalidInput(
        reason='Host replication_status must be enabled to failover: replication is not '
               'configured on this backend (replication_status: %s).' % ', '.join(statuses))


# -- clusters -----------------------------------------------------------------------------------

class ClusterInfo:
    """A cluster (name, binary) summarised from its services."""

    def __init__(self, name, binary, rows, now):
        self.name = name
        self.binary = binary
        ups = [is_up(r, now) for r in rows]
        self.is_up = any(ups)
        self.num_hosts = len(rows)
        self.num_down_hosts = ups.count(False)
        self.disabled = all(r.disabled for r in rows)
        reasons = [r.disabled_reason for r in rows if r.disabled_reason]
        self.disabled_reason = reasons[0] if self.disabled and reasons else None
        beats = [r.last_seen_at for r in rows if r.last_seen_at is not None]
        self.last_heartbeat = max(beats) if beats else None
        self.created_at = min(r.created_at for r in rows)
        updates = [r.updated_at for r in rows if r.updated_at is not None]
        self.updated_at = max(updates) if updates else None
        self.replication_status = rows[0].replication_status
        self.frozen = any(r.frozen for r in rows)
        self.active_backend_id = rows[0].active_backend_id
        self.service_ids = [r.id for r in rows]


def _group(rows, now):
    groups = {}
    for r in rows:
        groups.setdefault((r.cluster_name, r.binary), []).append(r)
    return [ClusterInfo(name, binary, members, now)
            for (name, binary), members in groups.items()]


# Filters of the cluster listing and how a ClusterInfo attribute is compared.
CLUSTER_FILTERS = ('name', 'binary', 'is_up', 'disabled', 'num_hosts', 'num_down_hosts')
CLUSTER_REPLICATION_FILTERS = ('replication_status', 'frozen', 'active_backend_id')


def list_clusters(ctx, filters=None):
    """ClusterInfos matching ``filters`` (already converted: bools and ints)."""
    filters = dict(filters or {})
    binary = binary_name(filters.pop('binary', None))
    name = filters.pop('name', None)
    clusters = _group(services_db.clustered_services(ctx, binary=binary, name=name),
                      timeutils.utcnow())
    return [c for c in clusters if all(getattr(c, k) == v for k, v in filters.items())]


def get_cluster(ctx, name, binary=VOLUME_BINARY):
    found = _group(services_db.clustered_services(ctx, binary=binary_name(binary), name=name),
                   timeutils.utcnow())
    if not found:
        raise exception.ClusterNotFound(id=name)
    return found[0]


def set_cluster_disabled(ctx, name, binary, disabled, reason=None):
    cluster = get_cluster(ctx, name, binary)
    services_db.service_set_flags(ctx, cluster.service_ids,
                                  {'disabled': disabled, 'disabled_reason': reason})
    return get_cluster(ctx, name, binary)


# -- availability zones and hosts ---------------------------------------------------------------

def availability_zones(ctx):
    """[(zone, available)]: a zone is available while one of its volume services is
    enabled and up."""
    zones = {}
    now = timeutils.utcnow()
    for r in services_db.service_get_all(ctx, binary=VOLUME_BINARY):
        usable = not r.disabled and is_up(r, now)
        zones[r.availability_zone] = zones.get(r.availability_zone, False) or usable
    return sorted(zones.items())


def list_hosts(ctx, zone=None):
    now = timeutils.utcnow()
    rows = services_db.service_get_all(ctx)
    if zone:
        rows = [r for r in rows if r.availability_zone == zone]
    return [ServiceInfo(r, now) for r in rows]


def host_usage(ctx, host):
    """(total, {project: (volumes, GiB, snapshots, snapshot GiB)}) of one volume backend."""
    rows = services_db.service_get_all(ctx, host=host, binary=VOLUME_BINARY)
    if not rows:
        raise exception.HostNotFound(host=host)
    per_project = services_db.volume_usage_by_project_on_host(ctx, rows[0].host)
    total = tuple(sum(v[i] for v in per_project.values()) for i in range(4))
    return total, per_project
