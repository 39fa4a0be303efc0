"""Queries of volume attachments, and what a volume's status follows from them.

Every change of an attachment runs inside a transaction that first claims
the volume row (a guarded touch through the transition table), changes the
attachment with a conditional update, then *settles* the volume
(``objects.states.settle``, from the facts ``settle_facts_in`` reads here):
its status and attach_status are recomputed from its live attachments
before the transaction commits. So a volume's status can never disagree
with its attachments, and two requests changing one volume's attachments
serialise on the volume row.
"""

from oslo_db.sqlalchemy import utils as sqlalchemyutils
from oslo_serialization import jsonutils
import sqlalchemy as sa
from sqlalchemy import select

from blockstore.common import exception
from blockstore.common.status import ATTACHED
from blockstore.db import api as db
from blockstore.db import idempotency
from blockstore.db import models

_MODEL = models.VolumeAttachment

# Filters the attachments listing accepts (Cinder's resource_filters names).
FILTER_COLUMNS = {'volume_id': 'volume_id', 'status': 'attach_status',
                  'attach_status': 'attach_status', 'instance_id': 'instance_uuid',
                  'instance_uuid': 'instance_uuid', 'attached_host': 'attached_host',
                  'project_id': 'project_id'}
SORT_KEYS = {'created_at', 'updated_at', 'id', 'volume_id', 'attach_status', 'instance_uuid'}


class AttachmentNotFound(exception.NotFound):
    msg_fmt = 'Attachment %(attachment_id)s could not be found.'


def _decode(row):
    """Plain attributes, with connector/connection_info parsed from JSON."""
    rec = db.Record({c.name: getattr(row, c.name) for c in _MODEL.__table__.columns})
    rec.connector = jsonutils.loads(rec.connector) if rec.connector else None
    rec.connection_info = jsonutils.loads(rec.connection_info) if rec.connection_info else None
    rec.extra_connectors = jsonutils.loads(rec.extra_connectors) if rec.extra_connectors else []
    return rec


def attachment_get(context, attachment_id, project_id=None, read_deleted=False):
    with db._reader(context) as session:
        q = select(_MODEL).where(_MODEL.id == attachment_id)
        if not read_deleted:
            q = q.where(_MODEL.deleted == sa.false())
        if project_id is not None:
            q = q.where(_MODEL.project_id == project_id)
        row = session.execute(q).scalars().first()
        if row is None:
            raise AttachmentNotFound(attachment_id=attachment_id)
        return _decode(row)


def attachment_get_all(context, filters=None, project_id=None, marker=None, limit=None,
                       sort_keys=None, sort_dirs=None, offset=None):
    sort_keys = list(sort_keys or ['created_at'])
    sort_dirs = list(sort_dirs or ['desc'] * len(sort_keys))
    if 'id' not in sort_keys:
        sort_keys.append('id')
        sort_dirs.append(sort_dirs[-1])
    for key in sort_keys:
        if key not in SORT_KEYS:
            raise exception.InvalidInput(reason='Invalid sort key: %s' % key)
    with db._reader(context) as session:
        q = session.query(_MODEL).filter(_MODEL.deleted == sa.false())
        if project_id is not None:
            q = q.filter(_MODEL.project_id == project_id)
        for key, value in (filters or {}).items():
            col = getattr(_MODEL, FILTER_COLUMNS[key])
            if isinstance(value, (list, tuple, set)):
                q = q.filter(col.in_(list(value)))
            else:
                q = q.filter(col == value)
        marker_row = None
        if marker is not None:
            marker_row = session.query(_MODEL).filter(_MODEL.id == marker).first()
            if marker_row is None:
                raise exception.MarkerNotFound(marker=marker)
        q = sqlalchemyutils.paginate_query(q, _MODEL, limit, sort_keys, marker=marker_row,
                                           sort_dirs=sort_dirs)
        if offset:
            q = q.offset(offset)
        return [_decode(r) for r in q.all()]


def attached_of_volumes(context, volume_ids):
    """volume id -> its attached (complete) attachments, for volume views."""
    found = {i: [] for i in volume_ids}
    if not volume_ids:
        return found
    with db._reader(context) as session:
        for start in range(0, len(volume_ids), 500):
            chunk = list(volume_ids[start:start + 500])
            rows = session.execute(
                select(_MODEL.id, _MODEL.volume_id, _MODEL.instance_uuid, _MODEL.attached_host,
                       _MODEL.mountpoint, _MODEL.attach_time).where(
                    _MODEL.volume_id.in_(chunk), _MODEL.deleted == sa.false(),
                    _MODEL.attach_status == ATTACHED).order_by(_MODEL.created_at))
            for r in rows:
                found[r.volume_id].append(db.Record(r._mapping))
    return found


def live_of_volume(session, volume_id):
    """Live attachments of a volume, inside ``session`` (rows, oldest first)."""
    return [_decode(r) for r in session.execute(
        select(_MODEL).where(_MODEL.volume_id == volume_id, _MODEL.deleted == sa.false())
        .order_by(_MODEL.created_at, _MODEL.id)).scalars()]


def live_attachments(context, volume_id):
    with db._reader(context) as session:
        return live_of_volume(session, volume_id)


def insert(session, values):
    """Insert an attachment inside ``session``; returns its id."""
    values = dict(values)
    values.setdefault('id', db.new_uuid())
    for key in ('connector', 'connection_info', 'extra_connectors'):
        if values.get(key) is not None and not isinstance(values[key], str):
            values[key] = jsonutils.dumps(values[key])
    idempotency.put(session, 'attachment', values['id'])   # a keyed create: its key first
    session.add(_MODEL(**values))
    session.flush()
    return values['id']


def encode(values):
    """Values of an attachment update, with JSON columns serialised."""
    values = dict(values)
    for key in ('connector', 'connection_info', 'extra_connectors'):
        if values.get(key) is not None and not isinstance(values[key], str):
            values[key] = jsonutils.dumps(values[key])
    return values


def settle_facts_in(session, volume_id):
    """(volume status or None, attach_status of each live attachment), inside ``session``.

    What ``objects.states.settle`` decides a volume's status from.
    """
    volume = session.execute(select(models.Volume.status).where(
        models.Volume.id == volume_id)).first()
    statuses = [r[0] for r in session.execute(
        select(_MODEL.attach_status).where(_MODEL.volume_id == volume_id,
                                           _MODEL.deleted == sa.false()))]
    return (volume.status if volume else None), statuses


def set_attach_status_in(session, volume_id, attach_status):
    """Write a volume's attach_status (settled from its attachments), inside ``session``."""
    session.execute(sa.update(models.Volume).where(
        models.Volume.id == volume_id, models.Volume.attach_status != attach_status)
        .values(attach_status=attach_status)
        .execution_options(synchronize_session=False))


def purge_deleted(session, before):
    return session.execute(sa.delete(_MODEL).where(
        _MODEL.deleted.is_(True), _MODEL.deleted_at < before)).rowcount
