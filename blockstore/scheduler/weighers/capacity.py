"""Prefer pools with the most free (virtual, for thin) capacity."""

from oslo_config import cfg

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF


class CapacityWeigher:
    def multiplier(self):
        return CONF.capacity_weight_multiplier

    def weigh(self, pool, spec):
        total, free = pool.total_capacity_gb, pool.free_capacity_gb
        if free == 'infinite' or total == 'infinite':
            return float('inf')
        if free is None or free == 'unknown' or total is None:
            return 0.0
        if pool.thin:
            return (total * pool.max_over_subscription_ratio
                    - pool.provisioned_capacity_gb)
        return free - total * pool.reserved_percentage / 100.0
