"""What the scheduler knows of each backend pool, from capability reports.

Volume services fan out their ``get_volume_stats`` every periodic interval;
``HostManager`` keeps the latest report per backend and turns it into one
``PoolState`` per pool. Pools are offered to filters only while their service
is up and enabled in the services table.

The services of a cluster (``cluster_name`` ``NAME@backend``) serve one
backend: their reports make one entry per pool of the cluster, offered while
any member is up and enabled, under the host of the up member that reported
last (``PoolState.backend``; the volume records it as ``host`` and the
cluster as ``cluster_name``, and messages about it go to the cluster's queue).
"""

import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import utils
from blockstore import objects

import blockstore.common.conf  # noqa: F401,E402  (registers options)

objects.register_all()
CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class PoolState:
    """One pool as the filters see it.

    ``backend``: the ``host@backend`` whose report it comes from;
    ``cluster_name``: the cluster (``NAME@backend``) that serves it, if any;
    ``members``: every backend of that cluster that reported (just ``backend``
    without a cluster).
    """

    def __init__(self, backend, pool, backend_caps, availability_zone, cluster_name=None,
                 members=()):
        self.backend = backend
        self.members = frozenset(members) | {backend}
        self.pool_name = pool.get('pool_name') or backend_caps.get('volume_backend_name')
        caps = {k: v for k, v in backend_caps.items() if k != 'pools'}
        caps.update(pool)
        self.capabilities = caps
        self.availability_zone = availability_zone
        self.cluster_name = cluster_name
        self.total_capacity_gb = _num(pool.get('total_capacity_gb'))
        self.free_capacity_gb = _num(pool.get('free_capacity_gb'))
        self.allocated_capacity_gb = _num(pool.get('allocated_capacity_gb'), 0)
        self.provisioned_capacity_gb = _num(pool.get('provisioned_capacity_gb'),
                                            self.allocated_capacity_gb)
        self.reserved_percentage = _num(pool.get('reserved_percentage'), 0)
        self.max_over_subscription_ratio = _num(pool.get('max_over_subscription_ratio'), 1.0)
        self.thin = bool(pool.get('thin_provisioning_support'))
        self.thick = bool(pool.get('thick_provisioning_support', not self.thin))

    @property
    def host(self):
        return '%s#%s' % (self.backend, self.pool_name)

    @property
    def cluster_host(self):
        """``NAME@backend#pool``: what a volume placed here records as its cluster_name."""
        return '%s#%s' % (self.cluster_name, self.pool_name) if self.cluster_name else None

    @property
    def key(self):
        """One entry per pool of a cluster (or of a backend outside clusters)."""
        return '%s#%s' % (self.cluster_name or self.backend, self.pool_name)

    def serves(self, backend):
        """Whether volumes on ``backend`` (``host@backend``, or a cluster's) live here."""
        return backend in self.members or (self.cluster_name is not None
                                            and backend == self.cluster_name)

    def consume(self, size):
        """Account for a volume just placed here, before the next report says so."""
        self.allocated_capacity_gb += size
        self.provisioned_capacity_gb += size
        if self.free_capacity_gb is not None and not self.thin:
            self.free_capacity_gb -= size

    def as_dict(self):
        """``name`` and ``capabilities`` as Cinder's get_pools; ``members``: every
        backend whose service serves this pool (a cluster's members)."""
        return {'name': self.host, 'members': sorted(self.members), 'capabilities': dict(
            self.capabilities, total_capacity_gb=self.total_capacity_gb,
            free_capacity_gb=self.free_capacity_gb,
            allocated_capacity_gb=self.allocated_capacity_gb,
            provisioned_capacity_gb=self.provisioned_capacity_gb)}


def _num(value, default=None):
    if value in (None, 'unknown', 'infinite'):
        return default if value is None else value
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class HostManager:
    def __init__(self):
        self._lock = threading.Lock()
        self._reports = {}  # backend -> (timestamp, capabilities, cluster_name)
        self._pools = {}    # PoolState.key -> PoolState (consumed between reports)

    @staticmethod
    def _entry(backend, cluster_name):
        return cluster_name or backend

    def update_service_capabilities(self, backend, capabilities, cluster_name=None,
                                    timestamp=None):
        with self._lock:
            self._reports[backend] = (timestamp or time.time(), capabilities, cluster_name)
            entry = self._entry(backend, cluster_name)
            for key in [k for k, p in self._pools.items()
                        if self._entry(p.backend, p.cluster_name) == entry]:
                del self._pools[key]

    def has_reports(self):
        return bool(self._reports)

    def _up_backends(self, ctx):
        """({backend: service} of the up, enabled ones, {cluster: member backends})."""
        up, clusters = {}, {}
        for svc in objects.ServiceList.get_all(ctx, binary='blockstore-volume'):
            if svc.cluster_name:
                clusters.setdefault(svc.cluster_name, set()).add(svc.host)
            if not svc.disabled and not svc.frozen and svc.is_up(CONF.service_down_time):
                up[svc.host] = svc
        return up, clusters

    def _latest_up_reports(self, up, clusters):
        """{entry: (backend, capabilities, cluster, members)}: per backend or cluster, the
        latest report of an up member; members: every service of the cluster (also those
        down, whose volumes it serves now)."""
        chosen, members = {}, {}
        for backend, (ts, caps, cluster) in self._reports.items():
            entry = self._entry(backend, cluster)
            members.setdefault(entry, set(clusters.get(cluster) or ())).add(backend)
            if backend in up and (entry not in chosen or ts > chosen[entry][0]):
                chosen[entry] = (ts, backend, caps, cluster)
        return {entry: (backend, caps, cluster, members[entry])
                for entry, (_ts, backend, caps, cluster) in chosen.items()}

    def get_pools(self, ctx):
        """Current PoolStates of every up, enabled backend (or cluster) that has reported."""
        up, clusters = self._up_backends(ctx)
        with self._lock:
            for backend, caps, cluster, members in self._latest_up_reports(
                    up, clusters).values():
                for pool in caps.get('pools') or [{}]:
                    state = PoolState(backend, pool, caps, up[backend].availability_zone,
                                      cluster, members)
                    known = self._pools.get(state.key)
                    if known is None or known.backend not in up:
                        # New, or its member went down: the live member's report stands in.
                        self._pools[state.key] = state
                    else:
                        known.members = state.members
            return [p for p in self._pools.values() if p.backend in up]

    def consume(self, host, size):
        with self._lock:
            for pool in self._pools.values():
                if pool.host == host:
                    pool.consume(size)
                    return

    def cluster_of(self, host):
        """The cluster_name (``NAME@backend#pool``) a volume placed on ``host`` records,
        or None when its backend is in no cluster."""
        backend, _sep, pool = host.partition('#')
        with self._lock:
            report = self._reports.get(backend)
        if report is None or not report[2]:
            return None
        return '%s#%s' % (report[2], pool) if pool else report[2]

    def forget(self, backend):
        with self._lock:
            self._reports.pop(utils.backend_of(backend), None)
