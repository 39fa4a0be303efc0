"""Transfer accept moves quota atomically, on SQLite, MariaDB and PostgreSQL.

N offered volumes accepted concurrently by one project whose quota allows Q:
exactly Q move (with their snapshots), the others are refused with 413 and
stay offered by their owner, untouched.
"""

import threading
import uuid

import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db import quotas as quota_db
from blockstore.objects import states
from blockstore.transfer import api as transfer_api
from blockstore.volume import api as volume_api
from blockstore.volume import volume_types

N = 8
LIMIT = 3


class _Recorder:
    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return lambda *a, **kw: None


@pytest.fixture
def api(database):
    volume_types.get_default(context.get_admin_context())
    return volume_api.API(volume_rpcapi=_Recorder(), scheduler_rpcapi=_Recorder())


def _user(project):
    return context.RequestContext(user_id='u-' + project, project_id=project, is_admin=False,
                                  overwrite=False)


def _offers(api, owner, n, snapshots=1):
    ctx = context.get_admin_context()
    offers = []
    for _ in range(n):
        vol = api.create(_user(owner), 1)
        assert states.transition(ctx, 'volume', vol.id, 'create_done')
        for _ in range(snapshots):
            snap = api.create_snapshot(_user(owner), api.get(_user(owner), vol.id))
            assert states.transition(ctx, 'snapshot', snap.id, 'create_done')
        row, key = transfer_api.API().create(_user(owner), api.get(_user(owner), vol.id))
        offers.append((vol.id, row.id, key))
    return offers


def _accept_together(recipient, offers):
    barrier = threading.Barrier(len(offers))
    results = [None] * len(offers)

    def run(i):
        _vid, tid, key = offers[i]
        try:
            barrier.wait(60)
            transfer_api.API().accept(_user(recipient), tid, key)
            results[i] = 'accepted'
        except exception.QuotaError as e:
            results[i] = e
        except BaseException as e:  # noqa: B902 - reported by the assertion below
            results[i] = ('unexpected', repr(e))

    threads = [threading.Thread(target=run, args=(i,), daemon=True)
               for i in range(len(offers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.mark.parametrize('limits, snapshots', [({'volumes': LIMIT}, 0),
                                               ({'snapshots': LIMIT}, 1),
                                               ({'gigabytes': 2 * LIMIT}, 1)])
def test_concurrent_accepts_take_exactly_the_quota(api, limits, snapshots):
    ctx = context.get_admin_context()
    owner, recipient = 'xo-' + uuid.uuid4().hex[:10], 'xr-' + uuid.uuid4().hex[:10]
    offers = _offers(api, owner, N, snapshots)
    quota_db.project_limits_update(ctx, recipient, limits)
    results = _accept_together(recipient, offers)
    assert not [r for r in results if isinstance(r, tuple)], results
    accepted = [o for o, r in zip(offers, results) if r == 'accepted']
    refused = [o for o, r in zip(offers, results) if isinstance(r, exception.QuotaError)]
    assert len(accepted) == LIMIT and len(refused) == N - LIMIT, results
    for vid, tid, _key in accepted:
        assert db.volume_get(ctx, vid).project_id == recipient
        assert {s.project_id for s in db.snapshot_get_all(
            ctx, filters={'volume_id': vid})} <= {recipient}
    for vid, tid, _key in refused:
        row = db.volume_get(ctx, vid)
        assert (row.project_id, row.status) == (owner, states.AWAITING_TRANSFER)
        assert {s.project_id for s in db.snapshot_get_all(
            ctx, filters={'volume_id': vid})} <= {owner}
        assert transfer_api.API().get(_user(owner), tid).id == tid
    used = quota.usage(ctx, recipient)
    assert used['volumes'] == LIMIT and used['snapshots'] == LIMIT * snapshots
    assert quota.usage(ctx, owner)['volumes'] == N - LIMIT
