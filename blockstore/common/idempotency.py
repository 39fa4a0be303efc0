"""Idempotent create: a repeated client key answers with the resource it made.

Not in Cinder (CSI and EBS have it). A create request may carry a key, in the
``Idempotency-Key`` header or as ``client_token`` in the body's resource
object (``{"volume": {..., "client_token": "..."}}``); both given must be
equal. A key is 1 to 255 printable ASCII characters (0x20-0x7E), compared
exactly (case-sensitive); anything else is a 400.

Keys are scoped by project and resource type: the same key names one volume
and, separately, one snapshot of a project; another project's key is another
key. Behaviour, per (project, type, key):

* First request: creates the resource as without a key. Its key row is
  inserted in the same transaction as the resource row (the db primitive,
  see ``blockstore.db.idempotency``), and the unique constraint on the key
  decides between concurrent requests: exactly one creates, no
  check-then-insert. Quota is consumed once: the requests that lose the
  insert roll back before anything is counted.
* A repeat with the same request (the same parsed resource object, the key
  itself left out) answers as the first did -- same status, same body shape,
  the resource as it is now -- and creates nothing. A repeat that arrives
  while the first is still deciding (quota, sources) waits for it, up to
  ``idempotency_wait_timeout`` seconds (then 409, retry later). If the API
  process of the first request died before it finished, a repeat answers
  with the resource it inserted, as that request left it (an attachment
  maybe not yet connected: connect it with PUT), never a duplicate: the
  request running a keyed create holds a database session lock named by the
  key, which the database drops with a dead process's connection
  (``db.idempotency.owner_lock``; MariaDB and PostgreSQL). On SQLite such a
  key stays pending (409) until it expires.
* A repeat with a different request: 409, naming the key.
* A create that fails (any error answer: 400, 404, 413, ...) releases its
  key: it made nothing, and a retry is a new attempt.
* The resource made with a key was since deleted: 409, naming the key (a key
  never makes a second resource while it lives).
* Keys expire ``idempotency_key_lifetime`` seconds (default 24 h) after the
  first request: then the key is free and makes a new resource.
  ``blockstore-manage db purge`` removes expired keys.

A service-layer create becomes idempotent with :func:`idempotent` (its
resource's db insert primitive calls ``db.idempotency.put``); the backup
service reuses both as they are.
"""

import functools
import hashlib
import json
import time

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.db import idempotency as db_idem

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

HEADER = 'Idempotency-Key'
BODY_FIELD = 'client_token'
MAX_LENGTH = 255

opts = [
    cfg.IntOpt('idempotency_key_lifetime', default=86400, min=1,
               help='Seconds an Idempotency-Key (or client_token) of a create stays bound '
                    'to the resource it made; afterwards the key makes a new resource. '
                    '"blockstore-manage db purge" removes expired keys.'),
    cfg.FloatOpt('idempotency_wait_timeout', default=60.0, min=0,
                 help='Seconds a repeated create waits for the first request with the same '
                      'key to finish before answering 409.'),
]
CONF.register_opts(opts)

# JSON Schema of a client_token (for the request schemas and the OpenAPI document).
SCHEMA = {'type': 'string', 'minLength': 1, 'maxLength': MAX_LENGTH,
          'pattern': '^[\\x20-\\x7e]+$',
          'description': 'Idempotency key of this create (as the Idempotency-Key header).'}

# How often a create is tried again after losing the key to a request that then failed.
_ATTEMPTS = 5


class InvalidKey(exception.Invalid):
    msg_fmt = 'Invalid idempotency key: %(reason)s'


class KeyMismatch(exception.Conflict):
    msg_fmt = ('Idempotency key %(key)s was already used for a different request; '
               'use a new key for a new request.')


class KeyResourceGone(exception.Conflict):
    msg_fmt = ('The %(resource_type)s %(resource_id)s created with idempotency key %(key)s '
               'was deleted; use a new key to create another.')


class KeyInProgress(exception.Conflict):
    msg_fmt = ('A request with idempotency key %(key)s is still in progress; '
               'retry it later.')


class Request:
    """The key of a create and the fingerprint of what it asked for."""

    def __init__(self, key, fingerprint):
        self.key = key
        self.fingerprint = fingerprint

    def __repr__(self):
        return 'Request(key=%r)' % self.key


def validate_key(key):
    """The key if valid; InvalidKey (400) otherwise."""
    if not isinstance(key, str):
        raise InvalidKey(reason='it must be a string')
    if not 1 <= len(key) <= MAX_LENGTH:
        raise InvalidKey(reason='it must be 1 to %d characters long' % MAX_LENGTH)
    if any(not 0x20 <= ord(c) <= 0x7e for c in key):
        raise InvalidKey(reason='it must be printable ASCII')
    return key


def fingerprint(resource_body):
    """SHA-256 (hex) of the parsed resource object, ``client_token`` left out.

    Canonical JSON (sorted keys), so the same request in another key order or
    spacing has the same fingerprint.
    """
    body = {k: v for k, v in (resource_body or {}).items() if k != BODY_FIELD}
    text = json.dumps(body, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def request_of(headers, resource_body):
    """The Request of a create (header or ``client_token``), or None without a key.

    ``headers``: the HTTP request's headers (case-insensitive mapping);
    ``resource_body``: the validated resource object of the body.
    """
    header = headers.get(HEADER)
    token = (resource_body or {}).get(BODY_FIELD)
    if header is None and token is None:
        return None
    if header is not None and token is not None and header != token:
        raise InvalidKey(reason='the %s header and %s differ' % (HEADER, BODY_FIELD))
    key = validate_key(header if header is not None else token)
    return Request(key, fingerprint(resource_body))


def idempotent(resource_type, load, resume=None):
    """Decorate a service-layer create of ``resource_type`` to take ``idempotency=``.

    ``idempotency`` is a :class:`Request` (or None: the create runs as it
    is). ``load(self, ctx, resource_id)`` returns the resource as the create
    would have (raising a NotFound when it no longer exists). The create's db
    insert primitive must call ``db.idempotency.put(session, resource_type, id)``.
    ``resume(self, ctx, resource, *args, **kwargs)``, given the create's
    arguments, returns the resource a repeat answers with: it may finish what
    a first request that died left undone (e.g. connect an attachment).
    """
    def decorate(create):
        @functools.wraps(create)
        def wrapper(self, ctx, *args, idempotency=None, **kwargs):
            if idempotency is None:
                return create(self, ctx, *args, **kwargs)

            def answer(resource_id):
                resource = load(self, ctx, resource_id)
                if resume is not None:
                    resource = resume(self, ctx, resource, *args, **kwargs)
                return resource
            return create_once(ctx, resource_type, idempotency,
                               lambda: create(self, ctx, *args, **kwargs), answer)
        return wrapper
    return decorate


def create_once(ctx, resource_type, request, create, load):
    """Run ``create()`` unless the key already made a resource; answer with that one.

    The key row is looked up first (a retry after a time-out usually finds it
    and skips the create's validation, which might now fail); the unique
    constraint decides any race the look-up cannot see.
    """
    last_error = None
    for _attempt in range(_ATTEMPTS):
        # A context without a project (an admin's) has one shared key space ('').
        claim = db_idem.Claim(ctx.project_id or '', resource_type, request.key,
                              request.fingerprint)
        row = _settled_row(ctx, claim)
        if row is not None:
            return _answer(claim, row, load)
        # Held while this request runs the create, and until it completes the key.
        with db_idem.owner_lock(ctx, claim, CONF.idempotency_wait_timeout) as held:
            if held is False:
                raise KeyInProgress(key=request.key)
            row = _row_under_lock(ctx, claim, held)
            if row is not None:
                return _answer(claim, row, load)
            try:
                with db_idem.pending(claim):
                    result = create()
            except Exception as e:
                if claim.resource_id is not None:
                    if getattr(e, KEEP_KEY, False):
                        # Its resource is left (the create could not undo it): a repeat
                        # answers with it (and may finish it) instead of making another.
                        _complete(ctx, claim)
                        raise
                    # This request inserted the key; its create failed (and undid its
                    # resource, or left it to its work record): free the key.
                    _release(ctx, claim)
                    raise
                if (not isinstance(e, db_exc.DBDuplicateEntry)
                        and db_idem.get(ctx, claim) is None):
                    raise   # its own failure, not a lost race for the key
                # A concurrent request holds the key (it won the insert, or its claim
                # made this one's preconditions fail): answer with its resource.
                last_error = e
                continue
            if claim.resource_id is not None:
                db_idem.complete(ctx, claim)
            return result
    LOG.info('Idempotency key %s of %s: gave up after %d attempts (%s)',
             request.key, resource_type, _ATTEMPTS, last_error)
    raise KeyInProgress(key=request.key)


KEEP_KEY = 'idempotency_keep_key'


def keep_key(error):
    """Mark ``error`` (raised by a keyed create) as leaving its resource behind.

    The key then stays bound to that resource instead of being freed, so the
    client's retry gets it (see the create's ``resume``) rather than a second one
    that the first may block.
    """
    setattr(error, KEEP_KEY, True)
    return error


def _complete(ctx, claim):
    try:
        db_idem.complete(ctx, claim)
    except Exception:  # the create's own error is the answer
        LOG.exception('Could not complete idempotency key %s', claim.key)


def _release(ctx, claim):
    try:
        db_idem.release(ctx, claim)
    except Exception:  # the create's own error is the answer
        LOG.exception('Could not release idempotency key %s', claim.key)


def _row_under_lock(ctx, claim, held):
    """The finished key row a request holding the key's lock answers with, or None.

    The lock may have been waited for: the request that held it finished the
    create meanwhile. A row still pending now has no live first request (it
    would hold the lock): it is completed here.
    """
    row = db_idem.get(ctx, claim)
    if row is not None and held and row.completed_at is None:
        _adopt(ctx, claim, row)
        row = db_idem.get(ctx, claim)
    if row is not None and row.completed_at is not None:
        return row
    return None


def _adopt(ctx, claim, row):
    if db_idem.adopt(ctx, row.id):
        LOG.warning('Idempotency key %s of %s %s was pending, and the request that made '
                    'it is gone: answering with the %s as it is', claim.key,
                    claim.resource_type, row.resource_id, claim.resource_type)


def _settled_row(ctx, claim):
    """The live key row once its first request finished; None when the key is free.

    Waits while the key is pending and its first request runs; a pending key
    whose first request died (its API process was killed) is completed here
    and answers with the resource as that request left it. An expired key is
    removed (then free).
    """
    deadline = time.monotonic() + CONF.idempotency_wait_timeout
    delay = 0.02
    while True:
        row = db_idem.get(ctx, claim)
        if row is None:
            return None
        cutoff = db_idem.age_limit(CONF.idempotency_key_lifetime)
        if row.created_at < cutoff:
            db_idem.expire(ctx, row.id, cutoff)
            continue
        if row.completed_at is not None:
            return row
        if db_idem.owner_gone(ctx, claim):
            _adopt(ctx, claim, row)
            continue
        if time.monotonic() >= deadline:
            raise KeyInProgress(key=claim.key)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _answer(claim, row, load):
    if row.request_fingerprint != claim.fingerprint:
        raise KeyMismatch(key=claim.key)
    try:
        return load(row.resource_id)
    except exception.NotFound:
        raise KeyResourceGone(resource_type=claim.resource_type,
                              resource_id=row.resource_id, key=claim.key)


def purge_expired(ctx):
    """Remove the expired keys (``blockstore-manage db purge``); returns how many."""
    return db_idem.purge(ctx, db_idem.age_limit(CONF.idempotency_key_lifetime))


def list_opts():
    return [(None, list(opts))]
