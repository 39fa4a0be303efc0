"""Backend filters: each says whether one pool can take a request.

A filter is a class with ``passes(pool, spec) -> bool``; ``FILTERS`` maps the
names used in ``scheduler_default_filters`` to them.
"""

from blockstore.scheduler.filters.availability_zone import AvailabilityZoneFilter
from blockstore.scheduler.filters.capabilities import CapabilitiesFilter
from blockstore.scheduler.filters.capacity import CapacityFilter

FILTERS = {cls.__name__: cls for cls in (AvailabilityZoneFilter, CapacityFilter,
                                         CapabilitiesFilter)}
