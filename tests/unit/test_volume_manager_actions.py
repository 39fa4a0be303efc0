"""Volume manager work of this issue: revert, retype, manage/unmanage, manageable listing."""

import os

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import states
from tests.unit.test_volume_manager import _volume, mgr  # noqa: F401  (fixture)

GiB = 1024 ** 3


def _available(ctx, m, name='v'):
    vol = _volume(ctx, m.host, name)
    m.create_volume(ctx, vol)
    vol.refresh()
    assert vol.status == 'available'
    return vol


def _file(m, name):
    return os.path.join(m.backend_conf.file_volumes_dir, name)


def _snapshot(ctx, m, vol):
    snap = objects.Snapshot(ctx, volume_id=vol.id, project_id='p', user_id='u',
                            volume_size=vol.size, volume_type_id=vol.volume_type_id,
                            metadata={}, progress='0%', use_quota=True, deleted=False)
    snap.create(work={'operation': 'create'})
    m.create_snapshot(ctx, snap)
    snap.refresh()
    assert snap.status == 'available'
    return snap


def test_revert_restores_bytes(mgr, ctx):  # noqa: F811
    vol = _available(ctx, mgr)
    with open(_file(mgr, vol.name), 'r+b') as f:
        f.write(b'original')
    snap = _snapshot(ctx, mgr, vol)
    with open(_file(mgr, vol.name), 'r+b') as f:
        f.write(b'changed!')
    states.transition_or_raise(ctx, 'volume', vol.id, 'revert',
                               work={'operation': 'revert',
                                     'payload': {'snapshot_id': snap.id}})
    states.transition_or_raise(ctx, 'snapshot', snap.id, 'revert')
    mgr.revert_to_snapshot(ctx, vol, snap)
    vol.refresh()
    snap.refresh()
    assert (vol.status, snap.status) == ('available', 'available')
    with open(_file(mgr, vol.name), 'rb') as f:
        assert f.read(8) == b'original'
    assert db.worker_get_all(ctx, resource_id=vol.id) == []


def test_revert_failure_sets_error_and_frees_snapshot(mgr, ctx):  # noqa: F811
    vol = _available(ctx, mgr)
    snap = _snapshot(ctx, mgr, vol)
    os.unlink(_file(mgr, snap.name))
    states.transition_or_raise(ctx, 'volume', vol.id, 'revert')
    states.transition_or_raise(ctx, 'snapshot', snap.id, 'revert')
    mgr.revert_to_snapshot(ctx, vol, snap)
    vol.refresh()
    snap.refresh()
    assert (vol.status, snap.status) == ('error', 'available')


def test_interrupted_revert_is_redone(mgr, ctx):  # noqa: F811
    vol = _available(ctx, mgr)
    with open(_file(mgr, vol.name), 'r+b') as f:
        f.write(b'original')
    snap = _snapshot(ctx, mgr, vol)
    with open(_file(mgr, vol.name), 'r+b') as f:
        f.write(b'changed!')
    states.transition_or_raise(ctx, 'volume', vol.id, 'revert',
                               work={'operation': 'revert',
                                     'payload': {'snapshot_id': snap.id}})
    states.transition_or_raise(ctx, 'snapshot', snap.id, 'revert')
    worker = objects.WorkerList.get_all(ctx, resource_id=vol.id)[0]
    mgr._redo(ctx, worker, vol)
    vol.refresh()
    assert vol.status == 'available'
    with open(_file(mgr, vol.name), 'rb') as f:
        assert f.read(8) == b'original'


def test_retype_goes_back_to_its_state(mgr, ctx):  # noqa: F811
    from blockstore.volume import volume_types
    vol = _available(ctx, mgr)
    gold = volume_types.create(ctx, 'gold-%s' % os.urandom(3).hex())
    states.transition_or_raise(ctx, 'volume', vol.id, 'retype', work={
        'operation': 'retype', 'payload': {'new_type_id': gold.id, 'target': 'available'}})
    mgr.retype(ctx, vol, gold.id, 'available')
    vol.refresh()
    assert (vol.status, vol.volume_type_id) == ('available', gold.id)


def test_manage_and_unmanage(mgr, ctx):  # noqa: F811
    mgr._setup_driver(ctx)
    with open(_file(mgr, 'legacy.img'), 'wb') as f:
        f.write(b'legacy')
        f.truncate(GiB + 10)
    vt = objects.VolumeType.get_by_name(ctx, '__DEFAULT__')
    vol = objects.Volume(ctx, project_id='p', user_id='u', size=0, volume_type_id=vt.id,
                         host=mgr.host + '#b1', attach_status='detached', bootable=False,
                         multiattach=False, use_quota=True, deleted=False, metadata={},
                         admin_metadata={}, status=states.MANAGING)
    vol.create(work={'operation': 'manage', 'payload': {'ref': {'source-name': 'legacy.img'}}})
    listed = mgr.get_manageable_volumes(ctx)
    assert {'source-name': 'legacy.img'} in [e['reference'] for e in listed]
    mgr.manage_existing(ctx, vol, {'source-name': 'legacy.img'})
    vol.refresh()
    assert (vol.status, vol.size) == ('available', 2)
    assert os.path.getsize(_file(mgr, vol.name)) == 2 * GiB
    entry = [e for e in mgr.get_manageable_volumes(ctx)
             if e['reference'] == {'source-name': vol.name}][0]
    assert entry['safe_to_manage'] is False and entry['cinder_id'] == vol.id
    states.transition_or_raise(ctx, 'volume', vol.id, 'unmanage',
                               work={'operation': 'unmanage'})
    mgr.unmanage_volume(ctx, vol)
    assert pytest.raises(Exception, objects.Volume.get_by_id, ctx, vol.id)
    assert os.path.exists(_file(mgr, vol.name))     # the data stays


def test_manage_missing_file_is_error_managing(mgr, ctx):  # noqa: F811
    vt = objects.VolumeType.get_by_name(ctx, '__DEFAULT__')
    vol = objects.Volume(ctx, project_id='p', user_id='u', size=0, volume_type_id=vt.id,
                         host=mgr.host + '#b1', attach_status='detached', bootable=False,
                         multiattach=False, use_quota=True, deleted=False, metadata={},
                         admin_metadata={}, status=states.MANAGING)
    vol.create()
    mgr.manage_existing(ctx, vol, {'source-name': 'nothing-here'})
    vol.refresh()
    assert vol.status == 'error_managing'
    msgs = db.message_get_all(context.get_admin_context(), resource_uuid=vol.id)
    assert msgs and 'nothing-here' in msgs[0].detail
