"""User messages: why an asynchronous operation failed, readable through the API."""

import datetime

from oslo_log import log as logging

from blockstore.db import api as db
from blockstore.db.models import utcnow

LOG = logging.getLogger(__name__)

MESSAGE_TTL = datetime.timedelta(days=30)


def record(ctx, project_id, resource_type, resource_uuid, event_id, detail, level='ERROR'):
    """Store a message for the resource's project; never fails the caller."""
    try:
        db.message_create(ctx, {
            'project_id': project_id, 'request_id': getattr(ctx, 'request_id', None),
            'resource_type': resource_type, 'resource_uuid': resource_uuid,
            'event_id': event_id, 'message_level': level, 'detail': detail,
            'expires_at': utcnow() + MESSAGE_TTL})
    except Exception:
        LOG.exception('Could not record user message for %s %s', resource_type, resource_uuid)
