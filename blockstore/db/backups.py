"""Queries of backups (``backups``, ``backup_metadata``).

Status changes go through ``objects.states`` (the BACKUP table and
``db.api.conditional_update``, which knows backups as ``'backup'``); this
module inserts, reads, lists and updates the other columns. Listings reuse
``db.api._get_all`` (Cinder's filters, sort keys, markers) and return
read-only records; ``num_dependent_backups`` of what is read is the number of
live incremental backups whose parent it is, counted then.
"""

import sqlalchemy as sa
from sqlalchemy import select, update

from blockstore.common import exception
from blockstore.common.status import AVAILABLE
from blockstore.db import api as db
from blockstore.db import idempotency
from blockstore.db import models
from blockstore.db.api import _reader, _retry_on_deadlock, _writer, new_uuid

# Columns a listing may sort or filter on (Cinder's sort key 'name' is display_name).
SORT_KEYS = frozenset(db._LIST_COLUMNS['backup'])


def _dependent_counts(session, backup_ids):
    """{backup id: live children} of these backups (absent: none)."""
    if not backup_ids:
        return {}
    b = models.Backup
    q = (select(b.parent_id, sa.func.count()).where(b.parent_id.in_(list(backup_ids)),
                                                     b.deleted == sa.false())
         .group_by(b.parent_id))
    return {parent: int(n) for parent, n in session.execute(q)}


def _with_dependents(session, row):
    n = _dependent_counts(session, [row.id]).get(row.id, 0)
    sa.orm.attributes.set_committed_value(row, 'num_dependent_backups', n)
    return row


class _Lost(Exception):
    """Roll the transaction back: a claim inside it lost."""


@_retry_on_deadlock
def backup_create(context, values, metadata=None, work=None, claim=None):
    """Insert a backup (and, atomically with it, its key and the work record of its create).

    ``claim()``: transitions of the backup's sources (its volume or snapshot,
    its parent) run first in the same transaction, with the same context; if
    it returns False nothing is inserted, everything is rolled back and None
    is returned.
    """
    values = dict(values)
    values.setdefault('id', new_uuid())
    row = models.Backup(**values)
    row.backup_metadata = [models.BackupMetadata(key=k, value=v)
                           for k, v in (metadata or {}).items()]
    try:
        with _writer(context) as session:
            if claim is not None and not claim():
                raise _Lost()
            idempotency.put(session, 'backup', values['id'])   # a keyed create: its key
            session.add(row)
            session.flush()
            if work:
                db._put_worker(session, 'backup', row.id, work)
            session.refresh(row)
            sa.orm.attributes.set_committed_value(row, 'num_dependent_backups', 0)
    except _Lost:
        return None
    return row


def backup_get(context, backup_id, project_id=None, read_deleted=False):
    """The backup's row (its metadata loaded); BackupNotFound (404) when absent."""
    b = models.Backup
    with _reader(context) as session:
        q = session.query(b).filter(b.id == backup_id)
        if not read_deleted:
            q = q.filter(b.deleted == sa.false())
        if project_id is not None:
            q = q.filter(b.project_id == project_id)
        row = q.first()
        if row is None:
            raise exception.BackupNotFound(backup_id=backup_id)
        return _with_dependents(session, row)


def backup_get_all(context, filters=None, marker=None, limit=None, sort_keys=None,
                   sort_dirs=None, project_id=None, offset=None):
    """A page of live backups: records with ``metadata`` and ``num_dependent_backups``.

    ``filters``: column -> value, list, ``db.filters.Like``/``Compare``, and
    ``metadata`` ({key: value}, all must match). Sort keys are column names
    (the API maps Cinder's ``name`` to ``display_name``); unknown keys: 400.
    """
    rows = db._get_all(context, 'backup', filters=filters, marker=marker, limit=limit,
                       sort_keys=sort_keys, sort_dirs=sort_dirs, project_id=project_id,
                       offset=offset)
    if rows:
        with _reader(context) as session:
            counts = _dependent_counts(session, [r.id for r in rows])
        for r in rows:
            r.num_dependent_backups = counts.get(r.id, 0)
    return rows


def backup_count(context, filters=None, project_id=None):
    """How many live backups match (``with_count``, 3.45)."""
    return db.count(context, 'backup', filters, project_id)[0]


def backup_update(context, backup_id, values):
    """Write columns other than the status (which only a transition changes)."""
    values = dict(values)
    if 'status' in values:
        raise AssertionError('status changes go through objects.states.transition')
    values.setdefault('updated_at', models.utcnow())
    b = models.Backup
    with _writer(context) as session:
        n = session.execute(update(b).where(b.id == backup_id).values(**values)
                            .execution_options(synchronize_session=False)).rowcount
    if not n:
        raise exception.BackupNotFound(backup_id=backup_id)


def backup_metadata_update(context, backup_id, metadata, delete=False):
    """Set these keys (``delete``: and remove every other); returns the whole metadata."""
    backup_get(context, backup_id)
    return db._metadata_update(context, 'backup', backup_id, metadata, delete)


def backup_host_update(context, current_host, new_host):
    """Give the live backups of one backup service host to another; how many moved.

    ``blockstore-manage backup update_backup_host``.
    """
    b = models.Backup
    with _writer(context) as session:
        return session.execute(update(b).where(b.host == current_host, b.deleted == sa.false())
                               .values(host=new_host, updated_at=models.utcnow())
                               .execution_options(synchronize_session=False)).rowcount


def dependent_count(context, backup_id):
    """Live incremental backups whose parent is this backup."""
    with _reader(context) as session:
        return _dependent_counts(session, [backup_id]).get(backup_id, 0)


def latest_available(context, volume_id):
    """The newest available backup of a volume (the parent of an incremental), or None.

    Newest by data_timestamp (when its data was taken), then created_at.
    """
    b = models.Backup
    with _reader(context) as session:
        row = (session.query(b).filter(b.volume_id == volume_id, b.deleted == sa.false(),
                                       b.status == AVAILABLE)
               .order_by(sa.desc(sa.func.coalesce(b.data_timestamp, b.created_at)),
                         sa.desc(b.created_at), sa.desc(b.id))
               .first())
        if row is None:
            return None
        return _with_dependents(session, row)


def running_count_by_host(context):
    """{backup service host: work records of its backups} (a host with none is absent).

    What choosing a backup service weighs: the live backup service with the
    fewest backups, restores and deletes running.
    """
    b, w = models.Backup, models.Worker
    q = (select(b.host, sa.func.count())
         .join(w, sa.and_(w.resource_type == 'backup', w.resource_id == b.id))
         .where(b.host.is_not(None))
         .group_by(b.host))
    with _reader(context) as session:
        return {host: int(n) for host, n in session.execute(q)}


def live_backups_of_volume(context, volume_id):
    """Ids of a volume's live backups, oldest first."""
    b = models.Backup
    with _reader(context) as session:
        return list(session.execute(
            select(b.id).where(b.volume_id == volume_id, b.deleted == sa.false())
            .order_by(b.created_at, b.id)).scalars())


def backup_destroy(context, backup_id):
    """Remove a backup row outright (undo a create that lost its quota check)."""
    db.hard_delete(context, 'backup', backup_id)
