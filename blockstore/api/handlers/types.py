"""Volume type handlers: types and their extra specs.

Reading is open to everyone (private types and most extra specs only to
admins); changing is for admins.
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import parameter_types as pt
from blockstore.api.schemas import types as schemas
from blockstore.api.views import types as views
from blockstore.common import exception
from blockstore.volume import volume_types

MANAGE_POLICY = 'volume_extension:types_manage'
SPECS_POLICY = 'volume_extension:types_extra_specs'


def _type(req):
    """The type of the URL (``default`` is the default type); 404 if the caller can't see it."""
    ctx = common.context(req)
    type_id = req.urlvars['type_id']
    if type_id == 'default':
        return volume_types.get_default(ctx)
    return volume_types.get(ctx, type_id)


def _is_public_filter(value):
    """Cinder's is_public query parameter: absent -> public only, 'none' -> all."""
    if value is None:
        return True
    if value.strip().lower() == 'none':
        return None
    try:
        return common.parse_bool(value, 'is_public')
    except exception.Invalid:
        raise exception.Invalid('Invalid is_public filter [%s]' % value)


def index(req):
    """GET /types"""
    ctx = common.authorize(req, 'volume_extension:type_get_all')
    is_public = True
    if ctx.is_admin:
        is_public = _is_public_filter(req.GET.get('is_public'))
    return common.json_response(views.index(req, volume_types.get_all(ctx, is_public)))


def show(req):
    """GET /types/{type_id} (also ``default``)"""
    common.authorize(req, 'volume_extension:type_get')
    return common.json_response(views.show(req, _type(req)))


def create(req):
    """POST /types (admin) -> 200 with the new type."""
    ctx = common.require_admin(req, MANAGE_POLICY + ':create')
    body = common.validated_body(req, schemas.create)['volume_type']
    name = body['name'].strip()
    if not name:
        raise exception.Invalid('Volume type name can not be empty.')
    vtype = volume_types.create(
        ctx, name, description=body.get('description'),
        is_public=pt.bool_value(body.get('os-volume-type-access:is_public'), default=True),
        extra_specs=body.get('extra_specs') or {})
    return common.json_response(views.show(req, vtype))


def update(req):
    """PUT /types/{type_id} (admin): name, description, is_public."""
    ctx = common.require_admin(req, MANAGE_POLICY + ':update')
    body = common.validated_body(req, schemas.update)['volume_type']
    name = body.get('name')
    description = body.get('description')
    is_public = body.get('is_public')
    if name is None and description is None and is_public is None:
        raise exception.Invalid('Specify volume type name, description, is_public or a '
                                'combination thereof.')
    if name is not None:
        name = name.strip()
        if not name:
            raise exception.Invalid('Volume type name can not be empty.')
    vtype = _type(req)
    vtype = volume_types.update(
        ctx, vtype.id, name=name, description=description,
        is_public=None if is_public is None else pt.bool_value(is_public))
    return common.json_response(views.show(req, vtype))


def delete(req):
    """DELETE /types/{type_id} (admin) -> 202."""
    ctx = common.require_admin(req, MANAGE_POLICY + ':delete')
    volume_types.delete(ctx, _type(req).id)
    return common.empty_response(202)


# -- extra specs -----------------------------------------------------------------------

def _spec_not_found(type_id, key):
    return exception.NotFound('Volume Type %s has no extra specs with key %s.' % (type_id, key))


def extra_specs_index(req):
    """GET /types/{type_id}/extra_specs"""
    ctx = common.authorize(req, SPECS_POLICY + ':index')
    vtype = _type(req)
    return common.json_response(
        views.extra_specs(views.visible_extra_specs(vtype.extra_specs, ctx.is_admin)))


def extra_specs_create(req):
    """POST /types/{type_id}/extra_specs (admin): add or change specs."""
    ctx = common.require_admin(req, SPECS_POLICY + ':create')
    specs = common.validated_body(req, schemas.extra_specs_body)['extra_specs']
    vtype = _type(req)
    volume_types.update_extra_specs(ctx, vtype.id, specs)
    return common.json_response(views.extra_specs(specs))


def extra_specs_show(req):
    """GET /types/{type_id}/extra_specs/{key}"""
    ctx = common.authorize(req, SPECS_POLICY + ':show')
    vtype = _type(req)
    key = req.urlvars['key']
    specs = views.visible_extra_specs(vtype.extra_specs, ctx.is_admin)
    if key not in specs:
        raise _spec_not_found(vtype.id, key)
    return common.json_response({key: specs[key]})


def extra_specs_update(req):
    """PUT /types/{type_id}/extra_specs/{key} (admin): body ``{key: value}``."""
    ctx = common.require_admin(req, SPECS_POLICY + ':update')
    body = common.validated_body(req, schemas.extra_spec_item)
    key = req.urlvars['key']
    if len(body) > 1:
        raise exception.Invalid('Request body contains too many items')
    if key not in body:
        raise exception.Invalid('Request body and URI mismatch')
    vtype = _type(req)
    volume_types.update_extra_specs(ctx, vtype.id, body)
    return common.json_response(body)


def extra_specs_delete(req):
    """DELETE /types/{type_id}/extra_specs/{key} (admin) -> 202."""
    ctx = common.require_admin(req, SPECS_POLICY + ':delete')
    vtype = _type(req)
    key = req.urlvars['key']
    if key not in vtype.extra_specs:
        raise _spec_not_found(vtype.id, key)
    volume_types.delete_extra_spec(ctx, vtype.id, key)
    return common.empty_response(202)


# -- type access -----------------------------------------------------------------------

ACCESS_POLICY = 'volume_extension:volume_type_access'
ENCRYPTION_POLICY = 'volume_extension:volume_type_encryption'


def access_index(req):
    """GET /types/{type_id}/os-volume-type-access (admin): projects granted a private type."""
    ctx = common.require_admin(req, ACCESS_POLICY)
    type_id = req.urlvars['type_id']
    vtype = volume_types.get(ctx, type_id)
    return common.json_response(views.type_access(vtype.id,
                                                  volume_types.access_list(ctx, vtype.id)))


def _add_project_access(req, body):
    ctx = common.require_admin(req, ACCESS_POLICY + ':addProjectAccess')
    body = schemas.add_project_access.validate(body, common.version(req))
    volume_types.add_access(ctx, req.urlvars['type_id'], body['addProjectAccess']['project'])
    return common.empty_response(202)


def _remove_project_access(req, body):
    ctx = common.require_admin(req, ACCESS_POLICY + ':removeProjectAccess')
    body = schemas.remove_project_access.validate(body, common.version(req))
    volume_types.remove_access(ctx, req.urlvars['type_id'],
                               body['removeProjectAccess']['project'])
    return common.empty_response(202)


ACTIONS = actions.Table({
    'addProjectAccess': actions.Action(_add_project_access),
    'removeProjectAccess': actions.Action(_remove_project_access),
})


def action(req):
    """POST /types/{type_id}/action: addProjectAccess, removeProjectAccess (admin)."""
    body = common.json_body(req)
    return actions.dispatch(req, ACTIONS, common.action_name(body), body)


# -- default types (3.62) ------------------------------------------------------------------

DEFAULT_POLICY = 'volume_extension:default'


@mv.version_range(mv.DEFAULT_TYPES)
def default_set(req):
    """PUT /default-types/{project_id} (admin) -> 200."""
    ctx = common.require_admin(req, DEFAULT_POLICY + '_set_or_update')
    body = common.validated_body(req, schemas.default_type)['default_type']
    row = volume_types.set_default(ctx, req.urlvars['project_id'], body['volume_type'])
    return common.json_response({'default_type': views.default_type(row)})


@mv.version_range(mv.DEFAULT_TYPES)
def default_show(req):
    """GET /default-types/{project_id} (admin)."""
    ctx = common.require_admin(req, DEFAULT_POLICY + '_get')
    row = volume_types.get_project_default(ctx, req.urlvars['project_id'])
    return common.json_response({'default_type': views.default_type(row)})


@mv.version_range(mv.DEFAULT_TYPES)
def default_index(req):
    """GET /default-types (admin)."""
    ctx = common.require_admin(req, DEFAULT_POLICY + '_get_all')
    return common.json_response({'default_types': [
        views.default_type(r) for r in volume_types.get_all_defaults(ctx)]})


@mv.version_range(mv.DEFAULT_TYPES)
def default_delete(req):
    """DELETE /default-types/{project_id} (admin) -> 204."""
    ctx = common.require_admin(req, DEFAULT_POLICY + '_unset')
    volume_types.unset_default(ctx, req.urlvars['project_id'])
    return common.empty_response(204)


# -- encryption ----------------------------------------------------------------------------

def _encryption_values(body):
    values = dict(body['encryption'])
    if values.get('key_size') is not None:
        values['key_size'] = int(values['key_size'])
    return values


def encryption_index(req):
    """GET /types/{type_id}/encryption (admin): the specs, or {} for an unencrypted type."""
    ctx = common.require_admin(req, ENCRYPTION_POLICY + ':get')
    row = volume_types.get_encryption(ctx, req.urlvars['type_id'])
    return common.json_response(views.encryption(row))


def encryption_create(req):
    """POST /types/{type_id}/encryption (admin): echoes the body, as Cinder."""
    ctx = common.require_admin(req, ENCRYPTION_POLICY + ':create')
    body = common.validated_body(req, schemas.encryption_create)
    values = _encryption_values(body)
    volume_types.create_encryption(ctx, req.urlvars['type_id'], values)
    return common.json_response({'encryption': values})


def encryption_show(req):
    """GET /types/{type_id}/encryption/{spec} (admin): ``{spec: value}``."""
    ctx = common.require_admin(req, ENCRYPTION_POLICY + ':get')
    type_id = req.urlvars['type_id']
    specs = views.encryption(volume_types.get_encryption(ctx, type_id))
    spec = req.urlvars['spec']
    if spec not in specs:
        raise volume_types.VolumeTypeEncryptionNotFound(type_id=type_id)
    return common.json_response({spec: specs[spec]})


def encryption_update(req):
    """PUT /types/{type_id}/encryption/{spec} (admin): the spec in the URL is ignored."""
    ctx = common.require_admin(req, ENCRYPTION_POLICY + ':update')
    body = common.validated_body(req, schemas.encryption_update)
    values = _encryption_values(body)
    volume_types.update_encryption(ctx, req.urlvars['type_id'], values)
    return common.json_response({'encryption': values})


def encryption_delete(req):
    """DELETE /types/{type_id}/encryption/{spec} (admin) -> 202."""
    ctx = common.require_admin(req, ENCRYPTION_POLICY + ':delete')
    volume_types.delete_encryption(ctx, req.urlvars['type_id'])
    return common.empty_response(202)
