"""Backup manager: real file volumes, the real posix store and SQLite.

The volume RPC the backup service uses is delivered in-process to a real
volume manager (file driver); everything else is the real code. Each test
starts where the service layer leaves a request (the claims and the work
record it writes), or where a crash leaves one (recovery).
"""

import os
import threading
import time
import types

import pytest
from oslo_config import cfg

from blockstore.backup import manager as backup_manager
from blockstore.backup.drivers import base as store_base
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore import objects
from blockstore.objects import states
from blockstore.volume import manager as vol_manager
from blockstore.volume import volume_types
from blockstore.volume.drivers import lvm_datapath

CONF = cfg.CONF
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
CHUNK = 4 * MiB


@pytest.fixture
def backup_conf(tmp_path):
    overrides = {'backup_posix_path': str(tmp_path / 'store'), 'backup_chunk_size': CHUNK,
                 'backup_block_size': 256 * KiB, 'backup_workers': 2,
                 'backup_max_inflight': 4, 'backup_compression': 'zstd',
                 'backup_driver': 'posix'}
    for name, value in overrides.items():
        CONF.set_override(name, value, group='backup')
    yield
    for name in overrides:
        CONF.clear_override(name, group='backup')


def _service(ctx, host, binary):
    svc = objects.Service(ctx, host=host, binary=binary, topic='t', report_count=0,
                          disabled=False, frozen=False, availability_zone='nova',
                          replication_status='not-capable')
    svc.create()
    return svc


@pytest.fixture
def vmgr(database, tmp_path, ctx):
    conf = types.SimpleNamespace(volume_driver='file', volume_backend_name='b1',
                                 file_volumes_dir=str(tmp_path / 'vols'), file_capacity_gb=100,
                                 reserved_percentage=0, max_over_subscription_ratio=20.0)
    host = 'node-%s@b1' % os.urandom(3).hex()
    m = vol_manager.VolumeManager(host, conf)
    m.service = _service(ctx, host, 'blockstore-volume')
    m.init_host(ctx)
    return m


class InProcessVolumeRPC:
    """The volume RPC 1.8 calls, delivered to a real volume manager in this process."""

    def __init__(self, vmgr):
        self.vmgr = vmgr
        self.calls = []

    def backup_device(self, ctxt, volume, backup_id, snapshot_id=None, temp_snapshot=False,
                      restore=False, connector=None):
        self.calls.append(('backup_device', volume.id, temp_snapshot))
        if connector is not None:
            self.calls.append(('connector', connector))
        return self.vmgr.backup_device(ctxt, volume, backup_id, snapshot_id, temp_snapshot,
                                       restore, connector=connector)

    def backup_device_release(self, ctxt, volume, temp_snapshot_id, backup_id=None,
                              succeeded=True, restore=False, snapshot_id=None,
                              exported=False):
        self.calls.append(('backup_device_release', temp_snapshot_id))
        return self.vmgr.backup_device_release(ctxt, volume, temp_snapshot_id, backup_id,
                                               succeeded, restore, snapshot_id,
                                               exported=exported)


@pytest.fixture
def bmgr(database, ctx, vmgr, backup_conf, monkeypatch):
    monkeypatch.setattr(backup_manager, 'CANCEL_POLL', 0.0)
    host = vmgr.host.partition('@')[0]   # co-located: the local path (see test_remote.py)
    m = backup_manager.BackupManager(host)
    m.service = _service(ctx, host, 'blockstore-backup')
    m.volume_rpcapi = InProcessVolumeRPC(vmgr)
    return m


# -- what the service layer (and the user's data) leave -------------------------------

def _volume(ctx, vmgr, size=1):
    vt = volume_types.ensure_default_type(ctx)
    v = objects.Volume(ctx, project_id='p', user_id='u', size=size, display_name='v',
                       volume_type_id=vt.id, host=vmgr.host + '#b1', attach_status='detached',
                       bootable=False, multiattach=False, use_quota=True, deleted=False,
                       metadata={}, admin_metadata={})
    v.create(work={'operation': 'create'})
    vmgr.create_volume(ctx, v, {})
    v.refresh()
    assert v.status == states.AVAILABLE
    return v


def _write(path, offset, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def _fill(volume):
    """Data at the start, in the middle and at the end of a sparse volume."""
    path = volume.provider_location
    size = volume.size * GiB
    _write(path, 0, os.urandom(300 * KiB))
    _write(path, size // 2 + 5 * KiB, os.urandom(100 * KiB))
    _write(path, size - 64 * KiB, os.urandom(64 * KiB))


def _regions(path, length):
    return lvm_datapath.file_data_regions(path, 0, length)


def _same_content(a, b, length):
    """Byte-equal over ``length``: both read zeros outside either's data regions."""
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        for start, n in sorted(set(_regions(a, length)) | set(_regions(b, length))):
            fa.seek(start)
            fb.seek(start)
            if fa.read(n) != fb.read(n):
                return False
    return True


def _start_backup(ctx, bmgr, volume, parent=None, snapshot=None):
    """As backup/api.py create does: claim the source, insert with the create record."""
    if snapshot is not None:
        assert snapshot.transition('backup')
    elif volume.status == states.IN_USE:
        assert volume.transition('backup_attached')
    else:
        assert volume.transition('backup')
    b = objects.Backup(ctx, volume_id=volume.id, project_id=volume.project_id, user_id='u',
                       host=bmgr.host, availability_zone='nova', display_name='b',
                       size=volume.size, object_count=0, deleted=False, metadata={},
                       parent_id=parent.id if parent else None,
                       snapshot_id=snapshot.id if snapshot else None)
    b.create(work={'operation': 'create'})
    return b


def _backup(ctx, bmgr, volume, parent=None, snapshot=None):
    b = _start_backup(ctx, bmgr, volume, parent, snapshot)
    bmgr.create_backup(ctx, b)
    b.refresh()
    return b


def _start_restore(ctx, backup, volume):
    """As backup/api.py restore does onto an existing volume."""
    assert volume.transition('restore_backup')
    assert backup.transition('restore')
    objects.Worker.record(ctx, 'backup', backup.id, 'restore', states.RESTORING,
                          payload={'volume_id': volume.id})


def _objects_of(bmgr, backup):
    return bmgr.store.list(bmgr._container(backup), bmgr._prefix(backup))


def _no_work(ctx, *ids):
    return all(db.worker_get_all(ctx, resource_id=i) == [] for i in ids)


# -- backups and restores ------------------------------------------------------------

def test_full_backup_then_restore_onto_another_volume(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    assert b.status == states.AVAILABLE, b.fail_reason
    assert b.service == 'posix' and b.size == 1 and b.progress == 100
    assert b.object_count > 0 and b.container == 'backups'
    # Holes are not read: three small data regions, not a GiB.
    assert 0 < b.bytes_read < 4 * MiB
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id, v.id)
    assert _objects_of(bmgr, b)

    target = _volume(ctx, vmgr)
    _write(target.provider_location, 10 * MiB, b'old data' * 1000)   # overwritten by zeros
    _start_restore(ctx, b, target)
    bmgr.restore_backup(ctx, b, target.id)
    assert objects.Volume.get_by_id(ctx, target.id).status == states.AVAILABLE
    b.refresh()
    assert b.status == states.AVAILABLE and b.restore_volume_id is None
    assert _same_content(v.provider_location, target.provider_location, GiB)
    assert _no_work(ctx, b.id)


def test_incremental_stores_only_what_changed_and_each_restores_its_point(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    original = str(v.provider_location) + '.orig'
    with open(v.provider_location, 'rb') as src, open(original, 'wb') as dst:
        for start, n in _regions(v.provider_location, GiB):
            src.seek(start)
            dst.seek(start)
            dst.write(src.read(n))
        dst.truncate(GiB)
    full = _backup(ctx, bmgr, v)
    assert full.status == states.AVAILABLE, full.fail_reason
    _write(v.provider_location, 3 * MiB, os.urandom(10 * KiB))   # one chunk changes
    v.refresh()
    inc = _backup(ctx, bmgr, v, parent=full)
    assert inc.status == states.AVAILABLE, inc.fail_reason
    assert inc.object_count < full.object_count

    for backup, expected in ((inc, v.provider_location), (full, original)):
        target = _volume(ctx, vmgr)
        backup.refresh()
        _start_restore(ctx, backup, target)
        bmgr.restore_backup(ctx, backup, target.id)
        assert objects.Volume.get_by_id(ctx, target.id).status == states.AVAILABLE
        assert _same_content(expected, target.provider_location, GiB)


def test_attached_volume_is_read_through_a_temporary_snapshot(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    assert v.transition('reset', target=states.IN_USE)
    b = _backup(ctx, bmgr, v)
    assert b.status == states.AVAILABLE, b.fail_reason
    assert b.temp_snapshot_id is None
    assert objects.Volume.get_by_id(ctx, v.id).status == states.IN_USE
    temp = [c for c in bmgr.volume_rpcapi.calls
            if c[0] == 'backup_device_release' and c[1]]
    assert len(temp) == 1
    snap = objects.Snapshot.get_by_id(ctx, temp[0][1], read_deleted=True)
    assert snap.deleted and snap.display_name == 'backup-%s' % b.id and not snap.use_quota
    assert not os.path.exists(os.path.join(os.path.dirname(v.provider_location), snap.name))


def test_backup_of_a_snapshot(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    s = objects.Snapshot(ctx, volume_id=v.id, project_id='p', user_id='u', volume_size=1,
                         display_name='s', volume_type_id=v.volume_type_id, metadata={},
                         progress='0%', use_quota=True, deleted=False,
                         status=states.SNAPSHOT.initial)
    s.create(work={'operation': 'create'})
    vmgr.create_snapshot(ctx, s)
    s.refresh()
    _write(v.provider_location, 0, b'\xff' * 4096)   # after the snapshot: not backed up
    b = _backup(ctx, bmgr, v, snapshot=s)
    assert b.status == states.AVAILABLE, b.fail_reason
    assert objects.Snapshot.get_by_id(ctx, s.id).status == states.AVAILABLE
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    bmgr.restore_backup(ctx, b, target.id)
    assert _same_content(s.provider_location, target.provider_location, GiB)


def test_volume_created_from_a_backup_is_handed_to_the_backup_service(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    assert b.transition('restore')   # the 3.47 create claims the backup

    class Cast:
        def restore_backup(self, ctxt, backup, volume_id):
            bmgr.restore_backup(ctxt, backup, volume_id)   # the cast, delivered now
    vmgr.backup_rpcapi = Cast()
    vt = volume_types.ensure_default_type(ctx)
    new = objects.Volume(ctx, project_id='p', user_id='u', size=2, display_name='n',
                         volume_type_id=vt.id, host=vmgr.host + '#b1',
                         attach_status='detached', bootable=False, multiattach=False,
                         use_quota=True, deleted=False, metadata={}, admin_metadata={})
    new.create(work={'operation': 'create', 'payload': {'request_spec': {
        'backup_id': b.id}}})
    vmgr.create_volume(ctx, new, {'backup_id': b.id})
    new.refresh()
    assert new.status == states.AVAILABLE
    assert _same_content(v.provider_location, new.provider_location, GiB)
    assert objects.Backup.get_by_id(ctx, b.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id, new.id)


def test_failed_create_from_a_backup_gives_the_backup_back(bmgr, vmgr, ctx, monkeypatch):
    v = _volume(ctx, vmgr)
    b = _backup(ctx, bmgr, v)
    assert b.transition('restore')

    def boom(volume):
        raise RuntimeError('no space')
    monkeypatch.setattr(vmgr.driver, 'create_volume', boom)
    vt = volume_types.ensure_default_type(ctx)
    new = objects.Volume(ctx, project_id='p', user_id='u', size=1, display_name='n',
                         volume_type_id=vt.id, host=vmgr.host + '#b1',
                         attach_status='detached', bootable=False, multiattach=False,
                         use_quota=True, deleted=False, metadata={}, admin_metadata={})
    new.create()
    vmgr.create_volume(ctx, new, {'backup_id': b.id})
    assert objects.Volume.get_by_id(ctx, new.id).status == states.ERROR
    assert objects.Backup.get_by_id(ctx, b.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


def test_delete_removes_every_object(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    assert _objects_of(bmgr, b)
    assert b.transition('delete')
    bmgr.delete_backup(ctx, b)
    gone = objects.Backup.get_by_id(ctx, b.id, read_deleted=True)
    assert gone.deleted and gone.status == states.DELETED
    assert _objects_of(bmgr, b) == []


def test_export_then_import_makes_the_same_backup_usable(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    record = bmgr.export_record(ctx, b)
    assert record['backup_service'] == 'posix'
    imported = objects.Backup(ctx, volume_id=v.id, project_id='p', user_id='u',
                              host=bmgr.host, size=0, object_count=0, deleted=False,
                              metadata={})
    imported.create(work={'operation': 'import'})
    bmgr.import_record(ctx, imported, record['backup_service'], record['backup_url'])
    imported.refresh()
    assert imported.status == states.AVAILABLE, imported.fail_reason
    assert (imported.container, imported.service_metadata, imported.size) == (
        b.container, b.service_metadata, 1)
    assert _no_work(ctx, imported.id)

    bad = objects.Backup(ctx, volume_id=v.id, project_id='p', user_id='u', host=bmgr.host,
                         size=0, object_count=0, deleted=False, metadata={})
    bad.create(work={'operation': 'import'})
    bmgr.import_record(ctx, bad, 'swift', record['backup_url'])
    bad.refresh()
    assert bad.status == states.ERROR and 'swift' in bad.fail_reason


# -- failures and cancellation -------------------------------------------------------

def test_unreachable_store_fails_the_backup_with_its_reason(bmgr, vmgr, ctx, monkeypatch):
    v = _volume(ctx, vmgr)

    def down():
        raise store_base.BackupStoreUnavailable(reason='/mnt/backups is not mounted')
    monkeypatch.setattr(bmgr.store, 'check', down)
    b = _backup(ctx, bmgr, v)
    assert b.status == states.ERROR
    assert '/mnt/backups is not mounted' in b.fail_reason
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)
    assert any('/mnt/backups' in m.detail for m in db.message_get_all(ctx, resource_uuid=b.id))


def test_force_delete_cancels_a_running_backup(bmgr, vmgr, ctx, monkeypatch):
    v = _volume(ctx, vmgr)
    _write(v.provider_location, 0, os.urandom(10 * CHUNK))   # more chunks than in flight
    first_put = threading.Event()
    deleted = threading.Event()
    real_put = bmgr.store.put

    def slow_put(container, name, data):
        first_put.set()
        deleted.wait(5)
        real_put(container, name, data)
    monkeypatch.setattr(bmgr.store, 'put', slow_put)
    b = _start_backup(ctx, bmgr, v)
    t = threading.Thread(target=bmgr.create_backup, args=(ctx, b))
    t.start()
    assert first_put.wait(5)
    assert objects.Backup.get_by_id(ctx, b.id).transition('cancel')   # os-force_delete
    deleted.set()
    t.join(10)
    assert not t.is_alive()
    gone = objects.Backup.get_by_id(ctx, b.id, read_deleted=True)
    assert gone.deleted and gone.status == states.DELETED
    assert bmgr.store.list('backups', 'volume_%s/' % v.id) == []
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


def test_force_delete_as_the_backup_finishes(bmgr, vmgr, ctx, monkeypatch):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _start_backup(ctx, bmgr, v)
    real_backup = bmgr.chunked.backup

    def backup_then_cancelled(*args, **kwargs):
        meta = real_backup(*args, **kwargs)
        assert objects.Backup.get_by_id(ctx, b.id).transition('cancel')   # too late to see
        return meta
    monkeypatch.setattr(bmgr.chunked, 'backup', backup_then_cancelled)
    bmgr.create_backup(ctx, b)
    assert _status(b) == states.DELETED
    assert _objects_of(bmgr, b) == []
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


def test_force_delete_before_the_backup_began(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    b = _start_backup(ctx, bmgr, v)
    assert b.transition('cancel')      # the cast is still queued
    bmgr.create_backup(ctx, b)
    assert objects.Backup.get_by_id(ctx, b.id, read_deleted=True).status == states.DELETED
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


def test_force_delete_cancels_a_running_restore(bmgr, vmgr, ctx, monkeypatch):
    v = _volume(ctx, vmgr)
    _write(v.provider_location, 0, os.urandom(10 * CHUNK))   # more chunks than in flight
    b = _backup(ctx, bmgr, v)
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    first_get = threading.Event()
    cancelled = threading.Event()
    real_get = bmgr.store.get

    def slow_get(container, name):
        if name[-6:-5] == '-' and name[-5:].isdigit():
            first_get.set()
            cancelled.wait(5)
        return real_get(container, name)
    monkeypatch.setattr(bmgr.store, 'get', slow_get)
    t = threading.Thread(target=bmgr.restore_backup, args=(ctx, b, target.id))
    t.start()
    assert first_get.wait(5)
    assert objects.Backup.get_by_id(ctx, b.id).transition('cancel')
    cancelled.set()
    t.join(10)
    deadline = time.time() + 5
    while time.time() < deadline and not objects.Backup.get_by_id(
            ctx, b.id, read_deleted=True).deleted:
        time.sleep(0.05)
    gone = objects.Backup.get_by_id(ctx, b.id, read_deleted=True)
    assert gone.deleted and gone.status == states.DELETED
    assert _objects_of(bmgr, b) == []
    assert objects.Volume.get_by_id(ctx, target.id).status == states.ERROR_RESTORING
    assert _no_work(ctx, b.id)


def test_force_delete_before_the_restore_began(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    assert b.transition('cancel')
    bmgr.restore_backup(ctx, b, target.id)
    deadline = time.time() + 5
    while time.time() < deadline and not objects.Backup.get_by_id(
            ctx, b.id, read_deleted=True).deleted:
        time.sleep(0.05)
    assert objects.Backup.get_by_id(ctx, b.id, read_deleted=True).status == states.DELETED
    assert _objects_of(bmgr, b) == []
    assert objects.Volume.get_by_id(ctx, target.id).status == states.ERROR_RESTORING
    assert _no_work(ctx, b.id)


def test_a_stopping_service_leaves_its_running_backup_for_its_next_start(bmgr, vmgr, ctx,
                                                                         monkeypatch):
    v = _volume(ctx, vmgr)
    data = os.urandom(10 * CHUNK)   # more chunks than in flight
    _write(v.provider_location, 0, data)
    first_put = threading.Event()
    real_put = bmgr.store.put

    def put(container, name, data):
        first_put.set()
        real_put(container, name, data)
        time.sleep(0.05)
    monkeypatch.setattr(bmgr.store, 'put', put)
    b = _start_backup(ctx, bmgr, v)
    t = threading.Thread(target=bmgr.create_backup, args=(ctx, b))
    t.start()
    assert first_put.wait(5)
    bmgr.prepare_stop()   # SIGTERM: Service.stop() tells the manager first
    t.join(10)
    assert not t.is_alive()
    # Nothing failed: the backup, its claim on the volume and its record wait for the start.
    b.refresh()
    assert b.status == states.CREATING and b.fail_reason is None
    assert objects.Volume.get_by_id(ctx, v.id).status == states.BACKING_UP
    assert not _no_work(ctx, b.id)
    assert messages_of(ctx, b.id) == []
    # The next start runs it again from the beginning, to the end.
    bmgr._stopping.clear()
    monkeypatch.setattr(bmgr.store, 'put', real_put)
    assert bmgr.recover(ctx) == 1
    _wait_status(b, states.AVAILABLE)
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    bmgr.restore_backup(ctx, b, target.id)
    with open(objects.Volume.get_by_id(ctx, target.id).provider_location, 'rb') as f:
        assert f.read(len(data)) == data


def messages_of(ctx, resource_id):
    return db.message_get_all(ctx, resource_uuid=resource_id)


def _wait_status(backup, status, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline and _status(backup) not in (status, states.ERROR):
        time.sleep(0.05)
    backup.refresh()
    assert backup.status == status, backup.fail_reason


def test_restore_onto_a_vanished_volume_frees_the_backup(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    b = _backup(ctx, bmgr, v)
    assert b.transition('restore')
    objects.Worker.record(ctx, 'backup', b.id, 'restore', states.RESTORING)
    bmgr.restore_backup(ctx, b, '6f3b2a10-0000-4000-8000-00000000dead')
    assert objects.Backup.get_by_id(ctx, b.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


def test_failed_restore_leaves_the_volume_error_restoring(bmgr, vmgr, ctx, monkeypatch):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)

    def lost(container, name):
        raise store_base.BackupObjectNotFound(container=container, name=name)
    monkeypatch.setattr(bmgr.store, 'get', lost)
    bmgr.restore_backup(ctx, b, target.id)
    assert objects.Volume.get_by_id(ctx, target.id).status == states.ERROR_RESTORING
    assert objects.Backup.get_by_id(ctx, b.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


# -- recovery of interrupted work (what a crash leaves, then a start) -----------------

def _interrupted(ctx, bmgr, vmgr, v, restarts=None):
    """A backup of ``v`` as a crash mid-backup leaves it: its source opened (a temporary
    snapshot of an attached volume), some objects stored, its record this service's."""
    b = _start_backup(ctx, bmgr, v)
    device = vmgr.backup_device(ctx, v, b.id, temp_snapshot=v.status == states.IN_USE)
    prefix = bmgr._prefix(b)
    db_backups.backup_update(ctx, b.id, {'service_metadata': prefix, 'container': 'backups',
                                         'service': 'posix',
                                         'temp_snapshot_id': device.get('temp_snapshot_id')})
    bmgr.store.ensure_container('backups')
    bmgr.store.put('backups', prefix + '-00000', b'partial')
    if restarts is not None:
        db.worker_create(ctx, 'backup', b.id, 'create', states.CREATING,
                         payload={'restarts': restarts})
    db.worker_set_service(ctx, 'backup', b.id, bmgr.service.id)
    return b, device


def test_recovery_runs_an_interrupted_backup_again_from_the_start(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    assert v.transition('reset', target=states.IN_USE)
    b, device = _interrupted(ctx, bmgr, vmgr, v)
    assert bmgr.recover(ctx) == 1
    _wait_status(b, states.AVAILABLE)
    assert b'partial' not in [bmgr.store.get('backups', name)
                              for name in bmgr.store.list('backups', bmgr._prefix(b))]
    # The first run's temporary snapshot is gone; the second run's too, once it ended.
    first = objects.Snapshot.get_by_id(ctx, device['temp_snapshot_id'], read_deleted=True)
    assert first.deleted and b.temp_snapshot_id is None
    assert db.live_snapshot_ids(ctx, v.id) == []
    assert objects.Volume.get_by_id(ctx, v.id).status == states.IN_USE
    assert _no_work(ctx, b.id, first.id)
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    bmgr.restore_backup(ctx, b, target.id)
    for offset, length in ((0, 300 * KiB), (GiB // 2 + 5 * KiB, 100 * KiB)):
        assert _read(objects.Volume.get_by_id(ctx, target.id).provider_location, offset,
                     length) == _read(v.provider_location, offset, length)


def _read(path, offset, length):
    with open(path, 'rb') as f:
        f.seek(offset)
        return f.read(length)


@pytest.mark.parametrize('attached', [False, True])
def test_a_backup_whose_volume_service_did_not_answer_runs_again(bmgr, vmgr, ctx, monkeypatch,
                                                                 attached):
    """The volume service died with the backup_device call (it may have opened the source):
    the backup is postponed, then run again from the start."""
    import oslo_messaging as messaging
    monkeypatch.setattr(backup_manager, 'RETRY_DELAY', 0.05)
    v = _volume(ctx, vmgr)
    _fill(v)
    if attached:
        assert v.transition('reset', target=states.IN_USE)
    real = bmgr.volume_rpcapi.backup_device
    lost = []

    def backup_device(*args, **kwargs):
        answer = real(*args, **kwargs)   # done on the volume side, but the answer is lost
        if not lost:
            lost.append(answer)
            raise messaging.MessagingTimeout('no reply')
        return answer
    monkeypatch.setattr(bmgr.volume_rpcapi, 'backup_device', backup_device)
    b = _start_backup(ctx, bmgr, v)
    bmgr.create_backup(ctx, b)
    _wait_status(b, states.AVAILABLE)
    assert lost and db.live_snapshot_ids(ctx, v.id) == []
    assert objects.Volume.get_by_id(ctx, v.id).status == (states.IN_USE if attached
                                                          else states.AVAILABLE)
    assert _no_work(ctx, b.id) and messages_of(ctx, b.id) == []


def test_a_backup_interrupted_too_often_fails_and_gives_the_volume_back(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    assert v.transition('reset', target=states.IN_USE)
    b, device = _interrupted(ctx, bmgr, vmgr, v, restarts=backup_manager.MAX_RESTARTS)
    assert bmgr.recover(ctx) == 1
    b.refresh()
    assert b.status == states.ERROR and b.fail_reason == backup_manager.STOPPED
    assert bmgr.store.list('backups', bmgr._prefix(b)) == []
    snap = objects.Snapshot.get_by_id(ctx, device['temp_snapshot_id'], read_deleted=True)
    assert snap.deleted and b.temp_snapshot_id is None
    assert objects.Volume.get_by_id(ctx, v.id).status == states.IN_USE
    assert [m.event_id for m in messages_of(ctx, b.id)] == ['BACKUP_CREATE']
    assert _no_work(ctx, b.id, snap.id)


def test_recovery_counts_the_restarts_of_a_detached_volumes_backup(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b, _device = _interrupted(ctx, bmgr, vmgr, v, restarts=1)
    real = bmgr.create_backup
    runs = []
    bmgr.create_backup = lambda c, bk: runs.append(
        db.worker_get_all(c, resource_id=bk.id)[0].payload) or real(c, bk)
    assert bmgr.recover(ctx) == 1
    _wait_status(b, states.AVAILABLE)
    assert len(runs) == 1 and '"restarts": 2' in runs[0]
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


def test_recovery_runs_a_backup_that_had_not_begun(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _start_backup(ctx, bmgr, v)    # its cast was lost with the process
    assert bmgr.recover(ctx) == 1
    deadline = time.time() + 10
    while time.time() < deadline and _status(b) == states.CREATING:
        time.sleep(0.05)
    b.refresh()
    assert b.status == states.AVAILABLE, b.fail_reason
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)
    bmgr.create_backup(ctx, b)         # the queued duplicate, delivered late: skipped
    assert _status(b) == states.AVAILABLE and _no_work(ctx, b.id)


def _status(backup):
    return objects.Backup.get_by_id(backup._context, backup.id, read_deleted=True).status


def test_recovery_writes_an_interrupted_restore_again(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    _write(target.provider_location, 0, b'half-written by the crashed run')
    assert bmgr.recover(ctx) == 1
    deadline = time.time() + 10
    while time.time() < deadline and _status(b) == states.RESTORING:
        time.sleep(0.05)
    assert objects.Volume.get_by_id(ctx, target.id).status == states.AVAILABLE
    assert objects.Backup.get_by_id(ctx, b.id).status == states.AVAILABLE
    assert _read(target.provider_location, 0, 300 * KiB) == _read(v.provider_location, 0,
                                                                  300 * KiB)
    assert _no_work(ctx, b.id)


def test_a_restore_interrupted_too_often_leaves_the_volume_error_restoring(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    b = _backup(ctx, bmgr, v)
    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    db.worker_create(ctx, 'backup', b.id, 'restore', states.RESTORING,
                     payload={'volume_id': target.id,
                              'restarts': backup_manager.MAX_RESTARTS})
    assert bmgr.recover(ctx) == 1
    assert objects.Volume.get_by_id(ctx, target.id).status == states.ERROR_RESTORING
    assert objects.Backup.get_by_id(ctx, b.id).status == states.AVAILABLE
    assert _no_work(ctx, b.id)


def test_recovery_redoes_an_interrupted_delete(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    b = _backup(ctx, bmgr, v)
    assert b.transition('delete')
    objects.Worker.record(ctx, 'backup', b.id, 'delete', states.DELETING)
    assert bmgr.recover(ctx) == 1
    assert objects.Backup.get_by_id(ctx, b.id, read_deleted=True).status == states.DELETED
    assert _objects_of(bmgr, b) == []
    assert _no_work(ctx, b.id)


def test_recovery_of_an_interrupted_import(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    b = objects.Backup(ctx, volume_id=v.id, project_id='p', user_id='u', host=bmgr.host,
                       size=0, object_count=0, deleted=False, metadata={})
    b.create(work={'operation': 'import'})
    assert bmgr.recover(ctx) == 1
    b.refresh()
    assert b.status == states.ERROR and b.fail_reason == backup_manager.IMPORT_STOPPED
    assert _no_work(ctx, b.id)


def test_recovery_leaves_other_services_backups_alone(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    b = _start_backup(ctx, bmgr, v)
    db_backups.backup_update(ctx, b.id, {'host': 'elsewhere'})
    assert bmgr.recover(ctx) == 0
    assert objects.Backup.get_by_id(ctx, b.id).status == states.CREATING
    # ... and so does the volume service's own recovery.
    vmgr._recover(ctx)
    time.sleep(0.05)
    assert len(db.worker_get_all(ctx, resource_id=b.id)) == 1
