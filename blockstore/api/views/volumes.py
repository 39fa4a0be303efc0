"""Volume views in Cinder's wire format, driven by one field table.

Items may be ``objects.Volume`` or listing records (``db.api.Record``) — list
calls hand over records — so every getter reads attributes both share.
"""

from blockstore.api.views import fields as F
from blockstore.api.views import links
from blockstore.common.status import CREATING, ERROR, ERROR_MANAGING, MANAGING

COLLECTION = 'volumes'

# Cinder shows the manage states under their public names. Its third one,
# error_managing_deleting (shown as deleting), is never entered here: a volume
# that failed to be managed is deleted through deleting itself (see states.VOLUME).
_STATUS_MAP = {MANAGING: CREATING, ERROR_MANAGING: ERROR}


def _status(v, rc):
    s = v.status
    return _STATUS_MAP.get(s, s)


def _volume_type_name(v, rc):
    vt = v.volume_type
    return vt.name if vt is not None else v.volume_type_id


def _bootable(v, rc):
    return 'true' if v.bootable else 'false'


def _encrypted(v, rc):
    return v.encryption_key_id is not None


# Admin metadata users see among the metadata, as Cinder shows them.
# extend_new_size: the size an attached extend awaits the compute host for (3.71).
VISIBLE_ADMIN_METADATA = ('readonly', 'attached_mode', 'extend_new_size')


def _metadata(v, rc):
    md = F.metadata_of(v)
    admin = getattr(v, 'admin_metadata', None)
    if admin:
        md.update((k, admin[k]) for k in VISIBLE_ADMIN_METADATA if k in admin)
    return md


def _image_metadata(v, rc):
    # Set by the handler on show and detail listings; only present when not empty.
    return getattr(v, 'image_metadata', None) or None


def _shared_targets_bool(v, rc):
    # Before 3.69 shared_targets is never null: unknown means "use locks".
    s = v.shared_targets
    return True if s is None else s


def _name_id(v, rc):
    # The volume whose backend name this one uses (set by migration); none yet.
    return getattr(v, '_name_id', None)


def _attachments(v, rc):
    """Cinder's attachments of a volume: the complete (attached) ones.

    The service layer fetched them before rendering (``attachment_list``: listings in
    one query, a single volume by ``volume.attach.reads.with_attachments``).
    """
    found = getattr(v, 'attachment_list', None) or []
    return [{'id': v.id, 'attachment_id': a.id, 'volume_id': v.id,
             'server_id': a.instance_uuid,
             'host_name': a.attached_host if rc.is_admin else None,
             'device': a.mountpoint, 'attached_at': F.format_time(a.attach_time)}
            for a in found]


FIELDS = F.FieldTable([
    F.Field('id', F.attr('id'), kinds=F.ALL_KINDS),
    F.Field('name', F.attr('display_name'), kinds=F.ALL_KINDS),
    F.Field('links', links.resource_links, kinds=F.ALL_KINDS),
    F.Field('status', _status),
    F.Field('size', F.attr('size')),
    F.Field('availability_zone', F.attr('availability_zone')),
    F.Field('created_at', F.time_attr('created_at')),
    F.Field('updated_at', F.time_attr('updated_at')),
    F.Field('description', F.attr('display_description')),
    F.Field('volume_type', _volume_type_name),
    F.Field('snapshot_id', F.attr('snapshot_id')),
    F.Field('source_volid', F.attr('source_volid')),
    F.Field('metadata', _metadata),
    F.Field('user_id', F.attr('user_id')),
    F.Field('bootable', _bootable),
    F.Field('encrypted', _encrypted),
    F.Field('replication_status', F.attr('replication_status')),
    F.Field('consistencygroup_id', F.const(None)),
    F.Field('multiattach', F.attr('multiattach')),
    F.Field('attachments', _attachments),
    F.Field('migration_status', F.attr('migration_status'), admin=True),
    # Attributes Cinder's extensions add to show and detail listings.
    F.Field('os-vol-tenant-attr:tenant_id', F.attr('project_id'), kinds=F.FULL_ONLY),
    F.Field('os-vol-host-attr:host', F.attr('host'), admin=True, kinds=F.FULL_ONLY),
    F.Field('os-vol-mig-status-attr:migstat', F.attr('migration_status'), admin=True,
            kinds=F.FULL_ONLY),
    F.Field('os-vol-mig-status-attr:name_id', _name_id, admin=True, kinds=F.FULL_ONLY),
    F.Field('volume_image_metadata', _image_metadata, kinds=F.FULL_ONLY, omit_none=True),
    # Microversioned fields.
    F.Field('group_id', F.attr('group_id'), since='3.13'),
    F.Field('provider_id', F.attr('provider_id'), since='3.21', admin=True),
    F.Field('shared_targets', _shared_targets_bool, since='3.48', until='3.68'),
    F.Field('shared_targets', F.attr('shared_targets'), since='3.69'),
    F.Field('service_uuid', F.attr('service_uuid'), since='3.48'),
    F.Field('cluster_name', F.attr('cluster_name'), since='3.61', admin=True),
    F.Field('volume_type_id', F.attr('volume_type_id'), since='3.63'),
    F.Field('encryption_key_id', F.attr('encryption_key_id'), since='3.64', omit_none=True),
    F.Field('consumes_quota', F.attr('use_quota'), since='3.65'),
])


def _plan(rc, kind):
    return FIELDS.plan(kind, rc.version, rc.is_admin)


def show(req, volume, kind=F.FULL):
    """``{"volume": {...}}``: FULL for GET, DETAIL for create/update responses."""
    rc = links.RenderContext(req, COLLECTION)
    return {'volume': _plan(rc, kind).render(volume, rc)}


def index(req, volumes, detail, limit=None, count=None):
    """A list response: summary entries, or full ones for ``/volumes/detail``."""
    rc = links.RenderContext(req, COLLECTION)
    plan = _plan(rc, F.FULL if detail else F.SUMMARY)
    body = {'volumes': plan.render_all(volumes, rc)}
    next_links = links.collection_links(
        rc, volumes, limit, 'volumes/detail' if detail else 'volumes', count)
    if next_links:
        body['volumes_links'] = next_links
    if count is not None:
        body['count'] = count
    return body


def summary(total_count, total_size, metadata=None):
    body = {'total_count': total_count, 'total_size': total_size}
    if metadata is not None:
        body['metadata'] = metadata
    return {'volume-summary': body}
