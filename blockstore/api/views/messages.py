"""User messages (3.3) in Cinder's wire format."""

from blockstore.api.views import fields as F
from blockstore.api.views import links

COLLECTION = 'messages'

FIELDS = F.FieldTable([
    F.Field('id', F.attr('id')),
    F.Field('event_id', F.attr('event_id')),
    F.Field('user_message', F.attr('user_message')),
    F.Field('message_level', F.attr('message_level')),
    F.Field('created_at', F.time_attr('created_at')),
    F.Field('guaranteed_until', F.time_attr('expires_at')),
    F.Field('request_id', F.attr('request_id')),
    F.Field('links', links.resource_links),
    # Cinder shows these only when set.
    F.Field('resource_type', F.attr('resource_type'), omit_none=True),
    F.Field('resource_uuid', F.attr('resource_uuid'), omit_none=True),
])


def show(req, message):
    rc = links.RenderContext(req, COLLECTION)
    return {'message': FIELDS.plan(F.DETAIL, rc.version, rc.is_admin).render(message, rc)}


def index(req, messages, limit=None):
    rc = links.RenderContext(req, COLLECTION)
    plan = FIELDS.plan(F.DETAIL, rc.version, rc.is_admin)
    body = {'messages': plan.render_all(messages, rc)}
    next_links = links.collection_links(rc, messages, limit, COLLECTION)
    if next_links:
        body['messages_links'] = next_links
    return body
