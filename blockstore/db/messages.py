"""Database queries of user messages (the API's /messages): list, get, delete."""

from oslo_db.sqlalchemy import utils as sqlalchemyutils
import sqlalchemy as sa

from blockstore.common import exception
from blockstore.db.api import _reader, _writer
from blockstore.db import filters as db_filters
from blockstore.db import models
from blockstore.db.models import utcnow

# Columns a listing may filter on (strings: a value of any text is a valid comparison on
# every database), and sort on.
FILTER_COLUMNS = frozenset(('id', 'project_id', 'request_id', 'resource_type',
                            'resource_uuid', 'event_id', 'message_level'))
SORT_COLUMNS = FILTER_COLUMNS | {'created_at', 'expires_at'}


def _live(q, project_id):
    m = models.Message
    q = q.filter(sa.or_(m.expires_at.is_(None), m.expires_at > utcnow()))
    if project_id is not None:
        q = q.filter(m.project_id == project_id)
    return q


def message_get(context, message_id, project_id=None):
    """A message of the project (any project when None); MessageNotFound otherwise."""
    with _reader(context) as session:
        msg = _live(session.query(models.Message).filter(models.Message.id == message_id),
                    project_id).first()
    if msg is None:
        raise exception.MessageNotFound(message_id=message_id)
    return msg


def message_get_all(context, project_id=None, filters=None, marker=None, limit=None,
                    offset=None, sort_keys=None, sort_dirs=None):
    """Unexpired messages, filtered (column -> value), sorted and paginated."""
    m = models.Message
    sort_keys = list(sort_keys or ['created_at'])
    sort_dirs = list(sort_dirs or ['desc'] * len(sort_keys))
    if 'id' not in sort_keys:
        sort_keys.append('id')
        sort_dirs.append(sort_dirs[-1])
    for key in filters or {}:
        if key not in FILTER_COLUMNS:
            raise exception.InvalidInput(reason='Invalid filter key: %s' % key)
    for key in sort_keys:
        if key not in SORT_COLUMNS:
            raise exception.InvalidInput(reason='Invalid sort key: %s' % key)
    with _reader(context) as session:
        q = _live(session.query(m), project_id)
        for key, value in (filters or {}).items():
            q = q.filter(db_filters.condition(getattr(m, key), value))
        marker_row = None
        if marker is not None:
            marker_row = _live(session.query(m).filter(m.id == marker), project_id).first()
            if marker_row is None:
                raise exception.MarkerNotFound(marker=marker)
        q = sqlalchemyutils.paginate_query(q, m, limit, sort_keys, marker=marker_row,
                                           sort_dirs=sort_dirs)
        if offset:
            q = q.offset(offset)
        return q.all()


def message_destroy(context, message_id):
    with _writer(context) as session:
        return session.execute(sa.delete(models.Message).where(
            models.Message.id == message_id)).rowcount
