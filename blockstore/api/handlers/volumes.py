"""Volume handlers: parse the request, call the volume service layer, render a view.

Each handler takes a webob request (URL variables in ``req.urlvars``) and
returns a webob response; errors are raised as blockstore exceptions and
rendered by the middleware.
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api.handlers import attachments as attachment_handlers
from blockstore.api.handlers import metadata as metadata_handlers
from blockstore.api.handlers import volume_actions
from blockstore.api import microversion as mv
from blockstore.api import query_filters
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.schemas import volumes as schemas
from blockstore.api.views import fields as F
from blockstore.api.views import volumes as views
from blockstore.common import exception
from blockstore.common import idempotency
from blockstore.volume.attach import reads as attachment_reads
from blockstore.objects import states
from blockstore.volume.images import service as image_actions

# Query filters a non-admin may use (resource_filters: query_filters), and the API
# names that differ from the database column.
USER_FILTERS = query_filters.Allowed('volume')
FILTER_COLUMNS = {'name': 'display_name', 'description': 'display_description'}
UNSUPPORTED_FILTERS = frozenset(('glance_metadata', 'image_metadata', 'consumes_quota'))
SORT_COLUMNS = {'name': 'display_name'}

# Cinder's volume actions that a later issue adds; until then they are refused clearly.
_LATER_ACTIONS = frozenset((
    'os-update_volume_status',))


def _volume(req, action=None):
    """The URL's volume (404 for another project's), after checking ``action`` on it."""
    volume = common.volume_api(req).get(common.context(req), req.urlvars['volume_id'])
    if action:
        common.authorize(req, action, volume)
    return volume


# -- lists ---------------------------------------------------------------------

def _viewable(req, volume):
    """``volume`` with what its view shows beside its columns (its attachments)."""
    return attachment_reads.with_attachments(common.context(req), volume)


def _bootable_filter(req, value):
    if common.version(req) >= mv.BOOTABLE_FILTER_STRICT:
        return common.parse_bool(value, 'bootable')
    # Before 3.2 Cinder took anything but false/False as true.
    return str(value).strip() not in ('false', 'False')


def _int_filter(name):
    def convert(req, value):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise exception.InvalidInput(reason='%s=%s' % (name, value))
    return convert


def _metadata_filter(req, value):
    return common.metadata_param(value)


def _bool_filter(name):
    return lambda req, value: common.parse_bool(value, name)


CONVERTERS = {
    'created_at': common.time_filter,
    'updated_at': common.time_filter,
    'bootable': _bootable_filter,
    'multiattach': _bool_filter('multiattach'),
    'size': _int_filter('size'),
    'metadata': _metadata_filter,
}


def _list(req, detail):
    ctx = common.authorize(req, 'volume:get_all')
    api = common.volume_api(req)
    params, kwargs, with_count = common.list_args(req, SORT_COLUMNS)
    filters = common.list_filters(req, params, USER_FILTERS, FILTER_COLUMNS,
                                  UNSUPPORTED_FILTERS, CONVERTERS)
    volumes = api.get_all(ctx, filters=filters, image_metadata=detail, **kwargs)
    count = None
    if with_count:
        count = api.count(ctx, filters=filters, all_tenants=kwargs['all_tenants'])[0]
    return common.json_response(views.index(req, volumes, detail, kwargs['limit'], count))


def index(req):
    """GET /volumes"""
    return _list(req, detail=False)


def detail(req):
    """GET /volumes/detail"""
    return _list(req, detail=True)


@mv.version_range(mv.VOLUME_SUMMARY)
def summary(req):
    """GET /volumes/summary: count and total size (and metadata since 3.36)."""
    ctx = common.authorize(req, 'volume:get_all')
    params = common.query_params(req)
    all_tenants = ctx.is_admin and common.lenient_bool(params.get('all_tenants', 'false'))
    api = common.volume_api(req)
    count, total = api.count(ctx, all_tenants=all_tenants)
    metadata = None
    if common.version(req) >= mv.SUMMARY_METADATA:
        metadata = {}
        for row in api.get_all(ctx, all_tenants=all_tenants):
            for key, value in F.metadata_of(row).items():
                values = metadata.setdefault(key, [])
                if value not in values:
                    values.append(value)
    return common.json_response(views.summary(count, total, metadata))


# -- single volume ---------------------------------------------------------------

def _size(value):
    if value is None or isinstance(value, int):
        return value
    return int(value)  # the schema allowed only digit strings


def create(req):
    """POST /volumes -> 202 with the new volume."""
    ctx = common.authorize(req, 'volume:create')
    version = common.version(req)
    body = common.validated_body(req, schemas.create)
    vol = body['volume']
    image_ref = vol.get('imageRef') or vol.get('image_id')
    # 3.47: from a backup; before it Cinder's schema had no backup_id (ignored).
    backup_id = vol.get('backup_id') if version >= mv.BACKUP_ID_IN_CREATE else None
    for key in ('group_id', 'consistencygroup_id'):
        if vol.get(key) is not None:
            raise exception.InvalidInput(reason='%s is not supported yet' % key)
    name = vol['name'] if 'name' in vol else vol.get('display_name')
    description = (vol['description'] if 'description' in vol
                   else vol.get('display_description'))
    volume = common.volume_api(req).create(
        ctx, _size(vol.get('size')), name=name, description=description,
        volume_type=vol.get('volume_type') or None,
        snapshot_id=vol.get('snapshot_id'), source_volid=vol.get('source_volid'),
        metadata=vol.get('metadata') or {},
        availability_zone=vol.get('availability_zone'),
        multiattach=pt.bool_value(vol.get('multiattach')),
        image_id=image_actions.image_id_of(image_ref) if image_ref else None,
        backup_id=backup_id or None,
        idempotency=idempotency.request_of(req.headers, vol))
    return common.json_response(views.show(req, _viewable(req, volume), F.DETAIL), status=202)


def show(req):
    """GET /volumes/{volume_id}"""
    volume = _volume(req, 'volume:get')
    volume.image_metadata = common.volume_api(req).actions.get_image_metadata(
        common.context(req), volume)
    return common.json_response(views.show(req, _viewable(req, volume)))


def update(req):
    """PUT /volumes/{volume_id}: name, description, metadata."""
    ctx = common.context(req)
    api = common.volume_api(req)
    body = common.validated_body(req, schemas.update)['volume']
    volume = _volume(req, 'volume:update')
    values = {}
    for api_key, column in (('display_name', 'display_name'), ('name', 'display_name'),
                            ('display_description', 'display_description'),
                            ('description', 'display_description')):
        if api_key in body:
            values[column] = body[api_key]
    if 'metadata' in body:
        api.update_metadata(ctx, volume, body['metadata'], delete=True)
    if values:
        api.update(ctx, volume, values)
    return common.json_response(views.show(req, _viewable(req, _volume(req)), F.DETAIL))


def delete(req):
    """DELETE /volumes/{volume_id}[?cascade=...][&force=...] -> 202."""
    ctx = common.context(req)
    params = common.query_params(req)
    cascade = common.parse_bool(params.get('cascade', 'false'), 'cascade')
    force = False
    if common.version(req) >= mv.VOLUME_DELETE_FORCE:
        force = common.parse_bool(params.get('force', 'false'), 'force')
    volume = _volume(req, 'volume:force_delete' if force else 'volume:delete')
    common.volume_api(req).delete(ctx, volume, force=force, cascade=cascade)
    return common.empty_response(202)


# -- metadata ---------------------------------------------------------------------

_metadata = metadata_handlers.handlers(
    '/volumes/{volume_id}', 'Volume', _volume,
    rules={'get': 'volume:get_volume_metadata', 'create': 'volume:create_volume_metadata',
           'update': 'volume:update_volume_metadata',
           'delete': 'volume:delete_volume_metadata'},
    update=lambda req, vol, md, delete: common.volume_api(req).update_metadata(
        common.context(req), vol, md, delete=delete),
    delete_key=lambda req, vol, key: common.volume_api(req).delete_metadata(
        common.context(req), vol, key),
    schemas=schemas)
metadata_index = _metadata['metadata_index']
metadata_create = _metadata['metadata_create']
metadata_update_all = _metadata['metadata_update_all']
metadata_show = _metadata['metadata_show']
metadata_update = _metadata['metadata_update']
metadata_delete = _metadata['metadata_delete']


# -- actions ------------------------------------------------------------------------

def _extend(req, body):
    body = schemas.extend.validate(body, common.version(req))
    new_size = _size(body['os-extend']['new_size'])
    volume = _volume(req, 'volume:extend')
    # 3.42: an in-use volume too (below, Cinder refuses it as not available).
    attached = common.version(req) >= mv.EXTEND_IN_USE
    if attached and volume.status == states.IN_USE:
        common.authorize(req, 'volume:extend_attached_volume', volume)
    common.volume_api(req).extend.extend(common.context(req), volume, new_size, attached=attached)
    return common.empty_response(202)


def _force_delete(req, body):
    ctx = common.require_admin(req, 'volume_extension:volume_admin_actions:force_delete')
    volume = _volume(req)
    common.volume_api(req).delete(ctx, volume, force=True)
    return common.empty_response(202)


def _connector(body, name):
    """The ``connector`` of a legacy attach action body; 400 without one."""
    args = body[name]
    if not isinstance(args, dict) or 'connector' not in args:
        raise exception.Invalid("Must specify 'connector'")
    return args['connector']


def _initialize_connection(req, body):
    """os-initialize_connection {"connector": {...}} -> 200 {"connection_info": {...}}."""
    connector = _connector(body, 'os-initialize_connection')
    volume = _volume(req, 'volume_extension:volume_actions:initialize_connection')
    info = common.volume_api(req).attachments.initialize_connection(common.context(req), volume,
                                                                    connector)
    return common.json_response({'connection_info': info})


def _terminate_connection(req, body):
    """os-terminate_connection {"connector": {...}} -> 202."""
    connector = _connector(body, 'os-terminate_connection')
    volume = _volume(req, 'volume_extension:volume_actions:terminate_connection')
    attachment_handlers.protect_connection(req, volume, connector)
    common.volume_api(req).attachments.terminate_connection(common.context(req), volume, connector)
    return common.empty_response(202)


def _unknown_action(name):
    if name in _LATER_ACTIONS:
        return exception.Invalid('Volume action %s is not supported yet.' % name)
    return actions.no_such_action(name)


ACTIONS = actions.Table(dict(volume_actions.VOLUME_ACTIONS, **attachment_handlers.LEGACY_ACTIONS, **{
    'os-extend': actions.Action(_extend),
    'os-force_delete': actions.Action(_force_delete),
    'os-initialize_connection': actions.Action(_initialize_connection),
    'os-terminate_connection': actions.Action(_terminate_connection),
}), unknown=_unknown_action)


def action(req):
    """POST /volumes/{volume_id}/action"""
    body = common.json_body(req)
    return actions.dispatch(req, ACTIONS, common.action_name(body), body)
