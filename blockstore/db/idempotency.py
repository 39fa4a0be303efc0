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
