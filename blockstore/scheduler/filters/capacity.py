"""Only pools with room for the request, honouring reserved space and thin ratios."""

import math


class CapacityFilter:
    def passes(self, pool, spec):
        size = spec.get('size') or 0
        total = pool.total_capacity_gb
        free = pool.free_capacity_gb
        if total in ('infinite', 'unknown') or free in ('infinite', 'unknown'):
            return True
        if total is None or free is None:
            return False
        reserved = math.floor(total * pool.reserved_percentage / 100.0)
        if pool.thin and pool.max_over_subscription_ratio >= 1:
            # Thin: provisioned space may exceed real space by the ratio.
            limit = (total - reserved) * pool.max_over_subscription_ratio
            if pool.provisioned_capacity_gb + size > limit:
                return False
            return free - reserved > 0
        return free - reserved >= size
