"""Generic volume groups (3.13), group types (3.11) and group snapshots (3.14).

Cinder's URLs, bodies and microversion gates, answered honestly while
blockstore has no group support (no tables, no group-capable driver): lists
are empty, any id is a 404, creation is a 501 naming what is missing. Bodies
are validated first (400), and actions newer than the request's version are
404s, as in Cinder.
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import groups as schemas
from blockstore.api import validation
from blockstore.common import exception

REASON = 'this deployment has no group support yet'


class GroupNotFound(exception.NotFound):
    msg_fmt = 'Group %(group_id)s could not be found.'


class GroupTypeNotFound(exception.NotFound):
    msg_fmt = 'Group type %(group_type_id)s could not be found.'


class GroupSnapshotNotFound(exception.NotFound):
    msg_fmt = 'GroupSnapshot %(group_snapshot_id)s could not be found.'


def _unavailable(what):
    raise exception.NotAvailable(what=what, reason=REASON)


def _schema_checked(schema, then):
    """An action handler: validate the body against ``schema``, then ``then(req)``."""
    def handler(req, body):
        schema.validate(body, common.version(req))
        return then(req)
    return handler


# -- groups -------------------------------------------------------------------------

def _no_group(req):
    raise GroupNotFound(group_id=req.urlvars['group_id'])


@mv.version_range(mv.GROUPS)
def index(req):
    """GET /groups"""
    common.authorize(req, 'group:get_all')
    return common.empty_list(req, 'groups', 'group')


@mv.version_range(mv.GROUPS)
def detail(req):
    """GET /groups/detail"""
    common.authorize(req, 'group:get_all')
    return common.empty_list(req, 'groups', 'group')


@mv.version_range(mv.GROUPS)
@validation.body_schema(schemas.group_create)
def create(req):
    """POST /groups (no group support: 501)"""
    common.validated_body(req, schemas.group_create)
    common.authorize(req, 'group:create')
    _unavailable('Generic volume groups')


@mv.version_range(mv.GROUPS)
def show(req):
    """GET /groups/{group_id}"""
    common.authorize(req, 'group:get')
    _no_group(req)


@mv.version_range(mv.GROUPS)
@validation.body_schema(schemas.group_update)
def update(req):
    """PUT /groups/{group_id}"""
    common.validated_body(req, schemas.group_update)
    common.authorize(req, 'group:update')
    _no_group(req)


def _group_action(name, rule):
    def then(req):
        common.authorize(req, rule)
        _no_group(req)
    return _schema_checked(schemas.GROUP_ACTIONS[name], then)


GROUP_ACTIONS = actions.Table({
    'delete': actions.Action(_group_action('delete', 'group:delete')),
    'reset_status': actions.Action(_group_action('reset_status', 'group:reset_status'),
                                   since=mv.GROUP_RESET_STATUS),
    **{name: actions.Action(_group_action(name, 'group:' + name), since=mv.GROUP_REPLICATION)
       for name in ('enable_replication', 'disable_replication', 'failover_replication',
                    'list_replication_targets')},
})


@mv.version_range(mv.GROUPS)
@validation.body_schema(('actions', schemas.GROUP_ACTIONS))
def action(req):
    """POST /groups/{group_id}/action: delete, reset_status (3.20), replication (3.38)"""
    body = common.json_body(req)
    actions.dispatch(req, GROUP_ACTIONS, common.action_name(body), body)


@mv.version_range(mv.GROUP_SNAPSHOTS)
@validation.body_schema(schemas.group_create_from_src)
def create_from_src(req):
    """POST /groups/action {"create-from-src": ...} (3.14; no group support: 501)"""
    common.validated_body(req, schemas.group_create_from_src)
    common.authorize(req, 'group:create')
    _unavailable('Generic volume groups')


# -- group types -----------------------------------------------------------------------

def _no_type(req):
    raise GroupTypeNotFound(group_type_id=req.urlvars['group_type_id'])


@mv.version_range(mv.GROUP_TYPES)
def types_index(req):
    """GET /group_types"""
    common.authorize(req, 'group:group_types:get_all')
    return common.empty_list(req, 'group_types')


@mv.version_range(mv.GROUP_TYPES)
@validation.body_schema(schemas.group_type_create)
def types_create(req):
    """POST /group_types (admin; no group support: 501)"""
    common.validated_body(req, schemas.group_type_create)
    common.require_admin(req, 'group:group_types:create')
    _unavailable('Group types')


@mv.version_range(mv.GROUP_TYPES)
def types_default(req):
    """GET /group_types/default"""
    common.authorize(req, 'group:group_types:get')
    raise exception.NotFound('Default group type could not be found.')


@mv.version_range(mv.GROUP_TYPES)
def types_show(req):
    """GET /group_types/{group_type_id}"""
    common.authorize(req, 'group:group_types:get')
    _no_type(req)


@mv.version_range(mv.GROUP_TYPES)
@validation.body_schema(schemas.group_type_update)
def types_update(req):
    """PUT /group_types/{group_type_id} (admin)"""
    common.validated_body(req, schemas.group_type_update)
    common.require_admin(req, 'group:group_types:update')
    _no_type(req)


@mv.version_range(mv.GROUP_TYPES)
def types_delete(req):
    """DELETE /group_types/{group_type_id} (admin)"""
    common.require_admin(req, 'group:group_types:delete')
    _no_type(req)


@mv.version_range(mv.GROUP_TYPES)
def specs_index(req):
    """GET /group_types/{group_type_id}/group_specs (admin)"""
    common.require_admin(req, 'group:group_types_specs:get_all')
    _no_type(req)


@mv.version_range(mv.GROUP_TYPES)
@validation.body_schema(schemas.group_specs)
def specs_create(req):
    """POST /group_types/{group_type_id}/group_specs (admin)"""
    common.validated_body(req, schemas.group_specs)
    common.require_admin(req, 'group:group_types_specs:create')
    _no_type(req)


@mv.version_range(mv.GROUP_TYPES)
def specs_show(req):
    """GET /group_types/{group_type_id}/group_specs/{key} (admin)"""
    common.require_admin(req, 'group:group_types_specs:get')
    _no_type(req)


@mv.version_range(mv.GROUP_TYPES)
@validation.body_schema(schemas.group_spec_item)
def specs_update(req):
    """PUT /group_types/{group_type_id}/group_specs/{key} (admin)"""
    body = common.validated_body(req, schemas.group_spec_item)
    if req.urlvars['key'] not in body:
        raise exception.Invalid('Request body and URI mismatch')
    common.require_admin(req, 'group:group_types_specs:update')
    _no_type(req)


@mv.version_range(mv.GROUP_TYPES)
def specs_delete(req):
    """DELETE /group_types/{group_type_id}/group_specs/{key} (admin)"""
    common.require_admin(req, 'group:group_types_specs:delete')
    _no_type(req)


# -- group snapshots ---------------------------------------------------------------------

def _no_snapshot(req):
    raise GroupSnapshotNotFound(group_snapshot_id=req.urlvars['group_snapshot_id'])


@mv.version_range(mv.GROUP_SNAPSHOTS)
def snapshots_index(req):
    """GET /group_snapshots"""
    common.authorize(req, 'group:get_all_group_snapshots')
    return common.empty_list(req, 'group_snapshots', 'group_snapshot')


@mv.version_range(mv.GROUP_SNAPSHOTS)
def snapshots_detail(req):
    """GET /group_snapshots/detail"""
    common.authorize(req, 'group:get_all_group_snapshots')
    return common.empty_list(req, 'group_snapshots', 'group_snapshot')


@mv.version_range(mv.GROUP_SNAPSHOTS)
@validation.body_schema(schemas.group_snapshot_create)
def snapshots_create(req):
    """POST /group_snapshots (no group can exist yet: 404 for its group_id)"""
    body = common.validated_body(req, schemas.group_snapshot_create)
    common.authorize(req, 'group:create_group_snapshot')
    raise GroupNotFound(group_id=body['group_snapshot']['group_id'])


@mv.version_range(mv.GROUP_SNAPSHOTS)
def snapshots_show(req):
    """GET /group_snapshots/{group_snapshot_id}"""
    common.authorize(req, 'group:get_group_snapshot')
    _no_snapshot(req)


@mv.version_range(mv.GROUP_SNAPSHOTS)
def snapshots_delete(req):
    """DELETE /group_snapshots/{group_snapshot_id}"""
    common.authorize(req, 'group:delete_group_snapshot')
    _no_snapshot(req)


@mv.version_range(mv.GROUP_SNAPSHOTS)
@validation.body_schema(('actions', schemas.GROUP_SNAPSHOT_ACTIONS))
def snapshots_action(req):
    """POST /group_snapshots/{group_snapshot_id}/action: reset_status (3.19)"""
    body = common.json_body(req)
    actions.dispatch(req, GROUP_SNAPSHOT_ACTIONS, common.action_name(body), body)


def _reset_group_snapshot_status(req):
    common.require_admin(req, 'group:reset_group_snapshot_status')
    _no_snapshot(req)


GROUP_SNAPSHOT_ACTIONS = actions.Table({
    'reset_status': actions.Action(
        _schema_checked(schemas.GROUP_SNAPSHOT_ACTIONS['reset_status'],
                        _reset_group_snapshot_status),
        since=mv.GROUP_SNAPSHOT_RESET_STATUS),
})
