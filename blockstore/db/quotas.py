"""Database queries of quotas: limits (per project, per class), usage counts, the lock.

Usage is never stored: it is counted from the volumes, snapshots and backups
tables (``volumes_quota_idx`` / ``snapshots_quota_idx`` / ``backups_quota_idx``
cover the counts). A quota
check that guards a creation runs inside :func:`locked`: a transaction that
first takes the project's row lock in ``quota_locks``, so the checks of one
project run one after the other and each sees every row committed before it.
"""

import contextlib

from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_serialization import jsonutils
import sqlalchemy as sa
from sqlalchemy import select, update

from blockstore.db.api import _reader, _writer
from blockstore.db import models
from blockstore.db.models import utcnow

DEFAULT_CLASS = 'default'


# -- limits ---------------------------------------------------------------------------

def _limits(session, model, column, value):
    rows = session.execute(select(model.resource, model.hard_limit).where(column == value))
    return {r: limit for r, limit in rows}


def project_limits(context, project_id, session=None):
    """{resource: limit} set for the project (only those set)."""
    if session is not None:
        return _limits(session, models.Quota, models.Quota.project_id, project_id)
    with _reader(context) as session:
        return _limits(session, models.Quota, models.Quota.project_id, project_id)


def class_limits(context, class_name, session=None):
    """{resource: limit} set in the quota class (only those set)."""
    if session is not None:
        return _limits(session, models.QuotaClass, models.QuotaClass.class_name, class_name)
    with _reader(context) as session:
        return _limits(session, models.QuotaClass, models.QuotaClass.class_name, class_name)


# A concurrent insert of the same limit fails the whole transaction (no savepoints:
# MariaDB ends the transaction on a deadlock, and the savepoint with it); it reruns.
_retry = oslo_db_api.wrap_db_retry(
    max_retries=10, retry_on_deadlock=True, retry_interval=0.01, max_retry_interval=0.2,
    exception_checker=lambda e: isinstance(e, db_exc.DBDuplicateEntry))


def _upsert(session, model, key_column, key, values):
    now = utcnow()
    for resource, limit in values.items():
        n = session.execute(update(model).where(
            getattr(model, key_column) == key, model.resource == resource).values(
                hard_limit=limit, updated_at=now)).rowcount
        if not n:
            session.add(model(**{key_column: key, 'resource': resource, 'hard_limit': limit,
                                 'created_at': now}))
            session.flush()


@_retry
def project_limits_update(context, project_id, values):
    """Set limits of a project (insert or update each resource) in one transaction."""
    with _writer(context) as session:
        _upsert(session, models.Quota, 'project_id', project_id, values)


@_retry
def class_limits_update(context, class_name, values):
    with _writer(context) as session:
        _upsert(session, models.QuotaClass, 'class_name', class_name, values)


def project_limits_destroy(context, project_id):
    """Forget the project's limits (it falls back to the defaults)."""
    with _writer(context) as session:
        return session.execute(sa.delete(models.Quota).where(
            models.Quota.project_id == project_id)).rowcount


# -- usage ------------------------------------------------------------------------------

def _by_type(session, model, size_col, project_id):
    q = (select(model.volume_type_id, sa.func.count(), sa.func.coalesce(sa.func.sum(size_col), 0))
         .where(model.project_id == project_id, model.deleted == sa.false(),
                model.use_quota == sa.true())
         .group_by(model.volume_type_id))
    return {type_id: (int(n), int(gb)) for type_id, n, gb in session.execute(q)}


def _pending_extends(session, project_id):
    """{volume_type_id: GiB} that extends in progress will add (from their work records)."""
    w, v = models.Worker, models.Volume
    q = (select(v.volume_type_id, v.size, w.payload)
         .join(v, sa.and_(w.resource_type == 'volume', w.resource_id == v.id))
         .where(w.operation.in_(('extend', 'extend_completion')), v.project_id == project_id,
                v.deleted == sa.false(), v.use_quota == sa.true()))
    pending = {}
    for type_id, size, payload in session.execute(q):
        try:
            new_size = int(jsonutils.loads(payload or '{}').get('new_size') or 0)
        except (TypeError, ValueError):
            continue
        if new_size > size:
            pending[type_id] = pending.get(type_id, 0) + new_size - size
    return pending


def _backups(session, project_id):
    """(count, GiB) of the project's live backups."""
    b = models.Backup
    n, gb = session.execute(select(sa.func.count(), sa.func.coalesce(sa.func.sum(b.size), 0))
                            .where(b.project_id == project_id, b.deleted == sa.false())).one()
    return int(n), int(gb)


def _type_names(session):
    vt = models.VolumeType
    return {tid: name for tid, name in session.execute(select(vt.id, vt.name))}


class Usage:
    """Counted usage of one project, per volume type id.

    ``volumes``/``snapshots``: {type_id: (count, GiB)}; ``extending``: {type_id: GiB
    that running extends add}; ``type_names``: {type_id: name}; ``backups``:
    (count, GiB) of the project's backups (not per type).
    """

    def __init__(self, volumes, snapshots, extending, type_names, backups=(0, 0)):
        self.volumes = volumes
        self.snapshots = snapshots
        self.extending = extending
        self.type_names = type_names
        self.backups = backups


def usage(context, project_id, session=None, type_names=None, volumes_only=False,
          backups_only=False):
    """Count the project's volumes and snapshots (and running extends) per type, and backups.

    ``type_names`` ({type_id: name}) saves reading every type's name when the
    caller knows the types it needs. ``volumes_only``: count only volumes (the
    snapshot and extend queries add to no limit the caller enforces);
    ``backups_only``: only backups.
    """
    def count(s):
        if backups_only:
            return Usage({}, {}, {}, type_names or {}, _backups(s, project_id))
        if volumes_only:
            return Usage(_by_type(s, models.Volume, models.Volume.size, project_id), {}, {},
                         type_names if type_names is not None else _type_names(s))
        return Usage(_by_type(s, models.Volume, models.Volume.size, project_id),
                     _by_type(s, models.Snapshot, models.Snapshot.volume_size, project_id),
                     _pending_extends(s, project_id),
                     type_names if type_names is not None else _type_names(s),
                     _backups(s, project_id))
    if session is not None:
        return count(session)
    with _reader(context) as session:
        return count(session)


def type_name(context, type_id, session):
    """The name of a volume type (deleted ones too), or None."""
    vt = models.VolumeType
    return session.execute(select(vt.name).where(vt.id == type_id)).scalar()


@contextlib.contextmanager
def reading(context):
    """A reader transaction for several quota reads; yields its session."""
    with _reader(context) as session:
        yield session


# -- the per-project lock -----------------------------------------------------------------

def _take_lock(session, project_id):
    """Hold the project's quota lock until the transaction ends; False if no row yet.

    The UPDATE comes first in the transaction: on SQLite it takes the database
    write lock before anything is read, on MariaDB and PostgreSQL a row lock,
    and later reads in the transaction see what earlier holders committed.
    """
    lock = models.QuotaLock
    return bool(session.execute(update(lock).where(lock.project_id == project_id)
                                .values(locked_at=utcnow())).rowcount)


@_retry
def _create_lock_row(context, project_id):
    try:
        with _writer(context) as session:
            session.add(models.QuotaLock(project_id=project_id))
    except db_exc.DBDuplicateEntry:
        pass  # another request created it first


@contextlib.contextmanager
def locked(context, project_id):
    """A writer transaction holding the project's quota lock; yields its session.

    Database calls made with the same ``context`` inside the block join the
    transaction (enginefacade nesting), so an undo done there is part of it.
    A project's lock row is created, in its own transaction, on first use.
    """
    for _attempt in range(2):
        with _writer(context) as session:
            if _take_lock(session, project_id):
                yield session
                return
        _create_lock_row(context, project_id)
    raise RuntimeError('quota lock row of project %s cannot be created' % project_id)
