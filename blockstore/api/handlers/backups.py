"""Backup handlers (/backups): parse, call the backup service layer, render.

Cinder's URLs, bodies and status codes: create 202 (summary), show and
detail listings (detail view), update 200 (summary, 3.9), delete 202,
restore 202 (``{'restore': ...}``), the admin actions os-reset_status and
os-force_delete 202, export_record 200 (``{'backup-record': ...}``) and
import_record 201 (summary). Every decision (ownership, states, quota, which
backup service) is the service layer's (``backup/api.py``); handlers only
check the policy rule of the call.
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api import query_filters
from blockstore.api.schemas import backups as schemas
from blockstore.api.schemas import parameter_types as pt
from blockstore.api import validation
from blockstore.api.views import backups as views
from blockstore.common import idempotency

P = 'backup:'
ADMIN = 'volume_extension:backup_admin_actions:'

# Query filters a non-admin may use (resource_filters: query_filters, Cinder's
# name, status, volume_id), and the API names that differ from the columns.
USER_FILTERS = query_filters.Allowed('backup')
FILTER_COLUMNS = {'name': 'display_name', 'description': 'display_description'}
# 3.37: ``sort=name`` sorts by the name; before it ``name`` is no sort key.
SORT_COLUMNS = {'name': 'display_name'}


def _clean(body):
    """Cinder strips the whitespace around names and descriptions."""
    for key in ('name', 'description'):
        if isinstance(body.get(key), str):
            body[key] = body[key].strip()
    return body


def _backup(req, action=None):
    """The URL's backup (404 for another project's), after checking ``action`` on it."""
    backup = common.backup_api(req).get(common.context(req), req.urlvars['backup_id'])
    if action:
        common.authorize(req, action, backup)
    return backup


# -- lists ---------------------------------------------------------------------

def _list(req, detail):
    ctx = common.authorize(req, P + 'get_all')
    sort_columns = SORT_COLUMNS if common.version(req) >= mv.BACKUP_SORT_NAME else {}
    params, kwargs, with_count = common.list_args(req, sort_columns)
    filters = common.list_filters(req, params, USER_FILTERS, FILTER_COLUMNS)
    offset = kwargs.pop('offset')
    if offset:
        kwargs['offset'] = offset
    backups, count = common.backup_api(req).get_all(ctx, filters=filters, **kwargs)
    return common.json_response(views.index(req, backups, detail, kwargs['limit'],
                                            count if with_count else None))


def index(req):
    """GET /backups"""
    return _list(req, detail=False)


def detail(req):
    """GET /backups/detail"""
    return _list(req, detail=True)


# -- one backup -------------------------------------------------------------------

@validation.body_schema(schemas.create)
def create(req):
    """POST /backups -> 202 with the new backup's summary."""
    ctx = common.authorize(req, P + 'create')
    version = common.version(req)
    body = _clean(common.validated_body(req, schemas.create)['backup'])
    kwargs = dict(name=body.get('name'), description=body.get('description'),
                  incremental=pt.bool_value(body.get('incremental')),
                  force=pt.bool_value(body.get('force')),
                  snapshot_id=body.get('snapshot_id'), container=body.get('container'))
    if version >= mv.BACKUP_METADATA:
        kwargs['metadata'] = body.get('metadata')
    if version >= mv.BACKUP_AZ:
        kwargs['availability_zone'] = body.get('availability_zone')
    backup = common.backup_api(req).create(
        ctx, body['volume_id'], idempotency=idempotency.request_of(req.headers, body), **kwargs)
    return common.json_response(views.summary(req, backup), status=202)


def show(req):
    """GET /backups/{backup_id}"""
    return common.json_response(views.show(req, _backup(req, P + 'get')))


@mv.version_range(mv.BACKUP_UPDATE)
@validation.body_schema(schemas.update)
def update(req):
    """PUT /backups/{backup_id} (3.9): name, description, metadata (3.43) -> 200 summary."""
    body = _clean(common.validated_body(req, schemas.update)['backup'] or {})
    backup = _backup(req, P + 'update')
    values = {}
    if 'name' in body:
        values['display_name'] = body['name']
    if 'description' in body:
        values['display_description'] = body['description']
    if common.version(req) >= mv.BACKUP_METADATA and 'metadata' in body:
        values['metadata'] = body['metadata'] or {}
    api = common.backup_api(req)
    ctx = common.context(req)
    updated = api.update(ctx, backup.id, values) if values else None
    if updated is None:
        updated = api.get(ctx, backup.id)
    return common.json_response(views.summary(req, updated))


def delete(req):
    """DELETE /backups/{backup_id} -> 202."""
    backup = _backup(req, P + 'delete')
    common.backup_api(req).delete(common.context(req), backup.id)
    return common.empty_response(202)


@validation.body_schema(schemas.restore)
def restore(req):
    """POST /backups/{backup_id}/restore {"restore": {volume_id?, name?}} -> 202."""
    body = common.validated_body(req, schemas.restore)['restore'] or {}
    backup = _backup(req, P + 'restore')
    result = common.backup_api(req).restore(common.context(req), backup.id,
                                            volume_id=body.get('volume_id'),
                                            name=body.get('name'))
    return common.json_response(views.restore(result), status=202)


# -- admin actions ---------------------------------------------------------------

def _reset_status(req, body):
    body = schemas.reset_status.validate(body, common.version(req))
    ctx = common.require_admin(req, ADMIN + 'reset_status')
    backup = _backup(req)
    status = body['os-reset_status']['status'].lower()
    common.backup_api(req).reset_status(ctx, backup.id, status)
    return common.empty_response(202)


def _force_delete(req, body):
    schemas.force_delete.validate(body, common.version(req))
    ctx = common.require_admin(req, ADMIN + 'force_delete')
    backup = _backup(req)
    common.backup_api(req).delete(ctx, backup.id, force=True)
    return common.empty_response(202)


ACTIONS = actions.Table({'os-reset_status': actions.Action(_reset_status),
                         'os-force_delete': actions.Action(_force_delete)})


@validation.body_schema(('actions', schemas.ACTIONS))
def action(req):
    """POST /backups/{backup_id}/action: os-reset_status, os-force_delete (admin)"""
    body = common.json_body(req)
    return actions.dispatch(req, ACTIONS, common.action_name(body), body)


# -- export and import ---------------------------------------------------------------

def export_record(req):
    """GET /backups/{backup_id}/export_record (admin) -> 200 {"backup-record": ...}."""
    ctx = common.require_admin(req, P + 'export-import')
    record = common.backup_api(req).export_record(ctx, req.urlvars['backup_id'])
    return common.json_response(views.export_record(record))


@validation.body_schema(schemas.import_record)
def import_record(req):
    """POST /backups/import_record (admin) -> 201 with the imported backup's summary."""
    ctx = common.require_admin(req, P + 'backup-import')
    record = common.validated_body(req, schemas.import_record)['backup-record']
    backup = common.backup_api(req).import_record(ctx, record['backup_service'],
                                                  record['backup_url'])
    return common.json_response(views.summary(req, backup), status=201)
