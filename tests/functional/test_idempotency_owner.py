"""A pending idempotency key: wait for a live first request, adopt a dead one's resource.

On MariaDB and PostgreSQL the request running a keyed create holds a session
lock named by the key (``db.idempotency.owner_lock``). A repeat that finds
the key pending waits while the lock is held (then 409), and answers at once
with the resource the first request inserted when nobody holds it (that
request's process died: the database dropped its lock with its connection).
SQLite has no session locks: there a pending key keeps answering 409 until
it expires (the embedded deployment runs one API process).
"""

import threading
import time
import uuid

from oslo_config import cfg
import pytest

from blockstore.common import context
from blockstore.common import idempotency
from blockstore.db import api as db
from blockstore.db import idempotency as db_idem

CONF = cfg.CONF
WAIT = 1.0


@pytest.fixture
def short_wait():
    CONF.set_override('idempotency_wait_timeout', WAIT)
    yield
    CONF.clear_override('idempotency_wait_timeout')


def _keyed_volume_create(ctx, claim):
    """What a first request's create writes before it completes: the volume and its key."""
    from blockstore.volume import volume_types
    vtype = volume_types.get_default(context.get_admin_context()).id
    with db_idem.pending(claim):
        return db.volume_create(ctx, {'project_id': claim.project_id, 'size': 1,
                                      'status': 'creating', 'volume_type_id': vtype}).id


def _setup():
    ctx = context.RequestContext(user_id='u', project_id='idem-' + uuid.uuid4().hex[:8])
    request = idempotency.Request('k-' + uuid.uuid4().hex, 'fp')
    claim = db_idem.Claim(ctx.project_id, 'volume', request.key, request.fingerprint)
    attempts = []

    def repeat():
        return idempotency.create_once(ctx, 'volume', request,
                                       lambda: attempts.append('created'), lambda rid: rid)
    return ctx, claim, repeat, attempts


def test_repeat_waits_for_a_live_first_request_and_adopts_a_dead_ones(database, short_wait):
    ctx, claim, repeat, attempts = _setup()
    with db_idem.owner_lock(ctx, claim, 5) as held:     # the first request, running
        if database.backend == 'sqlite':
            assert held is None
        else:
            assert held is True
        made = _keyed_volume_create(ctx, claim)
        t0 = time.monotonic()
        with pytest.raises(idempotency.KeyInProgress):
            repeat()
        assert time.monotonic() - t0 >= WAIT * 0.9
    # The first request is gone without completing its key (its lock went with it).
    assert db_idem.get(ctx, claim).completed_at is None
    if database.backend == 'sqlite':
        with pytest.raises(idempotency.KeyInProgress):
            repeat()
        return
    t0 = time.monotonic()
    assert repeat() == made
    assert time.monotonic() - t0 < WAIT * 0.9
    assert attempts == []     # nothing created a second volume
    assert db_idem.get(ctx, claim).completed_at is not None


def test_lock_released_when_the_first_request_dies_with_its_connection(database, short_wait):
    """A session lock dies with the session: a process killed mid-request loses its locks."""
    if database.backend == 'sqlite':
        pytest.skip('SQLite has no session locks')
    ctx, claim, repeat, attempts = _setup()
    conn = db.get_engine().connect()
    assert db_idem._try_lock(conn, claim)
    made = _keyed_volume_create(ctx, claim)
    assert not db_idem.owner_gone(ctx, claim)
    conn.invalidate()    # the connection is closed under it, as when its process is killed
    assert _until(lambda: db_idem.owner_gone(ctx, claim))
    assert repeat() == made


def test_concurrent_first_requests_with_one_key_make_one_resource(database):
    ctx, claim, _repeat, _attempts = _setup()
    request = idempotency.Request(claim.key, claim.fingerprint)
    made, barrier = [], threading.Barrier(8)

    def create():
        vid = _keyed_volume_create(ctx, db_idem._PENDING.get())
        made.append(vid)
        return vid

    results = []

    def one():
        barrier.wait(30)
        results.append(idempotency.create_once(
            context.RequestContext(user_id='u', project_id=ctx.project_id), 'volume',
            request, create, lambda rid: rid))
    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made) == 1, made
    assert results == made * 8


def _until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
