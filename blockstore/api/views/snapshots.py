"""Snapshot views in Cinder's wire format, driven by one field table.

Items may be ``objects.Snapshot`` or DB rows (``models.Snapshot``).
"""

from blockstore.api.views import fields as F
from blockstore.api.views import links

COLLECTION = 'snapshots'


def _metadata(s, rc):
    return F.metadata_of(s)


FIELDS = F.FieldTable([
    F.Field('id', F.attr('id'), kinds=F.ALL_KINDS),
    F.Field('created_at', F.time_attr('created_at'), kinds=F.ALL_KINDS),
    F.Field('updated_at', F.time_attr('updated_at'), kinds=F.ALL_KINDS),
    F.Field('name', F.attr('display_name'), kinds=F.ALL_KINDS),
    F.Field('description', F.attr('display_description'), kinds=F.ALL_KINDS),
    F.Field('volume_id', F.attr('volume_id'), kinds=F.ALL_KINDS),
    F.Field('status', F.attr('status'), kinds=F.ALL_KINDS),
    F.Field('size', F.attr('volume_size'), kinds=F.ALL_KINDS),
    F.Field('metadata', _metadata, kinds=F.ALL_KINDS),
    # Cinder's extended snapshot attributes extension: show and detail listings.
    F.Field('os-extended-snapshot-attributes:progress', F.attr('progress'),
            kinds=F.FULL_ONLY),
    F.Field('os-extended-snapshot-attributes:project_id', F.attr('project_id'),
            kinds=F.FULL_ONLY),
    # Microversioned fields (detail views only).
    F.Field('group_snapshot_id', F.attr('group_snapshot_id'), since='3.14'),
    F.Field('user_id', F.attr('user_id'), since='3.41'),
    F.Field('consumes_quota', F.attr('use_quota'), since='3.65'),
])


def show(req, snapshot, kind=F.FULL):
    rc = links.RenderContext(req, COLLECTION)
    return {'snapshot': FIELDS.plan(kind, rc.version, rc.is_admin).render(snapshot, rc)}


def index(req, snapshots, detail, limit=None, count=None):
    rc = links.RenderContext(req, COLLECTION)
    plan = FIELDS.plan(F.FULL if detail else F.SUMMARY, rc.version, rc.is_admin)
    body = {'snapshots': plan.render_all(snapshots, rc)}
    next_links = links.collection_links(
        rc, snapshots, limit, 'snapshots/detail' if detail else 'snapshots', count)
    if next_links:
        body['snapshots_links'] = next_links
    if count is not None:
        body['count'] = count
    return body
