"""FileDriver: the conformance suite plus file specific behaviour."""

import errno
import os
import types

import pytest

from blockstore.common import exception
from blockstore.volume import drivers
from blockstore.volume.drivers import base
from blockstore.volume.drivers import file as file_driver
from tests.fixtures import reflink
from tests.unit.drivers import conformance

GiB = 1024 ** 3
MiB = 1024 ** 2


def make_conf(directory, **overrides):
    values = dict(volume_backend_name='files', file_volumes_dir=str(directory),
                  file_capacity_gb=1000, reserved_percentage=0,
                  max_over_subscription_ratio=20.0)
    values.update(overrides)
    return types.SimpleNamespace(**values)


class FileInspector(conformance.Inspector):
    def __init__(self, directory):
        self.directory = directory

    def path(self, obj):
        return os.path.join(self.directory, obj.name)

    def exists(self, obj):
        return os.path.exists(self.path(obj))

    def size(self, obj):
        return os.stat(self.path(obj)).st_size

    def read(self, obj, offset, length):
        with open(self.path(obj), 'rb') as f:
            f.seek(offset)
            return f.read(length)

    def write(self, obj, offset, data):
        with open(self.path(obj), 'r+b') as f:
            f.seek(offset)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


@pytest.fixture
def volumes_dir(tmp_path):
    return tmp_path / 'volumes'


@pytest.fixture
def driver(volumes_dir):
    return file_driver.FileDriver(make_conf(volumes_dir), 'node1@files')


@pytest.fixture
def inspector(volumes_dir):
    return FileInspector(str(volumes_dir))


class TestFileDriverConformance(conformance.DriverConformance):
    pass


@pytest.fixture
def backend(driver, inspector):
    driver.do_setup(None)
    driver.check_for_setup_error()
    return conformance.Backend(driver, inspector)


def disk_bytes(path):
    return os.stat(path).st_blocks * 512


def test_declares_volume_snapshot_clone_and_local_exports():
    declared = base.declared_interfaces(file_driver.FileDriver)
    assert set(declared) == {'VolumeDriver', 'SnapshotOps', 'CloneOps', 'ManageOps',
                             'RevertOps', 'ManageSnapshotOps', 'ManageableListOps',
                             'ExportOps', 'ImageOps', 'LocalPathOps', 'BackupDeviceOps',
                             'BackupExportOps'}
    assert base.supports(file_driver.FileDriver, base.ExportOps)


def test_local_path_is_the_file_while_it_exists(backend, volumes_dir):
    vol = backend.create_volume(1)
    path = backend.driver.local_path(vol)
    assert path == os.path.join(str(volumes_dir), vol.name) and os.path.isfile(path)
    backend.driver.delete_volume(vol)
    with pytest.raises(exception.VolumeBackendAPIException, match='has no file'):
        backend.driver.local_path(vol)


def test_local_connection_is_the_file(backend, volumes_dir):
    vol = backend.create_volume(1)
    drv = backend.driver
    assert drv.create_export(None, vol, {'initiator': 'iqn.x:h'}) is None
    info = drv.initialize_connection(vol, {'initiator': 'iqn.x:h'})
    assert info['driver_volume_type'] == 'local'
    path = info['data']['device_path']
    assert path == str(volumes_dir / vol.name)
    with open(path, 'r+b') as f:   # what a host on this machine does with it
        f.write(b'attached')
    with open(volumes_dir / vol.name, 'rb') as f:
        assert f.read(8) == b'attached'
    drv.terminate_connection(vol, {'initiator': 'iqn.x:h'}, remaining_attachments=[])
    drv.remove_export(None, vol)
    assert os.path.exists(path)
    drv.delete_volume(vol)
    with pytest.raises(exception.VolumeBackendAPIException):
        drv.initialize_connection(vol, {'initiator': 'iqn.x:h'})


def test_provider_location_is_the_file(backend, volumes_dir):
    vol = backend.create_volume(1)
    assert vol.provider_location == str(volumes_dir / vol.name)
    snap = backend.create_snapshot(vol)
    assert snap.provider_location == str(volumes_dir / snap.name)


def test_fresh_volume_is_sparse(backend, inspector):
    vol = backend.create_volume(1)
    assert inspector.size(vol) == GiB
    assert disk_bytes(inspector.path(vol)) < MiB


def test_snapshot_and_clone_stay_sparse(backend, inspector):
    vol = backend.create_volume(1)
    data = conformance.pattern('sparse', MiB)
    inspector.write(vol, 100 * MiB, data)
    snap = backend.create_snapshot(vol)
    clone = backend.clone(vol, 2)
    for obj in (snap, clone):
        used = disk_bytes(inspector.path(obj))
        assert MiB <= used <= 2 * MiB, (obj.name, used)
        assert inspector.read(obj, 100 * MiB, MiB) == data
        assert inspector.read(obj, 0, 4096) == bytes(4096)


def test_sparse_copy_without_copy_file_range(backend, inspector, monkeypatch):
    def no_cfr(*args):
        raise OSError(errno.EXDEV, 'cross device')

    monkeypatch.setattr(file_driver.os, 'copy_file_range', no_cfr)
    vol = backend.create_volume(1)
    data = conformance.pattern('fallback', MiB)
    inspector.write(vol, 10 * MiB, data)
    snap = backend.create_snapshot(vol)
    assert inspector.read(snap, 10 * MiB, MiB) == data
    assert disk_bytes(inspector.path(snap)) <= 2 * MiB


def _fake_ficlone(calls, error=None):
    """fcntl.ioctl as a reflinking filesystem answers FICLONE (a whole copy here)."""
    real_ioctl = file_driver.fcntl.ioctl

    def ioctl(fd, request, arg=0, *rest):
        if request != file_driver.FICLONE:
            return real_ioctl(fd, request, arg, *rest)
        calls.append((fd, arg))
        if error is not None:
            raise OSError(error, os.strerror(error))
        size = os.fstat(arg).st_size
        os.ftruncate(fd, size)
        for offset, length in file_driver._data_regions(arg, size):   # extents shared
            os.pwrite(fd, os.pread(arg, length, offset), offset)
        return 0
    return ioctl


def test_snapshot_is_a_reflink_where_the_filesystem_has_them(backend, inspector,
                                                             monkeypatch):
    """One FICLONE of the whole volume (atomic against a writer), no range copy."""
    calls = []
    monkeypatch.setattr(file_driver.fcntl, 'ioctl', _fake_ficlone(calls))

    def no_range_copy(*args):
        raise AssertionError('copied by ranges although the clone worked')

    monkeypatch.setattr(file_driver, '_copy_range', no_range_copy)
    vol = backend.create_volume(1)
    data = conformance.pattern('reflink', MiB)
    inspector.write(vol, 7 * MiB, data)
    snap = backend.create_snapshot(vol)
    assert len(calls) == 1
    assert inspector.size(snap) == GiB
    assert inspector.read(snap, 7 * MiB, MiB) == data
    clone = backend.clone(vol, 2)   # grown after the clone
    assert len(calls) == 2 and inspector.size(clone) == 2 * GiB
    assert inspector.read(clone, 7 * MiB, MiB) == data


@pytest.mark.parametrize('error', [errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY])
def test_no_reflink_falls_back_to_a_copy(backend, inspector, monkeypatch, error):
    calls = []
    monkeypatch.setattr(file_driver.fcntl, 'ioctl', _fake_ficlone(calls, error))
    vol = backend.create_volume(1)
    data = conformance.pattern('copied', MiB)
    inspector.write(vol, 3 * MiB, data)
    snap = backend.create_snapshot(vol)
    assert len(calls) == 1
    assert inspector.read(snap, 3 * MiB, MiB) == data
    assert disk_bytes(inspector.path(snap)) <= 2 * MiB


def test_reflink_io_error_fails_the_snapshot(backend, inspector, volumes_dir, monkeypatch):
    monkeypatch.setattr(file_driver.fcntl, 'ioctl', _fake_ficlone([], errno.EIO))
    vol = backend.create_volume(1)
    with pytest.raises(exception.VolumeBackendAPIException, match='snapshot'):
        backend.create_snapshot(vol)
    assert sorted(os.listdir(volumes_dir)) == [vol.name]


def test_interrupted_copy_leaves_no_file_and_rerun_succeeds(backend, inspector,
                                                            volumes_dir, monkeypatch):
    src = backend.create_volume(1)
    data = conformance.pattern('crash', MiB)
    inspector.write(src, 0, data)
    snap = backend.create_snapshot(src)

    real_copy = file_driver._copy_range

    def half_then_fail(src_fd, dst_fd, offset, length):
        real_copy(src_fd, dst_fd, offset, length // 2)
        raise OSError(errno.EIO, 'I/O error midway')

    monkeypatch.setattr(file_driver, '_copy_range', half_then_fail)
    monkeypatch.setattr(file_driver, '_clone', lambda src_fd, dst_fd: False)   # XFS, btrfs
    vol = backend.new_volume(1)
    with pytest.raises(exception.VolumeBackendAPIException):
        backend.driver.create_volume_from_snapshot(vol, snap)
    assert not inspector.exists(vol)
    assert sorted(os.listdir(volumes_dir)) == sorted([src.name, snap.name])

    monkeypatch.setattr(file_driver, '_copy_range', real_copy)
    backend.driver.create_volume_from_snapshot(vol, snap)
    assert inspector.read(vol, 0, MiB) == data


def test_setup_removes_temp_files_left_by_a_crash(backend, volumes_dir):
    stale = volumes_dir / '.volume-x.abc123.tmp'
    stale.write_bytes(b'half')
    backend.driver.do_setup(None)
    assert not stale.exists()


def test_create_rerun_with_wrong_size_file_fails(backend, inspector):
    vol = backend.create_volume(1)
    vol.size = 2
    with pytest.raises(exception.VolumeBackendAPIException):
        backend.driver.create_volume(vol)
    assert inspector.size(vol) == GiB


def test_snapshot_of_missing_volume_fails(backend, inspector):
    vol = backend.new_volume(1)
    snap = backend.new_snapshot(vol)
    with pytest.raises(exception.VolumeBackendAPIException):
        backend.driver.create_snapshot(snap)
    assert not inspector.exists(snap)


def test_extend_missing_volume_fails(backend):
    with pytest.raises(exception.VolumeBackendAPIException):
        backend.driver.extend_volume(backend.new_volume(1), 2)


def test_snapshot_survives_volume_delete(backend, inspector):
    vol = backend.create_volume(1)
    data = conformance.pattern('survive')
    inspector.write(vol, 0, data)
    snap = backend.create_snapshot(vol)
    backend.driver.delete_volume(vol)
    restored = backend.create_from_snapshot(snap, 1)
    assert inspector.read(restored, 0, len(data)) == data


def test_odd_names_are_refused(backend):
    vol = backend.new_volume(1)
    vol.name = '../escape'
    with pytest.raises(exception.InvalidInput):
        backend.driver.create_volume(vol)


def test_setup_errors(tmp_path):
    missing = file_driver.FileDriver(make_conf(tmp_path / 'nope'), 'h@b')
    with pytest.raises(exception.VolumeBackendAPIException):
        missing.check_for_setup_error()
    (tmp_path / 'afile').write_bytes(b'')
    not_dir = file_driver.FileDriver(make_conf(tmp_path / 'afile'), 'h@b')
    with pytest.raises(exception.VolumeBackendAPIException):
        not_dir.do_setup(None)
    unset = file_driver.FileDriver(make_conf(tmp_path, file_volumes_dir=None), 'h@b')
    with pytest.raises(exception.VolumeBackendAPIException):
        unset.do_setup(None)


def test_stats_values(backend, inspector):
    stats = backend.driver.get_volume_stats(refresh=True)
    assert stats['volume_backend_name'] == 'files'
    assert stats['vendor_name'] == 'blockstore'
    assert stats['storage_protocol'] == 'file'
    (pool,) = stats['pools']
    assert pool['pool_name'] == 'files'
    assert pool['thin_provisioning_support'] is True
    assert pool['thick_provisioning_support'] is False
    assert pool['multiattach'] is False and pool['QoS_support'] is False
    assert pool['max_over_subscription_ratio'] == 20.0
    assert pool['reserved_percentage'] == 0

    vfs = os.statvfs(inspector.directory)
    assert pool['total_capacity_gb'] <= vfs.f_bavail * vfs.f_frsize / GiB + 0.01

    vol = backend.create_volume(1)
    inspector.write(vol, 0, conformance.pattern('used', 16 * MiB))
    after = backend.driver.get_volume_stats(refresh=True)['pools'][0]
    assert after['provisioned_capacity_gb'] == 1
    assert after['allocated_capacity_gb'] == 1
    used = after['total_capacity_gb'] - after['free_capacity_gb']
    assert used == pytest.approx(16 / 1024, abs=0.012)


def test_stats_total_capped_by_configured_capacity(volumes_dir):
    drv = file_driver.FileDriver(make_conf(volumes_dir, file_capacity_gb=5,
                                           volume_backend_name=None), 'h@b')
    drv.do_setup(None)
    stats = drv.get_volume_stats()
    assert stats['volume_backend_name'] == 'FileDriver'
    assert stats['pools'][0]['total_capacity_gb'] == 5
    assert stats['pools'][0]['free_capacity_gb'] == 5


def test_stats_total_capped_by_filesystem(volumes_dir):
    drv = file_driver.FileDriver(make_conf(volumes_dir, file_capacity_gb=10 ** 9), 'h@b')
    drv.do_setup(None)
    vfs = os.statvfs(str(volumes_dir))
    total = drv.get_volume_stats()['pools'][0]['total_capacity_gb']
    assert total == pytest.approx(vfs.f_bavail * vfs.f_frsize / GiB, abs=1)


def test_stats_are_cached_until_refresh(backend):
    first = backend.driver.get_volume_stats(refresh=True)
    backend.create_volume(1)
    assert backend.driver.get_volume_stats() is first
    assert backend.driver.get_volume_stats(refresh=True)['pools'][0][
        'provisioned_capacity_gb'] == first['pools'][0]['provisioned_capacity_gb'] + 1


def test_load_driver_by_name_and_path(tmp_path):
    conf = make_conf(tmp_path)
    for name in ('file', 'blockstore.volume.drivers.file.FileDriver',
                 'blockstore.volume.drivers.file:FileDriver'):
        drv = drivers.load_driver(name, conf, 'h@b')
        assert isinstance(drv, file_driver.FileDriver)
        assert drv.host == 'h@b' and drv.configuration is conf
    with pytest.raises(ValueError):
        drivers.load_driver('no-such-driver', conf, 'h@b')
    with pytest.raises(ValueError):
        drivers.load_driver('blockstore.volume.drivers.file.Nope', conf, 'h@b')
    with pytest.raises(TypeError):
        drivers.load_driver('types.SimpleNamespace', conf, 'h@b')


# -- RevertOps ------------------------------------------------------------------

def test_revert_restores_bytes_and_is_rerunnable(backend):
    ins = backend.inspector
    vol = backend.create_volume(1)
    ins.write(vol, 0, b'before')
    ins.write(vol, GiB - 5, b'tail1')
    snap = backend.create_snapshot(vol)
    ins.write(vol, 0, b'after!')
    ins.write(vol, 4096, b'new data')
    ins.write(vol, GiB - 5, b'tail2')
    backend.driver.revert_to_snapshot(None, vol, snap)
    assert ins.read(vol, 0, 6) == b'before'
    assert ins.read(vol, 4096, 8) == bytes(8)
    assert ins.read(vol, GiB - 5, 5) == b'tail1'
    assert ins.size(vol) == GiB
    backend.driver.revert_to_snapshot(None, vol, snap)   # again: same result
    assert ins.read(vol, 0, 6) == b'before'
    assert ins.exists(snap) and ins.read(snap, 0, 6) == b'before'
    assert not [n for n in os.listdir(backend.driver._dir) if n.endswith('.tmp')]


def test_revert_checks_snapshot_and_source(backend):
    vol = backend.create_volume(1)
    other = backend.create_volume(1)
    snap = backend.create_snapshot(other)
    with pytest.raises(exception.InvalidVolume):
        backend.driver.revert_to_snapshot(None, vol, snap)
    snap2 = backend.create_snapshot(vol)
    backend.driver.delete_snapshot(snap2)
    with pytest.raises(exception.VolumeBackendAPIException):
        backend.driver.revert_to_snapshot(None, vol, snap2)


def test_revert_crash_keeps_old_content(backend, monkeypatch):
    ins = backend.inspector
    vol = backend.create_volume(1)
    ins.write(vol, 0, b'snapshot')
    snap = backend.create_snapshot(vol)
    ins.write(vol, 0, b'current!')

    def boom(*a, **kw):
        raise OSError(errno.EIO, 'crash')
    monkeypatch.setattr(file_driver.os, 'replace', boom)
    with pytest.raises(exception.VolumeBackendAPIException):
        backend.driver.revert_to_snapshot(None, vol, snap)
    monkeypatch.undo()
    assert ins.read(vol, 0, 8) == b'current!'
    backend.driver.revert_to_snapshot(None, vol, snap)
    assert ins.read(vol, 0, 8) == b'snapshot'


# -- ManageOps, ManageSnapshotOps, ManageableListOps ---------------------------

def _raw(volumes_dir, name, data=b'', size=None):
    path = os.path.join(str(volumes_dir), name)
    with open(path, 'wb') as f:
        f.write(data)
        if size:
            f.truncate(size)
    return path


def test_manage_existing_file(backend, volumes_dir):
    drv = backend.driver
    _raw(volumes_dir, 'legacy.img', b'legacy-bytes', size=GiB + 1)
    vol = backend.new_volume(0)
    ref = {'source-name': 'legacy.img'}
    assert drv.manage_existing_get_size(vol, ref) == 2
    update = drv.manage_existing(vol, ref)
    assert update == {'provider_location': os.path.join(str(volumes_dir), vol.name)}
    assert not os.path.exists(os.path.join(str(volumes_dir), 'legacy.img'))
    assert backend.inspector.size(vol) == 2 * GiB
    assert backend.inspector.read(vol, 0, 12) == b'legacy-bytes'
    # Re-running after the rename is harmless; the size is still known.
    assert drv.manage_existing(vol, ref) == update
    assert drv.manage_existing_get_size(vol, ref) == 2
    drv.unmanage(vol)
    assert backend.inspector.exists(vol)


@pytest.mark.parametrize('ref', [None, {}, {'source-name': ''}, {'source-name': 5},
                                 {'source-name': '../etc'}, {'source-name': 'missing'},
                                 {'source-id': 'x'}])
def test_manage_bad_reference(backend, ref):
    vol = backend.new_volume(0)
    with pytest.raises(exception.InvalidVolume):
        backend.driver.manage_existing_get_size(vol, ref)
    with pytest.raises(exception.InvalidVolume):
        backend.driver.manage_existing(vol, ref)


def test_manage_crash_between_link_and_unlink(backend, volumes_dir):
    src = _raw(volumes_dir, 'half.img', b'x', size=GiB)
    vol = backend.new_volume(0)
    os.link(src, os.path.join(str(volumes_dir), vol.name))
    backend.driver.manage_existing(vol, {'source-name': 'half.img'})
    assert not os.path.exists(src) and backend.inspector.exists(vol)


def test_manage_snapshot_and_listing(backend, volumes_dir):
    drv = backend.driver
    vol = backend.create_volume(1)
    snap_file = _raw(volumes_dir, 'snapshot-%s' % ('1' * 8 + '-1111-1111-1111-' + '1' * 12),
                     size=GiB)
    _raw(volumes_dir, 'free.img', size=10)
    vols = drv.get_manageable_volumes([vol.id])
    by_name = {e['reference']['source-name']: e for e in vols}
    assert by_name[vol.name]['safe_to_manage'] is False
    assert by_name[vol.name]['cinder_id'] == vol.id
    assert by_name['free.img'] == {'reference': {'source-name': 'free.img'}, 'size': 1,
                                   'safe_to_manage': True, 'reason_not_safe': None,
                                   'cinder_id': None, 'extra_info': None}
    assert os.path.basename(snap_file) not in by_name
    snaps = drv.get_manageable_snapshots([])
    assert [s['reference']['source-name'] for s in snaps] == [os.path.basename(snap_file)]
    assert snaps[0]['safe_to_manage'] is True and snaps[0]['source_reference'] is None
    snap = backend.new_snapshot(vol)
    ref = {'source-name': os.path.basename(snap_file)}
    assert drv.manage_existing_snapshot_get_size(snap, ref) == 1
    drv.manage_existing_snapshot(snap, ref)
    assert backend.inspector.exists(snap)
    with pytest.raises(exception.InvalidSnapshot):
        drv.manage_existing_snapshot(backend.new_snapshot(vol), {'source-name': 'gone'})
    listed = drv.get_manageable_snapshots([snap.id])
    assert [(s['cinder_id'], s['safe_to_manage']) for s in listed] == [(snap.id, False)]


@pytest.fixture
def reflink_volumes_dir(tmp_path):
    with reflink.reflink_dir(str(tmp_path)) as directory:
        yield os.path.join(directory, 'volumes')


def test_snapshot_of_a_volume_being_written_is_one_point_in_time(reflink_volumes_dir):
    """On a reflink filesystem (XFS, btrfs: tests/fixtures/reflink.py mounts one when the
    tmp directory has none) a snapshot taken while a writer writes is the volume after
    some write K: never a later write without an earlier one, never half a write. (A
    range copy on ext4 fails this.)"""
    driver = file_driver.FileDriver(make_conf(reflink_volumes_dir), 'node1@files')
    driver.do_setup(None)
    driver.check_for_setup_error()
    backend = conformance.Backend(driver, FileInspector(reflink_volumes_dir))
    inspector = backend.inspector
    import struct
    import threading
    import time
    record, slots, spacing = 16 * 1024, 512, 32 * 1024   # a hole after each record
    vol = backend.create_volume(1)

    def data(seq):
        return struct.pack('<Q', seq) * (record // 8)

    def slot(seq):
        return seq * 7 % slots

    stop, written = threading.Event(), []

    def write():
        fd = os.open(inspector.path(vol), os.O_RDWR)
        seq = 0
        while not stop.is_set():
            os.pwrite(fd, data(seq), slot(seq) * spacing)
            written.append(seq)
            seq += 1
        os.close(fd)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while len(written) < slots:
            time.sleep(0.001)
        for _ in range(10):
            snap = backend.create_snapshot(vol)
            held = []
            for i in range(slots):
                block = inspector.read(snap, i * spacing, record)
                seq = struct.unpack_from('<Q', block)[0]
                assert block == data(seq), 'torn write in slot %d' % i
                held.append(seq)
            last = max(held)
            expected = [None] * slots
            for seq in range(last + 1):
                expected[slot(seq)] = seq
            assert held == expected, 'not the volume after write %d' % last
            backend.driver.delete_snapshot(snap)
    finally:
        stop.set()
        thread.join()
