"""What the scheduler knows of each backend pool, from capability reports.

Volume services fan out their ``get_volume_stats`` every periodic interval;
``HostManager`` keeps the latest report per backend and turns it into one
``PoolState`` per pool. Pools are offered to filters only while their service
is up and enabled in the services table.
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
    def __init__(self, backend, pool, backend_caps, availability_zone, cluster_name=None):
        self.backend = backend
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

    def consume(self, size):
        """Account for a volume just placed here, before the next report says so."""
        self.allocated_capacity_gb += size
        self.provisioned_capacity_gb += size
        if self.free_capacity_gb is not None and not self.thin:
            self.free_capacity_gb -= size

    def as_dict(self):
        return {'name': self.host, 'capabilities': dict(
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
        self._pools = {}    # host#pool -> PoolState (consumed between reports)

    def update_service_capabilities(self, backend, capabilities, cluster_name=None,
                                    timestamp=None):
        with self._lock:
            self._reports[backend] = (timestamp or time.time(), capabilities, cluster_name)
            for key in [k for k, p in self._pools.items() if p.backend == backend]:
                del self._pools[key]

    def has_reports(self):
        return bool(self._reports)

    def _up_backends(self, ctx):
        up = {}
        for svc in objects.ServiceList.get_all(ctx, binary='blockstore-volume'):
            if not svc.disabled and not svc.frozen and svc.is_up(CONF.service_down_time):
                up[svc.host] = svc
        return up

    def get_pools(self, ctx):
        """Current PoolStates of every up, enabled backend that has reported."""
        up = self._up_backends(ctx)
        with self._lock:
            for backend, (_ts, caps, cluster) in self._reports.items():
                svc = up.get(backend)
                if svc is None:
                    continue
                for pool in caps.get('pools') or [{}]:
                    state = PoolState(backend, pool, caps, svc.availability_zone, cluster)
                    self._pools.setdefault(state.host, state)
            return [p for p in self._pools.values() if p.backend in up]

    def consume(self, host, size):
        with self._lock:
            pool = self._pools.get(host)
            if pool is not None:
                pool.consume(size)

    def forget(self, backend):
        with self._lock:
            self._reports.pop(utils.backend_of(backend), None)
