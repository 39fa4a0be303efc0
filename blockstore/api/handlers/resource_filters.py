"""Resource filters (3.33): the list filters users may use, per resource."""

from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api import query_filters
from blockstore.api.views import pools as views


@mv.version_range(mv.RESOURCE_FILTERS_API)
def index(req):
    """GET /resource_filters[?resource=volume]"""
    common.authorize(req, 'volume:resource_filters')
    return common.json_response(views.resource_filters(
        query_filters.for_resource(req.GET.get('resource') or None)))
