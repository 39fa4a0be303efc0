"""Backups of thick LVM volumes on the host tier: a PV in a sparse file on a loop device.

The real backup manager (posix store under the test's directory) and the
real volume manager (LVM driver on the host tier's throw-away VG, exports
through a private tgtd) run in this process; the volume RPC between them
is delivered in-process, as in tests/unit/backup/test_manager.py. SQLite.

Without device-mapper a thick LV is one contiguous range of the PV file
and a backup reads it through a loop device over that range; the PV
file's holes are the LV's unallocated ranges (``data_regions``). What this
proves, checked against the PV file itself:

* a full backup of a 2 GiB volume holding ~7 MiB reads only the PV file's
  allocated ranges; the loop device it attached is detached afterwards,
  and an export's loop device is used as it is and left attached;
* an incremental after a 1 MiB change stores only the changed blocks
  (it compares block hashes, so it reads the allocated ranges again);
* restores of each point in time onto a new LV and onto an existing LV
  holding other data are byte-for-byte equal to the source then, and the
  PV file stays sparse: holes are discarded (punched), not written;
* backups that need a snapshot (an attached volume with force, or a backup
  of a snapshot) need device-mapper and fail with a reason saying so;
* a backup or restore of an exported volume uses the export's loop device
  and keeps it (restored bytes read back through iSCSI); writes still in
  that loop device's page cache are backed up (the source is flushed before
  the PV file's holes are read);
* the backup's loop device is detached at release even by a volume service
  restarted since it attached it.
"""

import os
import time

import pytest
from oslo_config import cfg

from blockstore.backup import manager as backup_manager
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import states
from blockstore.volume import manager as vol_manager
from blockstore.volume import volume_types
from blockstore.volume.drivers import lvm_datapath
from tests.e2e.host import conftest as host
from tests.e2e.host import test_lvm_iscsi
from tests.fixtures.database import database_fixture
from tests.unit.backup import test_manager as manager_tests
from tests.unit.backup.test_manager import _service, _start_backup, backup_conf  # noqa: F401,E501

CONF = cfg.CONF
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
SIZE_GB = 2
# Data at the start, after a long hole, and at the end of the volume.
WRITES = [(0, 4 * MiB), (GiB + 64 * KiB, 2 * MiB), (SIZE_GB * GiB - MiB, MiB)]
DATA = sum(n for _o, n in WRITES)
CHANGE = (700 * MiB, MiB)    # the incremental's 1 MiB, in the middle of a hole
CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:bs-backup-test', 'ip': '127.0.0.1',
             'host': 'compute1', 'multipath': False, 'platform': 'x86_64',
             'os_type': 'linux'}

database = database_fixture(backends=('sqlite',))


@pytest.fixture
def ctx():
    from blockstore.common import context
    return context.get_admin_context()


@pytest.fixture
def vmgr(database, ctx, host_vg, tgtd):
    """The volume manager on the host tier's VG; its volumes' LVs removed afterwards."""
    hostname = 'node-%s@lvm-e2e' % os.urandom(3).hex()
    m = vol_manager.VolumeManager(hostname, host.backend_conf(host_vg, tgtd))
    m.service = _service(ctx, hostname, 'blockstore-volume')
    m.init_host(ctx)
    m.made = []
    yield m
    for volume in m.made:
        m.driver.delete_volume(volume)


class InProcessVolumeRPC(manager_tests.InProcessVolumeRPC):
    """The volume RPC 1.8 calls, delivered to the real volume manager in this process;
    records the loop devices over the PV file while each source or target is open."""

    def __init__(self, vmgr, host_vg):
        super().__init__(vmgr)
        self.host_vg = host_vg
        self.devices = []    # (backup_device's answer, loop devices while it was open)

    def backup_device(self, *args, **kwargs):
        device = super().backup_device(*args, **kwargs)
        self.devices.append((device, self.host_vg.loops_of_file()))
        return device


@pytest.fixture
def bmgr(database, ctx, vmgr, host_vg, backup_conf, monkeypatch):
    monkeypatch.setattr(backup_manager, 'CANCEL_POLL', 0.0)
    hostname = vmgr.host.partition('@')[0]   # co-located: the local path
    m = backup_manager.BackupManager(hostname)
    m.service = _service(ctx, hostname, 'blockstore-backup')
    m.volume_rpcapi = InProcessVolumeRPC(vmgr, host_vg)
    return m


# -- volumes, their bytes and the PV file ------------------------------------------------

def _volume(ctx, vmgr, size=SIZE_GB):
    vt = volume_types.ensure_default_type(ctx)
    v = objects.Volume(ctx, project_id='p', user_id='u', size=size, display_name='v',
                       volume_type_id=vt.id, host=vmgr.host + '#lvm-e2e',
                       attach_status='detached', bootable=False, multiattach=False,
                       use_quota=True, deleted=False, metadata={}, admin_metadata={})
    v.create(work={'operation': 'create'})
    vmgr.made.append(v)
    vmgr.create_volume(ctx, v, {})
    v.refresh()
    assert v.status == states.AVAILABLE
    return v


def _write(host_vg, volume, writes):
    """Write ``[(offset, bytes)]`` through a loop device over the LV's extents."""
    with host_vg.lv_loop(volume.name) as dev:
        fd = os.open(dev, os.O_RDWR)
        try:
            for offset, data in writes:
                os.pwrite(fd, data, offset)
            os.fsync(fd)
        finally:
            os.close(fd)


def _regions(host_vg, volume):
    """The PV file's allocated ranges inside the LV, relative to the LV's start."""
    offset, size = host_vg.lv_byte_range(volume.name)
    return lvm_datapath.file_data_regions(host_vg.pv_file, offset, size)


def _allocated(host_vg, volume):
    return sum(n for _o, n in _regions(host_vg, volume))


def _pv_allocated(host_vg):
    return os.stat(host_vg.pv_file).st_blocks * 512


def _content(host_vg, volume):
    """{offset: bytes} of every allocated range of the LV (the rest reads zeros)."""
    start, _size = host_vg.lv_byte_range(volume.name)
    return {o: host_vg.read_pv(start + o, n) for o, n in _regions(host_vg, volume)}


def _holds(host_vg, volume, expected):
    """LV ``volume`` reads ``expected`` ({offset: bytes}, as :func:`_content` gives) and
    zeros elsewhere: compared over the allocated ranges of both."""
    start, _size = host_vg.lv_byte_range(volume.name)
    for offset, data in expected.items():
        if host_vg.read_pv(start + offset, len(data)) != data:
            return False
    spans = sorted((o, o + len(d)) for o, d in expected.items())
    for offset, n in _regions(host_vg, volume):
        pos, end = offset, offset + n
        for lo, hi in spans:     # the parts of this range outside ``expected`` read zeros
            if hi <= pos or lo >= end:
                continue
            if lo > pos and host_vg.read_pv(start + pos, lo - pos) != bytes(lo - pos):
                return False
            pos = max(pos, hi)
        if pos < end and host_vg.read_pv(start + pos, end - pos) != bytes(end - pos):
            return False
    return True


def _same_bytes(host_vg, a, b):
    """LVs ``a`` and ``b`` are byte-for-byte equal (both read zeros outside either's
    allocated ranges)."""
    a_start, a_size = host_vg.lv_byte_range(a.name)
    b_start, b_size = host_vg.lv_byte_range(b.name)
    assert a_size == b_size
    ranges = sorted(set(_regions(host_vg, a)) | set(_regions(host_vg, b)))
    for offset, n in ranges:
        for pos in range(offset, offset + n, 16 * MiB):
            length = min(16 * MiB, offset + n - pos)
            if host_vg.read_pv(a_start + pos, length) != host_vg.read_pv(b_start + pos,
                                                                         length):
                return False
    return True


def _lv_loops(host_vg, volume):
    offset, size = host_vg.lv_byte_range(volume.name)
    return host_vg.loops_of_file(offset, size)


# -- the backup service's requests, as backup/api.py makes them --------------------------

def _backup(ctx, bmgr, volume, parent=None, snapshot=None):
    b = _start_backup(ctx, bmgr, volume, parent, snapshot)
    started = time.monotonic()
    bmgr.create_backup(ctx, b)
    b.refresh()
    b.seconds = time.monotonic() - started
    return b


def _restore(ctx, bmgr, backup, volume):
    assert volume.transition('restore_backup')
    assert backup.transition('restore')
    objects.Worker.record(ctx, 'backup', backup.id, 'restore', states.RESTORING,
                          payload={'volume_id': volume.id})
    bmgr.restore_backup(ctx, backup, volume.id)
    assert objects.Volume.get_by_id(ctx, volume.id).status == states.AVAILABLE
    backup.refresh()
    assert backup.status == states.AVAILABLE


# -- the tests ----------------------------------------------------------------------------

def test_thick_backups_read_only_allocated_ranges_and_restore_sparse(bmgr, vmgr, host_vg,
                                                                     ctx):
    rpc = bmgr.volume_rpcapi
    v = _volume(ctx, vmgr)
    _write(host_vg, v, [(o, os.urandom(n)) for o, n in WRITES])
    assert DATA <= _allocated(host_vg, v) <= DATA + MiB
    original = _content(host_vg, v)
    assert not _lv_loops(host_vg, v)

    # Full: only the allocated ranges are read, through a loop device of its own.
    full = _backup(ctx, bmgr, v)
    assert full.status == states.AVAILABLE, full.fail_reason
    assert DATA <= full.bytes_read <= DATA + 2 * MiB, full.bytes_read
    device, loops = rpc.devices[-1]
    assert device['path'] in loops
    assert device['data_regions'] == _regions(host_vg, v)
    assert device['changed_regions'] is None
    assert not _lv_loops(host_vg, v), 'the backup left its loop device attached'
    assert device['path'] not in host_vg.loops_of_file()
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE

    # 1 MiB changes: the incremental stores about that much (it re-reads what is allocated).
    _write(host_vg, v, [(CHANGE[0], os.urandom(CHANGE[1]))])
    changed = _content(host_vg, v)
    v.refresh()
    incr = _backup(ctx, bmgr, v, parent=full)
    assert incr.status == states.AVAILABLE, incr.fail_reason
    assert incr.parent_id == full.id
    assert DATA + CHANGE[1] <= incr.bytes_read <= DATA + CHANGE[1] + 2 * MiB, incr.bytes_read
    assert incr.object_count < full.object_count
    meta = bmgr.chunked.read_metadata(bmgr._container(incr), bmgr._prefix(incr))
    stored = sum(n for obj in meta['objects'] for _o, n in obj['extents'])
    assert CHANGE[1] <= stored <= CHANGE[1] + 2 * 256 * KiB, meta['objects']
    assert not _lv_loops(host_vg, v)

    # Restore each point in time onto a new LV: same bytes; the holes stay holes.
    for backup, expected in ((full, original), (incr, changed)):
        target = _volume(ctx, vmgr)
        pv_before = _pv_allocated(host_vg)
        _restore(ctx, bmgr, backup, target)
        assert _holds(host_vg, target, expected)
        # Blocks holding data are written whole (the zeros of a block too): at most a
        # backup block more per data range.
        data = sum(len(d) for d in expected.values())
        assert data <= _allocated(host_vg, target) <= data + len(expected) * 256 * KiB
        assert _pv_allocated(host_vg) - pv_before <= data + MiB
        assert not _lv_loops(host_vg, target), 'the restore left its loop device attached'
        vmgr.driver.delete_volume(target)

    # Onto an existing LV holding other data: overwritten, its data ranges discarded.
    target = _volume(ctx, vmgr)
    junk = [(0, os.urandom(MiB)), (300 * MiB, os.urandom(8 * MiB)),
            (SIZE_GB * GiB - 64 * MiB, os.urandom(4 * MiB))]
    _write(host_vg, target, junk)
    pv_before = _pv_allocated(host_vg)
    _restore(ctx, bmgr, incr, target)
    assert _same_bytes(host_vg, v, target)
    assert _holds(host_vg, target, changed)
    data = sum(len(d) for d in changed.values())
    assert data <= _allocated(host_vg, target) <= data + len(changed) * 256 * KiB
    # The junk's 13 MiB were punched out, not overwritten with zeros.
    assert _pv_allocated(host_vg) <= pv_before + data + 2 * MiB - 13 * MiB
    assert not _lv_loops(host_vg, target)
    print('2 GiB thick LVM volume, %d MiB of data: full backup %.2f s, incremental %.2f s'
          % (DATA // MiB, full.seconds, incr.seconds))


def _autoclear(dev):
    out = host.run('losetup', '--noheadings', '--list', '-O', 'AUTOCLEAR', dev).stdout
    return out.strip() == '1'


def test_backup_and_restore_of_an_exported_volume_keep_the_export(bmgr, vmgr, host_vg, tgtd,
                                                                   ctx, tmp_path):
    """The export's loop device is the source and the target as it is, and stays: the
    restored bytes are read back through the iSCSI target."""
    host.require_host('qemu-io', 'qemu-img')
    rpc = bmgr.volume_rpcapi
    initiator = test_lvm_iscsi.Initiator(tmp_path)
    v = _volume(ctx, vmgr, size=1)
    first = os.urandom(MiB)
    _write(host_vg, v, [(5 * MiB, first)])
    exported = objects.Volume.get_by_id(ctx, v.id)
    for key, value in vmgr.driver.create_export(ctx, exported, CONNECTOR).items():
        setattr(exported, key, value)
    try:
        data = vmgr.driver.initialize_connection(exported, CONNECTOR)['data']
        (export_loop,) = _lv_loops(host_vg, v)
        b = _backup(ctx, bmgr, v)
        assert b.status == states.AVAILABLE, b.fail_reason
        assert MiB <= b.bytes_read <= 2 * MiB
        assert rpc.devices[-1][0]['path'] == export_loop
        assert _lv_loops(host_vg, v) == [export_loop], 'the export lost its loop device'
        assert not _autoclear(export_loop)

        # Overwrite through iSCSI, then restore the backup onto the exported volume.
        initiator.write(data, 5 * MiB, os.urandom(MiB), initiator=CONNECTOR['initiator'])
        initiator.write(data, 64 * MiB, os.urandom(MiB), initiator=CONNECTOR['initiator'])
        v.refresh()
        _restore(ctx, bmgr, b, v)
        assert rpc.devices[-1][0]['path'] == export_loop
        assert _lv_loops(host_vg, v) == [export_loop], 'the restore detached the export'
        assert not _autoclear(export_loop), 'the restore detached the export (autoclear)'
        assert 'iqn.2010-10.org.openstack:%s' % v.name in tgtd.target_iqns()
        read = initiator.read(data, 5 * MiB, MiB, initiator=CONNECTOR['initiator'])
        assert read == first
        read = initiator.read(data, 64 * MiB, MiB, initiator=CONNECTOR['initiator'])
        assert read == bytes(MiB)
    finally:
        vmgr.driver.remove_export(ctx, exported)
    assert not _lv_loops(host_vg, v)


def test_backups_needing_a_snapshot_are_refused_without_device_mapper(bmgr, vmgr, host_vg,
                                                                      ctx):
    v = _volume(ctx, vmgr, size=1)
    _write(host_vg, v, [(0, os.urandom(MiB))])

    # An attached volume (force): read through a temporary snapshot, which needs DM.
    assert v.transition('reset', target=states.IN_USE)
    b = _backup(ctx, bmgr, v)
    assert b.status == states.ERROR
    assert 'device-mapper' in b.fail_reason, b.fail_reason
    assert objects.Volume.get_by_id(ctx, v.id).status == states.IN_USE
    assert b.temp_snapshot_id is None
    # The failed temporary snapshot was deleted, outside the user's quota all along.
    (failed,) = [m for m in db.message_get_all(ctx) if m.resource_type == 'SNAPSHOT']
    assert 'device-mapper' in failed.detail
    temp = objects.Snapshot.get_by_id(ctx, failed.resource_uuid, read_deleted=True)
    assert temp.deleted and temp.display_name == 'backup-%s' % b.id and not temp.use_quota
    assert not _lv_loops(host_vg, v)
    assert host_vg.lv_names() == [v.name]

    # A backup of a snapshot (one this backend could not have made) is refused too.
    assert v.transition('reset', target=states.AVAILABLE)
    s = objects.Snapshot(ctx, volume_id=v.id, project_id='p', user_id='u', volume_size=1,
                         display_name='s', volume_type_id=v.volume_type_id, metadata={},
                         progress='0%', use_quota=True, deleted=False,
                         status=states.SNAPSHOT.initial)
    s.create(work={'operation': 'create'})
    vmgr.create_snapshot(ctx, s)     # refused: no device-mapper
    s.refresh()
    assert s.status == states.ERROR
    assert s.transition('reset', target=states.AVAILABLE)   # as if made elsewhere
    b = _backup(ctx, bmgr, v, snapshot=s)
    assert b.status == states.ERROR
    assert 'device-mapper' in b.fail_reason, b.fail_reason
    assert objects.Snapshot.get_by_id(ctx, s.id).status == states.AVAILABLE
    assert not _lv_loops(host_vg, v)


def test_a_volume_service_restarted_mid_backup_still_detaches_its_loop(bmgr, vmgr, host_vg,
                                                                        tgtd, ctx):
    """The backup's loop device is found from the LV's extents at release, not from the
    memory of the volume service that attached it."""
    v = _volume(ctx, vmgr, size=1)
    _write(host_vg, v, [(0, os.urandom(MiB))])
    b = _start_backup(ctx, bmgr, v)
    device = vmgr.backup_device(ctx, v, b.id)
    assert _lv_loops(host_vg, v) == [device['path']]

    restarted = vol_manager.VolumeManager(vmgr.host, host.backend_conf(host_vg, tgtd))
    restarted.service = vmgr.service
    restarted.init_host(ctx)
    restarted.backup_device_release(ctx, v, None, backup_id=b.id, succeeded=False)
    assert not _lv_loops(host_vg, v), 'the backup loop device outlived the restart'


def test_backup_sees_writes_still_cached_in_the_exports_loop_device(bmgr, vmgr, host_vg,
                                                                     ctx):
    """Writes through an export that the loop device has not yet passed to the PV file
    (tgtd writes through the page cache) are backed up: the source is flushed before
    the PV file's holes are read."""
    v = _volume(ctx, vmgr, size=1)
    exported = objects.Volume.get_by_id(ctx, v.id)
    for key, value in vmgr.driver.create_export(ctx, exported, CONNECTOR).items():
        setattr(exported, key, value)
    try:
        (export_loop,) = _lv_loops(host_vg, v)
        payload = os.urandom(MiB)
        fd = os.open(export_loop, os.O_RDWR)    # a writer as tgtd is: no fsync yet
        try:
            os.pwrite(fd, payload, 40 * MiB)
            b = _backup(ctx, bmgr, v)
        finally:
            os.close(fd)
        assert b.status == states.AVAILABLE, b.fail_reason
        assert b.bytes_read >= MiB, 'the cached write was skipped as a hole'
        target = _volume(ctx, vmgr, size=1)
        _restore(ctx, bmgr, b, target)
        start, _size = host_vg.lv_byte_range(target.name)
        assert host_vg.read_pv(start + 40 * MiB, MiB) == payload
    finally:
        vmgr.driver.remove_export(ctx, exported)


def test_a_clone_of_an_exported_volume_sees_writes_still_cached_in_its_loop(vmgr, host_vg,
                                                                            ctx):
    """The same flush for the driver's own copies (clone, image upload, move): they read
    through a loop device of their own, beside the export's."""
    v = _volume(ctx, vmgr, size=1)
    exported = objects.Volume.get_by_id(ctx, v.id)
    vmgr.driver.create_export(ctx, exported, CONNECTOR)
    try:
        (export_loop,) = _lv_loops(host_vg, v)
        payload = os.urandom(MiB)
        fd = os.open(export_loop, os.O_RDWR)    # a writer as tgtd is: no fsync yet
        try:
            os.pwrite(fd, payload, 40 * MiB)
            clone = objects.Volume.get_by_id(ctx, _volume(ctx, vmgr, size=1).id)
            vmgr.driver.delete_volume(clone)
            vmgr.driver.create_cloned_volume(clone, exported)
        finally:
            os.close(fd)
        start, _size = host_vg.lv_byte_range(clone.name)
        assert host_vg.read_pv(start + 40 * MiB, MiB) == payload
    finally:
        vmgr.driver.remove_export(ctx, exported)
