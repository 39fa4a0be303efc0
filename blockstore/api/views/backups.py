"""Backup views in Cinder's wire format, driven by one field table.

Items are ``objects.Backup`` (``is_incremental`` and ``has_dependent_backups``
are its properties). The summary (list index, create, update, import) is id,
name and links; show and detail listings add the rest.
"""

from blockstore.api.views import fields as F
from blockstore.api.views import links
from blockstore.common import policy

COLLECTION = 'backups'


def _metadata(b, rc):
    return F.metadata_of(b)


FIELDS = F.FieldTable([
    F.Field('id', F.attr('id'), kinds=F.ALL_KINDS),
    F.Field('status', F.attr('status')),
    F.Field('size', F.attr('size')),
    F.Field('object_count', F.attr('object_count')),
    F.Field('availability_zone', F.attr('availability_zone')),
    F.Field('container', F.attr('container')),
    F.Field('created_at', F.time_attr('created_at')),
    F.Field('updated_at', F.time_attr('updated_at')),
    F.Field('name', F.attr('display_name'), kinds=F.ALL_KINDS),
    F.Field('description', F.attr('display_description')),
    F.Field('fail_reason', F.attr('fail_reason')),
    F.Field('volume_id', F.attr('volume_id')),
    F.Field('links', links.resource_links, kinds=F.ALL_KINDS),
    F.Field('is_incremental', F.attr('is_incremental')),
    F.Field('has_dependent_backups', F.attr('has_dependent_backups')),
    F.Field('snapshot_id', F.attr('snapshot_id')),
    F.Field('data_timestamp', F.time_attr('data_timestamp')),
    # Microversioned fields (show and detail listings only).
    F.Field('metadata', _metadata, since='3.43'),
    F.Field('encryption_key_id', F.attr('encryption_key_id'), since='3.64', omit_none=True),
    # "admin" fields here: for callers the rule backup:backup_project_attribute allows
    # (Cinder's; admin_api by default), not for administrators as such.
    F.Field('os-backup-project-attr:project_id', F.attr('project_id'), since='3.18',
            admin=True),
    F.Field('user_id', F.attr('user_id'), since='3.56', admin=True),
    # Ours (not Cinder's): how far a running backup or restore is, for operators.
    F.Field('os-backup-progress:percent', F.attr('progress'), admin=True),
    F.Field('os-backup-progress:bytes_done', F.attr('bytes_done'), admin=True),
])

ATTRIBUTES_RULE = 'backup:backup_project_attribute'


def _plan(rc, kind):
    sees = kind != F.SUMMARY and rc.ctx is not None and bool(
        policy.authorize(rc.ctx, ATTRIBUTES_RULE, do_raise=False))
    return FIELDS.plan(kind, rc.version, sees)


def show(req, backup, kind=F.DETAIL):
    rc = links.RenderContext(req, COLLECTION)
    return {'backup': _plan(rc, kind).render(backup, rc)}


def summary(req, backup):
    return show(req, backup, F.SUMMARY)


def index(req, backups, detail, limit=None, count=None):
    rc = links.RenderContext(req, COLLECTION)
    plan = _plan(rc, F.DETAIL if detail else F.SUMMARY)
    body = {'backups': plan.render_all(backups, rc)}
    next_links = links.collection_links(
        rc, backups, limit, 'backups/detail' if detail else 'backups', count)
    if next_links:
        body['backups_links'] = next_links
    if count is not None:
        body['count'] = count
    return body


def restore(result):
    """The 202 body of a restore: ``{'restore': {backup_id, volume_id, volume_name}}``."""
    return {'restore': {'backup_id': result['backup_id'], 'volume_id': result['volume_id'],
                        'volume_name': result['volume_name']}}


def export_record(record):
    return {'backup-record': {'backup_service': record['backup_service'],
                              'backup_url': record['backup_url']}}
