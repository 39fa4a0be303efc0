"""Every long VolumeManager operation runs on the one skeleton (common/operation.py)."""

import os

import pytest

from blockstore.db import api as db
from blockstore.objects import states
from blockstore.volume import volume_types
from tests.unit.test_volume_manager import mgr  # noqa: F401  (fixture)
from tests.unit.test_volume_manager_actions import _available, _snapshot


@pytest.fixture
def runs(mgr):  # noqa: F811
    """The operations the manager's one Runner ran, in order (the workers share it)."""
    seen = []
    real = mgr.operations.run

    def recording(context, obj, op, work):
        seen.append((obj._resource, op.name))
        return real(context, obj, op, work)
    mgr.operations.run = recording
    return seen


def test_long_work_goes_through_the_runner(mgr, ctx, runs):  # noqa: F811
    vol = _available(ctx, mgr)
    snap = _snapshot(ctx, mgr, vol)
    states.transition_or_raise(ctx, 'volume', vol.id, 'extend',
                               work={'operation': 'extend', 'payload': {'new_size': 2}})
    mgr.extend_volume(ctx, vol, 2)
    states.transition_or_raise(ctx, 'volume', vol.id, 'revert',
                               work={'operation': 'revert', 'payload': {'snapshot_id': snap.id}})
    states.transition_or_raise(ctx, 'snapshot', snap.id, 'revert')
    mgr.revert_to_snapshot(ctx, vol, snap)
    gold = volume_types.create(ctx, 'gold-%s' % os.urandom(3).hex())
    states.transition_or_raise(ctx, 'volume', vol.id, 'retype', work={
        'operation': 'retype', 'payload': {'new_type_id': gold.id, 'target': 'available'}})
    mgr.retype(ctx, vol, gold.id, 'available')
    states.transition_or_raise(ctx, 'snapshot', snap.id, 'delete', work={'operation': 'delete'})
    mgr.delete_snapshot(ctx, snap)
    states.transition_or_raise(ctx, 'volume', vol.id, 'delete', work={'operation': 'delete'})
    mgr.delete_volume(ctx, vol)
    assert runs == [('volume', 'create'), ('snapshot', 'create'), ('volume', 'extend'),
                    ('volume', 'revert'), ('volume', 'retype'), ('snapshot', 'delete'),
                    ('volume', 'delete')]
    assert db.worker_get_all(ctx, resource_id=vol.id) == []
    assert db.worker_get_all(ctx, resource_id=snap.id) == []


def test_a_stale_duplicate_is_skipped_by_the_skeleton(mgr, ctx, runs, monkeypatch):  # noqa: F811
    """A late or repeated message finds the volume no longer extending: nothing runs."""
    vol = _available(ctx, mgr)
    called = []
    monkeypatch.setattr(mgr.driver, 'extend_volume', lambda *a: called.append(a))
    mgr.extend_volume(ctx, vol, 5)
    vol.refresh()
    assert runs[-1] == ('volume', 'extend')
    assert (vol.status, vol.size, called) == (states.AVAILABLE, 1, [])
