"""Pools (scheduler-stats/get_pools): what the scheduler knows of each backend pool."""

from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api import query_filters
from blockstore.api.views import pools as views
from blockstore.common import exception
from blockstore.volume import volume_types

POLICY = 'scheduler_extension:scheduler_stats:get_pools'


def get_pools(req):
    """GET /scheduler-stats/get_pools[?detail=true][&name=...&volume_type=...] (admin)"""
    ctx = common.require_admin(req, POLICY)
    version = common.version(req)
    filters = common.query_params(req)
    detail = common.parse_bool(filters.pop('detail', 'false'), 'detail')
    if version >= mv.RESOURCE_FILTER:
        query_filters.reject_invalid(ctx, filters, 'pool', version >= mv.LIKE_FILTER)
    elif version < mv.POOL_FILTER:
        filters.clear()
    if version < mv.POOL_TYPE_FILTER:
        filters.pop('volume_type', None)
    if 'volume_type' in filters:
        try:
            vtype = volume_types.get_by_name_or_id(ctx, filters['volume_type'])
        except exception.VolumeTypeNotFound:
            raise exception.VolumeTypeNotFound(volume_type_id=filters['volume_type'])
        filters['volume_type'] = {'id': vtype.id, 'name': vtype.name,
                                  'extra_specs': dict(vtype.extra_specs)}
    pools = common.ops_api(req).get_pools(ctx, filters or None)
    return common.json_response(views.pools(pools, detail))
