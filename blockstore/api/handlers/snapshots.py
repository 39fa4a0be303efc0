"""Snapshot handlers: parse, call the volume service layer, render."""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api.handlers import metadata as metadata_handlers
from blockstore.api.handlers import volume_actions
from blockstore.api import microversion as mv
from blockstore.api import query_filters
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.schemas import snapshots as schemas
from blockstore.api.views import fields as F
from blockstore.api.views import snapshots as views
from blockstore.common import exception
from blockstore.common import idempotency

# Query filters a non-admin may use (resource_filters: query_filters), availability_zone
# aside: snapshots have no column for it.
USER_FILTERS = query_filters.Allowed('snapshot', without=('availability_zone',))
FILTER_COLUMNS = {'name': 'display_name'}
SORT_COLUMNS = {'name': 'display_name'}
CONVERTERS = {'metadata': lambda req, value: common.metadata_param(value)}

SNAPSHOT_IN_USE_FLAG_MSG = (
    "Since microversion 3.66 the 'force' flag is invalid for this request. For backward "
    "compatibility, however, when the 'force' flag is passed with a value evaluating to "
    "True, it is silently ignored.")


def _snapshot(req, action=None):
    """The URL's snapshot (404 for another project's), after checking ``action`` on it."""
    snapshot = common.volume_api(req).get_snapshot(common.context(req),
                                                   req.urlvars['snapshot_id'])
    if action:
        common.authorize(req, action, snapshot)
    return snapshot


def _list(req, detail):
    ctx = common.authorize(req, 'volume:get_all_snapshots')
    api = common.volume_api(req)
    params, kwargs, with_count = common.list_args(req, SORT_COLUMNS)
    filters = common.list_filters(req, params, USER_FILTERS, FILTER_COLUMNS,
                                  converters=CONVERTERS)
    snapshots = api.get_all_snapshots(ctx, filters=filters, **kwargs)
    count = None
    if with_count:
        count = api.count_snapshots(ctx, filters=filters,
                                    all_tenants=kwargs['all_tenants'])[0]
    return common.json_response(views.index(req, snapshots, detail, kwargs['limit'], count))


def index(req):
    """GET /snapshots"""
    return _list(req, detail=False)


def detail(req):
    """GET /snapshots/detail"""
    return _list(req, detail=True)


def create(req):
    """POST /snapshots -> 202 with the new snapshot."""
    ctx = common.context(req)
    api = common.volume_api(req)
    body = common.validated_body(req, schemas.create)['snapshot']
    volume = api.get(ctx, body['volume_id'])
    common.authorize(req, 'volume:create_snapshot', volume)
    force_flag = body.get('force')
    force = pt.bool_value(force_flag)
    if common.version(req) >= mv.SNAPSHOT_IN_USE:
        if force_flag is not None and not force:
            raise exception.Invalid(SNAPSHOT_IN_USE_FLAG_MSG)
        force = True
    name = body['name'] if 'name' in body else body.get('display_name')
    description = (body['description'] if 'description' in body
                   else body.get('display_description'))
    snapshot = api.create_snapshot(ctx, volume, name=name, description=description,
                                   force=force, metadata=body.get('metadata') or {},
                                   idempotency=idempotency.request_of(req.headers, body))
    return common.json_response(views.show(req, snapshot, F.DETAIL), status=202)


def show(req):
    """GET /snapshots/{snapshot_id}"""
    return common.json_response(views.show(req, _snapshot(req, 'volume:get_snapshot')))


def update(req):
    """PUT /snapshots/{snapshot_id}: name and description."""
    ctx = common.context(req)
    api = common.volume_api(req)
    body = common.validated_body(req, schemas.update)['snapshot']
    snapshot = _snapshot(req, 'volume:update_snapshot')
    values = {}
    for api_key, column in (('display_name', 'display_name'), ('name', 'display_name'),
                            ('display_description', 'display_description'),
                            ('description', 'display_description')):
        if api_key in body:
            values[column] = body[api_key]
    if values:
        snapshot = api.update_snapshot(ctx, snapshot, values)
    return common.json_response(views.show(req, snapshot, F.DETAIL))


def delete(req):
    """DELETE /snapshots/{snapshot_id} -> 202."""
    snapshot = _snapshot(req, 'volume:delete_snapshot')
    common.volume_api(req).delete_snapshot(common.context(req), snapshot)
    return common.empty_response(202)


# -- metadata ----------------------------------------------------------------------

_metadata = metadata_handlers.handlers(
    '/snapshots/{snapshot_id}', 'Snapshot', _snapshot,
    rules={'get': 'volume:get_snapshot_metadata', 'create': 'volume:update_snapshot_metadata',
           'update': 'volume:update_snapshot_metadata',
           'delete': 'volume:delete_snapshot_metadata'},
    update=lambda req, snap, md, delete: common.volume_api(req).update_snapshot_metadata(
        common.context(req), snap, md, delete=delete),
    delete_key=lambda req, snap, key: common.volume_api(req).delete_snapshot_metadata(
        common.context(req), snap, key),
    schemas=schemas)
metadata_index = _metadata['metadata_index']
metadata_create = _metadata['metadata_create']
metadata_update_all = _metadata['metadata_update_all']
metadata_show = _metadata['metadata_show']
metadata_update = _metadata['metadata_update']
metadata_delete = _metadata['metadata_delete']


# -- actions -------------------------------------------------------------------------

def _force_delete(req, body):
    ctx = common.require_admin(req, 'volume_extension:snapshot_admin_actions:force_delete')
    snapshot = _snapshot(req)
    common.volume_api(req).delete_snapshot(ctx, snapshot, force=True)
    return common.empty_response(202)


ACTIONS = actions.Table(dict(volume_actions.SNAPSHOT_ACTIONS, **{
    'os-force_delete': actions.Action(_force_delete)}))


def action(req):
    """POST /snapshots/{snapshot_id}/action"""
    body = common.json_body(req)
    return actions.dispatch(req, ACTIONS, common.action_name(body), body)
