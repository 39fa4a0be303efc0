"""Cascade delete end to end below the API: the claim, the manager's work, failures, a redo."""

import os

import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.db import api as db
from blockstore import objects
from blockstore.volume import api as volume_api
from blockstore.volume.drivers import base as driver_base
from tests.unit.api.conftest import RPCRecorder
from tests.unit.test_volume_manager import _volume, _wait, mgr  # noqa: F401  (fixture)
from tests.unit.test_volume_manager_actions import _available, _file, _snapshot


@pytest.fixture
def api():
    a = volume_api.API()
    a.volume_rpcapi = RPCRecorder()
    a.scheduler_rpcapi = RPCRecorder()
    return a


def _member():
    return context.RequestContext(user_id='u', project_id='p', roles=['member', 'reader'],
                                  is_admin=False, overwrite=False)


def _setup(ctx, m, n=2):
    m.init_host(ctx)
    vol = _available(ctx, m)
    snaps = [_snapshot(ctx, m, vol) for _ in range(n)]
    for s in snaps:
        assert os.path.exists(_file(m, s.name))
    return vol, snaps


def _get(ctx, cls, rid):
    return cls.get_by_id(ctx, rid, read_deleted=True)


def test_claim_then_manager_deletes_snapshots_then_volume(mgr, ctx, api):  # noqa: F811
    vol, snaps = _setup(ctx, mgr)
    api.delete(_member(), vol, cascade=True)
    # One transaction claimed all of them; one work record (the volume's) covers them.
    assert _get(ctx, objects.Volume, vol.id).status == 'deleting'
    assert [_get(ctx, objects.Snapshot, s.id).status for s in snaps] == ['deleting'] * 2
    assert [(w.resource_type, w.operation) for w in
            db.worker_get_all(ctx, resource_id=vol.id)] == [('volume', 'delete')]
    assert api.volume_rpcapi.names() == ['delete_volume']

    mgr.delete_volume(ctx, vol)
    assert _get(ctx, objects.Volume, vol.id).status == 'deleted'
    for s in snaps:
        assert _get(ctx, objects.Snapshot, s.id).status == 'deleted'
        assert not os.path.exists(_file(mgr, s.name))
    assert not os.path.exists(_file(mgr, vol.name))
    assert db.worker_get_all(ctx, resource_id=vol.id) == []


@pytest.mark.parametrize('event', ['revert', 'reset'])
def test_undeletable_snapshot_refuses_and_changes_nothing(mgr, ctx, api, event):  # noqa: F811
    vol, (ok, busy) = _setup(ctx, mgr)
    if event == 'revert':
        assert busy.transition('revert')                      # restoring
    else:
        assert busy.transition('reset', target='backing-up')
    status = _get(ctx, objects.Snapshot, busy.id).status
    with pytest.raises(exception.InvalidVolume) as err:
        api.delete(_member(), vol, cascade=True)
    assert ('snapshot %s cannot be deleted: status must be available or error, but is %s'
            % (busy.id, status)) in err.value.msg
    assert ok.id not in err.value.msg
    assert _get(ctx, objects.Volume, vol.id).status == 'available'
    assert _get(ctx, objects.Snapshot, ok.id).status == 'available'
    assert _get(ctx, objects.Snapshot, busy.id).status == status
    assert db.worker_get_all(ctx, resource_id=vol.id, operation='delete') == []
    assert api.volume_rpcapi.names() == []


def test_snapshot_failure_leaves_error_deleting_never_deleting(mgr, ctx, api,  # noqa: F811
                                                               monkeypatch):
    vol, snaps = _setup(ctx, mgr, 3)
    real = mgr.driver.delete_snapshot

    def fail_second(snapshot):
        if snapshot.id == snaps[1].id:
            raise RuntimeError('snapshot stuck on the backend')
        return real(snapshot)
    monkeypatch.setattr(mgr.driver, 'delete_snapshot', fail_second)
    api.delete(_member(), vol, cascade=True)
    mgr.delete_volume(ctx, vol)
    assert _get(ctx, objects.Volume, vol.id).status == 'error_deleting'
    assert os.path.exists(_file(mgr, vol.name))            # never reached
    assert [_get(ctx, objects.Snapshot, s.id).status for s in snaps] == [
        'deleted', 'error_deleting', 'deleted']
    assert db.worker_get_all(ctx, resource_id=vol.id) == []
    details = [m.detail for m in db.message_get_all(ctx, resource_uuid=vol.id)]
    assert any(snaps[1].id in d for d in details), details

    # An administrator finishes it with force + cascade, once the backend behaves.
    monkeypatch.setattr(mgr.driver, 'delete_snapshot', real)
    api.delete(ctx, objects.Volume.get_by_id(ctx, vol.id), force=True, cascade=True)
    mgr.delete_volume(ctx, vol)
    assert _get(ctx, objects.Volume, vol.id).status == 'deleted'
    assert _get(ctx, objects.Snapshot, snaps[1].id).status == 'deleted'


def test_unsupported_snapshots_leave_error_deleting(mgr, ctx, api, monkeypatch):  # noqa: F811
    vol, (snap,) = _setup(ctx, mgr, 1)
    api.delete(_member(), vol, cascade=True)
    real = driver_base.supports
    monkeypatch.setattr(driver_base, 'supports', lambda driver, iface: (
        iface is not driver_base.SnapshotOps and real(driver, iface)))
    mgr.delete_volume(ctx, vol)
    assert _get(ctx, objects.Volume, vol.id).status == 'error_deleting'
    assert _get(ctx, objects.Snapshot, snap.id).status == 'error_deleting'


def test_redo_after_a_crash_finishes_the_cascade(mgr, ctx, api):  # noqa: F811
    vol, snaps = _setup(ctx, mgr)
    api.delete(_member(), vol, cascade=True)
    # The service died after the first snapshot: the volume's work record is left.
    mgr.delete_snapshot(ctx, objects.Snapshot.get_by_id(ctx, snaps[0].id))
    db.worker_set_service(ctx, 'volume', vol.id, mgr.service.id)
    assert _get(ctx, objects.Snapshot, snaps[0].id).status == 'deleted'
    assert _get(ctx, objects.Snapshot, snaps[1].id).status == 'deleting'

    mgr.init_host(ctx)
    status = lambda: _get(ctx, objects.Volume, vol.id).status
    assert _wait(status, 'deleted') == 'deleted'
    assert _get(ctx, objects.Snapshot, snaps[1].id).status == 'deleted'
    assert not os.path.exists(_file(mgr, snaps[1].name))
    assert not os.path.exists(_file(mgr, vol.name))
    assert db.worker_get_all(ctx, resource_id=vol.id) == []
