"""QoS specs handlers (admin only): specs, their keys and their volume type associations."""

from blockstore.api import common
from blockstore.api.schemas import qos_specs as schemas
from blockstore.api.views import qos_specs as views
from blockstore.common import exception
from blockstore.volume import qos_specs

POLICY = 'volume_extension:qos_specs_manage'


def _admin(req, action):
    return common.require_admin(req, '%s:%s' % (POLICY, action))


def index(req):
    """GET /qos-specs"""
    ctx = _admin(req, 'get_all')
    return common.json_response(views.index(req, qos_specs.get_all(ctx)))


def create(req):
    """POST /qos-specs -> 200 with the new specs."""
    ctx = _admin(req, 'create')
    body = common.validated_body(req, schemas.create)['qos_specs']
    specs = dict(body)
    name = specs.pop('name').strip()
    row = qos_specs.create(ctx, name, specs)
    return common.json_response(views.show(req, row))


def show(req):
    """GET /qos-specs/{qos_id}"""
    ctx = _admin(req, 'get')
    return common.json_response(views.show(req, qos_specs.get(ctx, req.urlvars['qos_id'])))


def update(req):
    """PUT /qos-specs/{qos_id}: set keys (and consumer); echoes the body."""
    ctx = _admin(req, 'update')
    body = common.validated_body(req, schemas.update)
    qos_specs.update(ctx, req.urlvars['qos_id'], body['qos_specs'])
    return common.json_response(body)


def delete(req):
    """DELETE /qos-specs/{qos_id}[?force=true] -> 202; in use without force -> 400."""
    ctx = _admin(req, 'delete')
    force = common.parse_bool(req.GET.get('force', 'false'), 'force')
    qos_specs.delete(ctx, req.urlvars['qos_id'], force=force)
    return common.empty_response(202)


def delete_keys(req):
    """PUT /qos-specs/{qos_id}/delete_keys {"keys": [...]} -> 202."""
    ctx = _admin(req, 'delete_keys')
    body = common.validated_body(req, schemas.delete_keys)
    qos_specs.delete_keys(ctx, req.urlvars['qos_id'], body['keys'])
    return common.empty_response(202)


def associations(req):
    """GET /qos-specs/{qos_id}/associations"""
    ctx = _admin(req, 'get')
    return common.json_response(views.associations(
        qos_specs.associations(ctx, req.urlvars['qos_id'])))


def _type_id(req):
    type_id = req.GET.get('vol_type_id')
    if not type_id:
        raise exception.Invalid('Volume Type id must not be None.')
    return type_id


def associate(req):
    """GET /qos-specs/{qos_id}/associate?vol_type_id= -> 202."""
    ctx = _admin(req, 'update')
    qos_specs.associate(ctx, req.urlvars['qos_id'], _type_id(req))
    return common.empty_response(202)


def disassociate(req):
    """GET /qos-specs/{qos_id}/disassociate?vol_type_id= -> 202."""
    ctx = _admin(req, 'update')
    qos_specs.disassociate(ctx, req.urlvars['qos_id'], _type_id(req))
    return common.empty_response(202)


def disassociate_all(req):
    """GET /qos-specs/{qos_id}/disassociate_all -> 202."""
    ctx = _admin(req, 'update')
    qos_specs.disassociate_all(ctx, req.urlvars['qos_id'])
    return common.empty_response(202)
