"""Filters of the pool listing (GET /scheduler-stats/get_pools, 3.28 and 3.35), as Cinder's.

``name`` is the pool's full name (``host@backend#pool``); ``volume_type`` is the
type (a dict with its ``extra_specs``, resolved by the API) whose extra specs
a pool must satisfy; any other key must equal the pool capability of that
name (booleans and numbers compared by value).
"""

from blockstore.scheduler.filters import capabilities


def _same(capability, wanted):
    if capability is None:
        return False
    if isinstance(capability, bool):
        return str(wanted).strip().lower() == str(capability).lower()
    if isinstance(capability, (int, float)):
        try:
            return float(wanted) == float(capability)
        except (TypeError, ValueError):
            return False
    return str(capability) == str(wanted)


def _passes(pool, name, vtype, others):
    if name is not None and pool.host != name:
        return False
    if vtype is not None and not capabilities.CapabilitiesFilter().passes(
            pool, {'volume_type': vtype}):
        return False
    return all(_same(pool.capabilities.get(k), v) for k, v in others.items())


def apply(pools, filters=None):
    """The PoolStates of ``pools`` that match ``filters``."""
    filters = dict(filters or {})
    name = filters.pop('name', None)
    vtype = filters.pop('volume_type', None)
    return [p for p in pools if _passes(p, name, vtype, filters)]
