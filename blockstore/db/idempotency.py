"""Idempotency keys: the db primitive that makes a keyed create happen once.

A create that carries a client's key runs with a :class:`Claim` made pending
for its thread (:func:`pending`, set by the service layer's
``blockstore.common.idempotency``). The db primitive that inserts the
resource row (``db.api.volume_create``, ``snapshot_create``,
``db.attachments.insert``; a backup primitive adds the same one line) calls
:func:`put` inside its transaction: the key row is inserted *first* in the
same transaction as the resource (and its work record), so either both
commit or neither does. ``UNIQUE(project_id, resource_type, key)`` is what
decides between concurrent identical creates: the database lets one insert
commit and fails the others with a duplicate-key error, which rolls their
whole transaction (resource row included) back. No check-then-insert.

A key row is *pending* (``completed_at`` NULL) until the service layer has
finished the create (quota, sources, cast) and calls :func:`complete`.
An undone create (``db.api.hard_delete``) removes its key row with the
resource in one transaction (:func:`forget`).
"""

import contextlib
import contextvars
import dataclasses
import datetime
import hashlib
import time

import sqlalchemy as sa

from blockstore.db import models
from blockstore.db.models import utcnow

_PENDING = contextvars.ContextVar('blockstore_idempotency_claim', default=None)


@dataclasses.dataclass
class Claim:
    """A keyed create in progress: who, what kind, which key, and the request's digest.

    ``resource_id`` is set by :func:`put` once this request's own key row is
    inserted (its transaction may still roll back).
    """
    project_id: str
    resource_type: str
    key: str
    fingerprint: str
    resource_id: str = None


@contextlib.contextmanager
def pending(claim):
    """Make ``claim`` the one :func:`put` writes, for this thread, inside the block."""
    token = _PENDING.set(claim)
    try:
        yield claim
    finally:
        _PENDING.reset(token)


def put(session, resource_type, resource_id):
    """Insert the pending claim's key row for a new ``resource_type`` row, in ``session``.

    Called by the primitive that inserts the resource, in its transaction,
    before the resource row. A no-op unless a claim of ``resource_type`` is
    pending for this thread. Raises oslo.db's DBDuplicateEntry when the key is
    taken (the caller's transaction then rolls back as a whole).
    """
    claim = _PENDING.get()
    if claim is None or claim.resource_type != resource_type:
        return
    session.execute(sa.insert(models.IdempotencyKey).values(
        project_id=claim.project_id, resource_type=resource_type, key=claim.key,
        resource_id=resource_id, request_fingerprint=claim.fingerprint,
        created_at=utcnow()))
    claim.resource_id = resource_id


def forget(session, resource_type, resource_id):
    """Remove the key rows of a resource being removed outright (in its transaction)."""
    k = models.IdempotencyKey
    session.execute(sa.delete(k).where(k.resource_type == resource_type,
                                       k.resource_id == resource_id))


def _where(claim):
    k = models.IdempotencyKey
    return (k.project_id == claim.project_id, k.resource_type == claim.resource_type,
            k.key == claim.key)


def get(context, claim):
    """The key row (detached) of the claim's project, type and key, or None."""
    from blockstore.db import api as db
    with db._reader(context) as session:
        return session.execute(sa.select(models.IdempotencyKey)
                               .where(*_where(claim))).scalars().first()


def complete(context, claim):
    """Mark this request's key row finished: repeats now answer with its resource."""
    from blockstore.db import api as db
    k = models.IdempotencyKey
    with db._writer(context) as session:
        session.execute(sa.update(k).where(*_where(claim), k.resource_id == claim.resource_id)
                        .values(completed_at=utcnow()))


def release(context, claim):
    """Remove this request's own key row (its create failed): the key is free again."""
    from blockstore.db import api as db
    k = models.IdempotencyKey
    with db._writer(context) as session:
        session.execute(sa.delete(k).where(*_where(claim),
                                           k.resource_id == claim.resource_id))


def expire(context, row_id, created_before):
    """Remove one key row if it is older than ``created_before``; True if removed.

    Conditional on its id and age, so of several requests that found the same
    expired key exactly one removes it (and they then race on the insert).
    """
    from blockstore.db import api as db
    k = models.IdempotencyKey
    with db._writer(context) as session:
        return session.execute(sa.delete(k).where(
            k.id == row_id, k.created_at < created_before)).rowcount == 1


def purge(context, before):
    """Remove every key row created before ``before``; returns how many."""
    from blockstore.db import api as db
    k = models.IdempotencyKey
    with db._writer(context) as session:
        return session.execute(sa.delete(k).where(k.created_at < before)).rowcount


def age_limit(seconds):
    """The created_at before which a key has expired, ``seconds`` after its creation."""
    return utcnow() - datetime.timedelta(seconds=seconds)


# -- whether the first request of a pending key still runs ------------------------------
#
# A key row stays pending while its first request finishes the create. If that
# request's API process dies, nobody completes it: a repeat would wait and get
# 409 until the key expires, and the client could never learn what it made.
# So the request that runs a keyed create holds a session lock named by the
# key for as long as it runs (MariaDB GET_LOCK, PostgreSQL advisory lock): the
# database drops it with the connection when the process dies. A pending key
# whose lock nobody holds has no live first request. SQLite has no session
# locks (and the embedded deployment one API process): there a pending key
# waits until it expires, as before.

_LOCK_DIALECTS = ('mysql', 'postgresql')


def _lock_ids(claim):
    digest = hashlib.sha1(('%s\x00%s\x00%s' % (claim.project_id, claim.resource_type,
                                              claim.key)).encode('utf-8')).digest()
    # A GET_LOCK name (at most 64 characters), a pg advisory lock key (a signed bigint).
    return 'bs-idem-' + digest.hex(), int.from_bytes(digest[:8], 'big', signed=True)


def _try_lock(conn, claim):
    name, number = _lock_ids(claim)
    if conn.dialect.name == 'mysql':
        got = conn.execute(sa.text('SELECT GET_LOCK(:n, 0)'), {'n': name}).scalar()
    else:
        got = conn.execute(sa.text('SELECT pg_try_advisory_lock(:k)'), {'k': number}).scalar()
    conn.commit()   # the lock is the session's; no transaction stays open
    return bool(got)


def _unlock(conn, claim):
    name, number = _lock_ids(claim)
    if conn.dialect.name == 'mysql':
        conn.execute(sa.text('SELECT RELEASE_LOCK(:n)'), {'n': name})
    else:
        conn.execute(sa.text('SELECT pg_advisory_unlock(:k)'), {'k': number})
    conn.commit()


@contextlib.contextmanager
def owner_lock(context, claim, timeout):
    """Hold the key's session lock inside the block (waiting up to ``timeout`` s for it).

    Yields True when held, False when another request held it all along, and
    None on a database without session locks (SQLite).
    """
    from blockstore.db import api as db
    engine = db.get_engine()
    if engine.dialect.name not in _LOCK_DIALECTS:
        yield None
        return
    conn = engine.connect()
    held = False
    try:
        deadline = time.monotonic() + timeout
        delay = 0.01
        while not held:
            held = _try_lock(conn, claim)
            if held or time.monotonic() >= deadline:
                break
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        yield held
    finally:
        if held:
            try:
                _unlock(conn, claim)
            except Exception:
                # A connection still holding the lock must not go back to the pool.
                conn.invalidate()
        conn.close()


def owner_gone(context, claim):
    """True if no request holds the key's lock (a pending key's first request died).

    False while one does, and on databases without session locks (SQLite).
    """
    from blockstore.db import api as db
    engine = db.get_engine()
    if engine.dialect.name not in _LOCK_DIALECTS:
        return False
    with engine.connect() as conn:
        if conn.dialect.name == 'mysql':
            free = conn.execute(sa.text('SELECT IS_FREE_LOCK(:n)'),
                                {'n': _lock_ids(claim)[0]}).scalar()
            conn.commit()
            return bool(free)
        if not _try_lock(conn, claim):
            return False
        _unlock(conn, claim)
        return True


def adopt(context, row_id):
    """Complete a pending key row whose first request died; True if this call did."""
    from blockstore.db import api as db
    k = models.IdempotencyKey
    with db._writer(context) as session:
        return session.execute(sa.update(k).where(k.id == row_id, k.completed_at.is_(None))
                               .values(completed_at=utcnow())).rowcount == 1
