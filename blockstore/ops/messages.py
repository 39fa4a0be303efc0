"""User messages: what blockstore records, rendered as Cinder's message API shows it.

Services record a message with one of blockstore's event names (see
``common/messages.py``). Cinder identifies a message by ``event_id`` =
``VOLUME_<resource type>_<action id>_<detail id>`` and shows
``user_message`` = "<action>: <detail>" from fixed tables (never the raw
error, which may say more than a user should see; operators keep it in the
``detail`` column). ``EVENTS`` maps each blockstore event to Cinder's action
and default detail.
"""

import collections

from blockstore.db import messages as messages_db

Event = collections.namedtuple('Event', 'resource_type action detail')

# Cinder's message_field.Action entries blockstore records (id, text).
SCHEDULE_ALLOCATE_VOLUME = ('001', 'schedule allocate volume')
COPY_VOLUME_TO_IMAGE = ('003', 'copy volume to image')
EXTEND_VOLUME = ('007', 'extend volume')
CREATE_VOLUME_FROM_BACKEND = ('008', 'create volume from backend storage')
SNAPSHOT_CREATE = ('009', 'create snapshot')
SNAPSHOT_DELETE = ('010', 'delete snapshot')
REIMAGE_VOLUME = ('016', 'reimage volume')
# Cinder records no message when a volume delete fails; blockstore does, with an
# action id outside Cinder's range (Cinder's go up to 016).
DELETE_VOLUME_FROM_BACKEND = ('101', 'delete volume from backend storage')
# Cinder records none for a failed migration either (its volume shows migstat error).
MIGRATE_VOLUME = ('102', 'migrate volume')

# Cinder's message_field.Detail entries (id, text).
UNKNOWN_ERROR = ('001', 'An unknown error occurred.')
DRIVER_NOT_INITIALIZED = ('002', 'Driver is not initialized at present.')
NO_BACKEND_AVAILABLE = ('003', 'Could not find any available weighted backend.')
DRIVER_FAILED_EXTEND = ('010', 'Volume Driver failed to extend volume.')
DRIVER_FAILED_CREATE = ('012', 'Driver failed to create the volume.')
SNAPSHOT_CREATE_ERROR = ('013', 'Snapshot failed to create.')
SNAPSHOT_DELETE_ERROR = ('016', 'Snapshot failed to delete.')

VOLUME = 'VOLUME'
VOLUME_SNAPSHOT = 'VOLUME_SNAPSHOT'

EVENTS = {
    'SCHEDULE_ALLOCATE_VOLUME': Event(VOLUME, SCHEDULE_ALLOCATE_VOLUME, NO_BACKEND_AVAILABLE),
    'CREATE_VOLUME_FROM_BACKEND': Event(VOLUME, CREATE_VOLUME_FROM_BACKEND,
                                        DRIVER_FAILED_CREATE),
    'DELETE_VOLUME_FROM_BACKEND': Event(VOLUME, DELETE_VOLUME_FROM_BACKEND, UNKNOWN_ERROR),
    'MIGRATE_VOLUME': Event(VOLUME, MIGRATE_VOLUME, UNKNOWN_ERROR),
    'EXTEND_VOLUME_FROM_BACKEND': Event(VOLUME, EXTEND_VOLUME, DRIVER_FAILED_EXTEND),
    'COPY_VOLUME_TO_IMAGE': Event(VOLUME, COPY_VOLUME_TO_IMAGE, UNKNOWN_ERROR),
    'REIMAGE_VOLUME': Event(VOLUME, REIMAGE_VOLUME, UNKNOWN_ERROR),
    'CREATE_SNAPSHOT_ON_BACKEND': Event(VOLUME_SNAPSHOT, SNAPSHOT_CREATE,
                                        SNAPSHOT_CREATE_ERROR),
    'DELETE_SNAPSHOT_FROM_BACKEND': Event(VOLUME_SNAPSHOT, SNAPSHOT_DELETE,
                                          SNAPSHOT_DELETE_ERROR),
}

# Resource types as recorded (the resource's name in upper case) -> Cinder's.
RESOURCE_TYPES = {'VOLUME': VOLUME, 'SNAPSHOT': VOLUME_SNAPSHOT, 'BACKUP': 'VOLUME_BACKUP'}

# Recorded error texts that say which of Cinder's details applies.
_DETAIL_HINTS = (
    ('Volume driver not ready', DRIVER_NOT_INITIALIZED),
    ('No valid backend', NO_BACKEND_AVAILABLE),
)


def _detail(event, text):
    for hint, detail in _DETAIL_HINTS:
        if text and hint in text:
            return detail
    if event.action == SCHEDULE_ALLOCATE_VOLUME and text and 'No valid backend' not in text:
        return UNKNOWN_ERROR
    return event.detail


class Message:
    """A stored message with Cinder's rendering attributes."""

    def __init__(self, row):
        self.id = row.id
        self.project_id = row.project_id
        self.request_id = row.request_id
        self.created_at = row.created_at
        self.expires_at = row.expires_at
        self.message_level = row.message_level
        self.resource_uuid = row.resource_uuid
        self.resource_type = RESOURCE_TYPES.get(row.resource_type, row.resource_type)
        event = EVENTS.get(row.event_id)
        if event is None:
            # Not one of ours: show it as recorded.
            self.event_id = row.event_id
            self.user_message = row.detail or UNKNOWN_ERROR[1]
        else:
            detail = _detail(event, row.detail)
            self.event_id = 'VOLUME_%s_%s_%s' % (event.resource_type, event.action[0],
                                                 detail[0])
            self.user_message = '%s: %s' % (event.action[1], detail[1])


def recorded_event(cinder_event_id):
    """The recorded event name a Cinder ``event_id`` filter means (itself if none)."""
    for name, event in EVENTS.items():
        if cinder_event_id.startswith('VOLUME_%s_%s_' % (event.resource_type,
                                                         event.action[0])):
            return name
    return cinder_event_id


def _scope(ctx):
    return None if ctx.is_admin else ctx.project_id


def get(ctx, message_id):
    return Message(messages_db.message_get(ctx, message_id, project_id=_scope(ctx)))


def get_all(ctx, filters=None, marker=None, limit=None, offset=None, sort_keys=None,
            sort_dirs=None):
    """Messages of the caller's project (every project's for admins).

    ``filters`` use the API's values (Cinder's resource types and event ids).
    """
    filters = dict(filters or {})
    if 'resource_type' in filters:
        wanted = filters['resource_type']
        filters['resource_type'] = next(
            (k for k, v in RESOURCE_TYPES.items() if v == wanted), wanted)
    event_id = filters.get('event_id')
    if event_id is not None:
        filters['event_id'] = recorded_event(event_id)
    rows = messages_db.message_get_all(ctx, project_id=_scope(ctx), filters=filters,
                                       marker=marker, limit=limit, offset=offset,
                                       sort_keys=sort_keys, sort_dirs=sort_dirs)
    msgs = [Message(r) for r in rows]
    if event_id is not None:
        # One recorded event maps to several details (by its recorded reason).
        msgs = [m for m in msgs if m.event_id == event_id]
    return msgs


def delete(ctx, message_id):
    """Delete a message of the caller's project (any, for admins); 404 otherwise."""
    msg = messages_db.message_get(ctx, message_id, project_id=_scope(ctx))
    messages_db.message_destroy(ctx, msg.id)

