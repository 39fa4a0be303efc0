"""Volume transfer views in Cinder's wire format (one field table per shape)."""

from blockstore.api.views import fields as F
from blockstore.api.views import links

SUMMARY, DETAIL, CREATE = F.SUMMARY, F.DETAIL, 'create'
_ALL = (SUMMARY, DETAIL, CREATE)

FIELDS = F.FieldTable([
    F.Field('id', F.attr('id'), kinds=_ALL),
    F.Field('created_at', F.time_attr('created_at'), kinds=(DETAIL, CREATE)),
    F.Field('name', F.attr('display_name'), kinds=_ALL),
    F.Field('volume_id', F.attr('volume_id'), kinds=_ALL),
    F.Field('auth_key', F.attr('auth_key'), kinds=(CREATE,)),
    F.Field('links', links.resource_links, kinds=_ALL),
    F.Field('no_snapshots', F.attr('no_snapshots'), since='3.55', kinds=(DETAIL, CREATE)),
    F.Field('destination_project_id', F.attr('destination_project_id'), since='3.57',
            kinds=(DETAIL,)),
    F.Field('source_project_id', F.attr('source_project_id'), since='3.57', kinds=(DETAIL,)),
    F.Field('accepted', F.attr('accepted'), since='3.57', kinds=(DETAIL,)),
])


def show(req, transfer, kind, collection):
    rc = links.RenderContext(req, collection)
    return {'transfer': FIELDS.plan(kind, rc.version, rc.is_admin).render(transfer, rc)}


def index(req, transfers, detail, collection, limit=None):
    rc = links.RenderContext(req, collection)
    plan = FIELDS.plan(DETAIL if detail else SUMMARY, rc.version, rc.is_admin)
    body = {'transfers': plan.render_all(transfers, rc)}
    next_links = links.collection_links(rc, transfers, limit,
                                        collection + ('/detail' if detail else ''))
    if next_links:
        body['transfers_links'] = next_links
    return body
