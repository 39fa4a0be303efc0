"""Volume backups (/backups): Cinder's URLs and bodies, answered honestly without a backup service.

The backup service (manager, drivers, chunked format) is a later issue. Until
it exists there are no backups: lists are empty, any id is a 404, and what
would start work (create, import) is a 501 naming what is missing. Bodies are
validated first, so a malformed request is a 400 as it will be later.
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import backups as schemas
from blockstore.api import validation
from blockstore.common import exception

P = 'backup:'
ADMIN = 'volume_extension:backup_admin_actions:'
WHAT = 'Volume backups'
REASON = 'this deployment runs no backup service'


class BackupNotFound(exception.NotFound):
    msg_fmt = 'Backup %(backup_id)s could not be found.'


def _missing(req):
    raise BackupNotFound(backup_id=req.urlvars['backup_id'])


def index(req):
    """GET /backups"""
    common.authorize(req, P + 'get_all')
    return common.empty_list(req, 'backups', 'backup', with_count=True)


def detail(req):
    """GET /backups/detail"""
    common.authorize(req, P + 'get_all')
    return common.empty_list(req, 'backups', 'backup', with_count=True)


@validation.body_schema(schemas.create)
def create(req):
    """POST /backups (no backup service: 501)"""
    common.validated_body(req, schemas.create)
    common.authorize(req, P + 'create')
    raise exception.NotAvailable(what=WHAT, reason=REASON)


def show(req):
    """GET /backups/{backup_id}"""
    common.authorize(req, P + 'get')
    _missing(req)


@mv.version_range(mv.BACKUP_UPDATE)
@validation.body_schema(schemas.update)
def update(req):
    """PUT /backups/{backup_id} (3.9)"""
    common.validated_body(req, schemas.update)
    common.authorize(req, P + 'update')
    _missing(req)


def delete(req):
    """DELETE /backups/{backup_id}"""
    common.authorize(req, P + 'delete')
    _missing(req)


@validation.body_schema(schemas.restore)
def restore(req):
    """POST /backups/{backup_id}/restore"""
    common.validated_body(req, schemas.restore)
    common.authorize(req, P + 'restore')
    _missing(req)


def _admin_action(name):
    def handler(req, body):
        schemas.ACTIONS[name].validate(body, common.version(req))
        common.require_admin(req, ADMIN + name.replace('os-', ''))
        _missing(req)
    return handler


ACTIONS = actions.Table({name: actions.Action(_admin_action(name)) for name in schemas.ACTIONS})


@validation.body_schema(('actions', schemas.ACTIONS))
def action(req):
    """POST /backups/{backup_id}/action: os-reset_status, os-force_delete (admin)"""
    body = common.json_body(req)
    actions.dispatch(req, ACTIONS, common.action_name(body), body)


def export_record(req):
    """GET /backups/{backup_id}/export_record (admin)"""
    common.require_admin(req, P + 'export-import')
    _missing(req)


@validation.body_schema(schemas.import_record)
def import_record(req):
    """POST /backups/import_record (admin; no backup service: 501)"""
    common.validated_body(req, schemas.import_record)
    common.require_admin(req, P + 'backup-import')
    raise exception.NotAvailable(what=WHAT, reason=REASON)
