"""User messages (3.3): why an asynchronous operation failed. Project-scoped."""

from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api import query_filters
from blockstore.api.views import messages as views
from blockstore.ops import messages as ops



@mv.version_range(mv.MESSAGES)
def index(req):
    """GET /messages (filters, sort and pagination since 3.5)"""
    ctx = common.authorize(req, 'message:get_all')
    version = common.version(req)
    kwargs = {}
    filters = {}
    if version >= mv.MESSAGES_PAGINATION:
        filters = common.query_params(req)
        marker, limit, offset = common.pagination(filters)
        sort_keys, sort_dirs = common.sort_params(filters)
        kwargs = dict(marker=marker, limit=limit, offset=offset, sort_keys=sort_keys,
                      sort_dirs=sort_dirs)
        if version >= mv.RESOURCE_FILTER:
            query_filters.reject_invalid(ctx, filters, 'message', version >= mv.LIKE_FILTER)
        filters.pop('all_tenants', None)
        # resource_type and event_id are translated to what is recorded: no ~ form.
        common.like_filters(req, filters, ('resource_uuid', 'request_id', 'message_level'))
    messages = ops.get_all(ctx, filters=filters, **kwargs)
    return common.json_response(views.index(req, messages, kwargs.get('limit')))


@mv.version_range(mv.MESSAGES)
def show(req):
    """GET /messages/{message_id}"""
    message = ops.get(common.context(req), req.urlvars['message_id'])
    common.authorize(req, 'message:get', message)
    return common.json_response(views.show(req, message))


@mv.version_range(mv.MESSAGES)
def delete(req):
    """DELETE /messages/{message_id} -> 204"""
    ctx = common.context(req)
    common.authorize(req, 'message:delete', ops.get(ctx, req.urlvars['message_id']))
    ops.delete(ctx, req.urlvars['message_id'])
    return common.empty_response(204)
