"""Queries for volume transfers.

Creating, accepting and cancelling a transfer each change the volume's state
(through the transition table, by a ``claim`` callable the service layer
passes) and the transfer row in one transaction: a transfer never exists
without its volume awaiting it, and an accepted transfer moved its volume.
"""

from oslo_db.sqlalchemy import utils as sqlalchemyutils
from sqlalchemy import update

from blockstore.common import exception
from blockstore.db.api import _reader, _writer, new_uuid
from blockstore.db import filters as db_filters
from blockstore.db import models

SORT_COLUMNS = frozenset(('id', 'display_name', 'volume_id', 'created_at', 'updated_at'))
FILTER_COLUMNS = frozenset(('id', 'display_name', 'volume_id', 'source_project_id',
                            'destination_project_id', 'no_snapshots'))


class _Lost(Exception):
    """Roll the transaction back: a claim inside it lost."""


def create(context, values, claim):
    """Insert a transfer if ``claim()`` (the volume's transition) wins; else None."""
    values = dict(values)
    values.setdefault('id', new_uuid())
    row = models.Transfer(**values)
    try:
        with _writer(context) as session:
            if not claim():
                raise _Lost()
            session.add(row)
            session.flush()
            session.refresh(row)
    except _Lost:
        return None
    return row


def get(context, transfer_id, project_id=None):
    t = models.Transfer
    with _reader(context) as session:
        q = session.query(t).filter(t.id == transfer_id, t.deleted.is_(False))
        if project_id is not None:
            q = q.filter(t.source_project_id == project_id)
        row = q.first()
    if row is None:
        raise exception.NotFound('Transfer %s could not be found.' % transfer_id)
    return row


def get_all(context, project_id=None, filters=None, marker=None, limit=None, offset=None,
            sort_keys=None, sort_dirs=None):
    t = models.Transfer
    sort_keys = list(sort_keys or ['created_at'])
    sort_dirs = list(sort_dirs or ['asc'] * len(sort_keys))
    if 'id' not in sort_keys:
        sort_keys.append('id')
        sort_dirs.append(sort_dirs[-1])
    for key in sort_keys:
        if key not in SORT_COLUMNS:
            raise exception.InvalidInput(reason='Invalid sort key: %s' % key)
    with _reader(context) as session:
        q = session.query(t).filter(t.deleted.is_(False))
        if project_id is not None:
            q = q.filter(t.source_project_id == project_id)
        for key, value in (filters or {}).items():
            if key not in FILTER_COLUMNS:
                raise exception.InvalidInput(reason='Invalid filter key: %s' % key)
            q = q.filter(db_filters.condition(getattr(t, key), value))
        marker_row = None
        if marker is not None:
            marker_row = session.query(t).filter(t.id == marker).first()
            if marker_row is None:
                raise exception.MarkerNotFound(marker=marker)
        q = sqlalchemyutils.paginate_query(q, t, limit, sort_keys, marker=marker_row,
                                           sort_dirs=sort_dirs)
        if offset:
            q = q.offset(offset)
        return q.all()


def _close(session, transfer_id, values):
    t = models.Transfer
    values = dict(values, deleted=True, deleted_at=models.utcnow(), updated_at=models.utcnow())
    return session.execute(update(t).where(t.id == transfer_id, t.deleted.is_(False))
                           .values(**values).execution_options(
                               synchronize_session=False)).rowcount == 1


def accept(context, transfer, claim, project_id, user_id):
    """Close the transfer, move the volume (``claim()``) and, unless ``no_snapshots``,
    its snapshots to ``project_id``; all or nothing. False if someone else won."""
    s = models.Snapshot
    try:
        with _writer(context) as session:
            if not _close(session, transfer.id, {'accepted': True,
                                                 'destination_project_id': project_id}):
                raise _Lost()
            if not claim():
                raise _Lost()
            if not transfer.no_snapshots:
                session.execute(update(s).where(s.volume_id == transfer.volume_id,
                                                s.deleted.is_(False)).values(
                    project_id=project_id, user_id=user_id, updated_at=models.utcnow())
                    .execution_options(synchronize_session=False))
    except _Lost:
        return False
    return True


def destroy(context, transfer_id, claim):
    """Close a transfer and give its volume back (``claim()``; it may have moved on)."""
    with _writer(context) as session:
        if not _close(session, transfer_id, {}):
            return False
        claim()
    return True
