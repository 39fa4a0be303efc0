"""The LVM driver's data operations that need device-mapper, byte-checked.

* Thin delete with ``volume_clear = zero``: a deleted thin volume's blocks
  never show through in the next thin volume, even in a pool created
  without zeroing (the driver turns zeroing on). A 16 MiB pool makes block
  reuse certain: the second volume provisions 192 of its 256 blocks right
  after the first volume freed 192, so at least 128 are reused, and a 4 KiB
  write into each leaves the other 60 KiB of the 64 KiB block to check. A
  control run without the driver shows the check catches the leak.
* Migration between two VGs of one node, thick to thin and back: every byte
  survives, the source LV is gone, the thin copy provisions only the data.

The two VGs sit on two device-mapper linear halves of the scratch disk.
"""

import mmap
import os
import shutil
import tempfile
import types
import uuid

import pytest

from blockstore.volume.drivers import lvm
from tests.e2e.kernel.inside import guest
from tests.e2e.kernel.inside.guest import GiB, MiB
from tests.e2e.kernel.inside.test_lio_lvm import DISK, backend_conf

CHUNK = 64 * 1024
KiB = 1024


def new_volume(driver, size=1):
    vid = str(uuid.uuid4())
    return types.SimpleNamespace(id=vid, name='volume-%s' % vid, size=size,
                                 provider_location=None, provider_auth=None,
                                 host=driver.host, volume_type=None, encryption_key_id=None)


def pwrite_direct(dev, offset, data):
    buf = mmap.mmap(-1, len(data))
    buf.write(data)
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    try:
        assert os.pwritev(fd, [buf], offset) == len(data)
        os.fsync(fd)
    finally:
        os.close(fd)
        buf.close()


def pread_direct(dev, offset, length):
    buf = mmap.mmap(-1, length)
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        assert os.preadv(fd, [buf], offset) == length
        return bytes(buf)
    finally:
        os.close(fd)
        buf.close()


class Lvm:
    def __init__(self, conf_dir):
        self.env = {'LVM_SYSTEM_DIR': conf_dir}

    def __call__(self, *argv, check=True):
        return guest.run(*argv, env=self.env, check=check)

    def attr(self, ref):
        return self('lvs', '--noheadings', '-o', 'lv_attr', ref).stdout.strip()

    def exists(self, ref):
        return self('lvs', ref, check=False).returncode == 0

    def device(self, ref):
        if not os.path.exists('/dev/' + ref):
            self('lvchange', '-ay', '-K', '-y', ref)
        return '/dev/' + ref

    def data_percent(self, ref):
        return float(self('lvs', '--noheadings', '-o', 'data_percent', ref).stdout.strip())


# -- thin delete: no leak into the next volume -------------------------------------

USED = 12 * MiB  # of the 16 MiB pool: 192 of 256 blocks


def leaked_blocks(dev):
    """Write 4 KiB at the start of each block of the first USED bytes of a fresh
    thin LV; return how many blocks then show non-zero bytes in the rest."""
    for offset in range(0, USED, CHUNK):
        pwrite_direct(dev, offset, b'\xab' * (4 * KiB))
    data = pread_direct(dev, 0, USED)
    rest = bytes(CHUNK - 4 * KiB)
    return sum(data[o + 4 * KiB:o + CHUNK] != rest for o in range(0, USED, CHUNK))


@pytest.fixture
def small_thin_vg(lio_modules):
    tmp = tempfile.mkdtemp(prefix='bs-kernel-wipe-')
    vg = 'bs-kd-thin'
    conf = backend_conf('thin', vg, tmp)
    run = Lvm(conf.lvm_conf_dir)
    run('pvcreate', '-ff', '-y', DISK)
    run('vgcreate', '-y', vg, DISK)
    # A pool that does not zero the blocks it provisions (-Zn), 64 KiB blocks.
    run('lvcreate', '-y', '--type', 'thin-pool', '-L', '16m', '--chunksize', '64k', '-Zn',
        '-n', '%s-pool' % vg, vg)
    yield types.SimpleNamespace(name=vg, conf=conf, lvm=run, pool='%s/%s-pool' % (vg, vg))
    run('vgremove', '-f', vg, check=False)
    run('pvremove', '-ff', '-y', DISK, check=False)
    shutil.rmtree(tmp, ignore_errors=True)


def test_thin_delete_leaks_nothing_into_the_next_volume(small_thin_vg):
    vg, run = small_thin_vg, small_thin_vg.lvm
    secret = guest.pattern('thin-secret', USED)
    assert run.attr(vg.pool)[7] == '-', 'the pool should start without zeroing'

    # Control, without the driver: the check sees the first volume's bytes.
    run('lvcreate', '-y', '--type', 'thin', '-V', '1g', '--thinpool', vg.pool, '-n', 'ctl-1')
    pwrite_direct(run.device(vg.name + '/ctl-1'), 0, secret)
    run('lvremove', '-f', vg.name + '/ctl-1')
    run('lvcreate', '-y', '--type', 'thin', '-V', '1g', '--thinpool', vg.pool, '-n', 'ctl-2')
    leaked = leaked_blocks(run.device(vg.name + '/ctl-2'))
    assert leaked >= 128, 'control: only %d blocks reused unzeroed; the check is blind' % leaked
    run('lvremove', '-f', vg.name + '/ctl-2')

    driver = lvm.LVMDriver(vg.conf, 'bs-guest@wipe')
    driver.do_setup(None)
    driver.check_for_setup_error()
    assert run.attr(vg.pool)[7] == 'z', 'do_setup left the pool without zeroing'
    first = new_volume(driver)
    driver.create_volume(first)
    pwrite_direct(run.device('%s/%s' % (vg.name, first.name)), 0, secret)
    assert run.data_percent(vg.pool) >= 70
    driver.delete_volume(first)
    assert not run.exists('%s/%s' % (vg.name, first.name))

    second = new_volume(driver)
    driver.create_volume(second)
    dev = run.device('%s/%s' % (vg.name, second.name))
    assert leaked_blocks(dev) == 0
    assert run.data_percent(vg.pool) >= 70  # the blocks were provisioned (and reused)
    driver.delete_volume(second)


# -- migration between two VGs of one node -------------------------------------------

class Halves:
    """Two device-mapper linear devices, each half of the scratch disk."""

    def __init__(self):
        sectors = int(guest.run('blockdev', '--getsz', DISK).stdout.strip())
        half = sectors // 2
        self.names = ['bs-kt-half-a', 'bs-kt-half-b']
        for i, name in enumerate(self.names):
            guest.run('dmsetup', 'create', name, '--table',
                      '0 %d linear %s %d' % (half, DISK, i * half))
        self.devices = ['/dev/mapper/' + name for name in self.names]

    def remove(self):
        for name in self.names:
            guest.run('dmsetup', 'remove', name, check=False)


@pytest.fixture
def two_vgs(lio_modules):
    tmp = tempfile.mkdtemp(prefix='bs-kernel-migrate-')
    halves = Halves()
    confs = {'a': backend_conf('default', 'bs-km-a', tmp, disks=halves.devices,
                               volumes_dir=os.path.join(tmp, 'targets-a')),
             'b': backend_conf('thin', 'bs-km-b', tmp, disks=halves.devices,
                               volumes_dir=os.path.join(tmp, 'targets-b'))}
    run = Lvm(confs['a'].lvm_conf_dir)
    for dev, vg in zip(halves.devices, ('bs-km-a', 'bs-km-b')):
        run('pvcreate', '-ff', '-y', dev)
        run('vgcreate', '-y', vg, dev)
    drivers = {}
    for key in ('a', 'b'):
        drivers[key] = lvm.LVMDriver(confs[key], 'bs-guest@lvm-%s' % key)
        drivers[key].do_setup(None)
        drivers[key].check_for_setup_error()
    yield types.SimpleNamespace(lvm=run, drivers=drivers)
    for vg in ('bs-km-a', 'bs-km-b'):
        run('vgremove', '-f', vg, check=False)
    for dev in halves.devices:
        run('pvremove', '-ff', '-y', dev, check=False)
    halves.remove()
    shutil.rmtree(tmp, ignore_errors=True)


def destination(driver):
    pool = driver.get_volume_stats(refresh=True)['pools'][0]
    return {'host': '%s#%s' % (driver.host, pool['pool_name']), 'capabilities': pool}


def test_migrate_between_vgs_thick_to_thin_and_back(two_vgs):
    run, a, b = two_vgs.lvm, two_vgs.drivers['a'], two_vgs.drivers['b']
    assert destination(b)['capabilities']['location_info'] == \
        'LVMDriver:bs-guest@lvm-b:bs-km-b:thin:0'
    vol = new_volume(a)
    a.create_volume(vol)
    head, tail = guest.pattern('mig-head'), guest.pattern('mig-tail')
    src = run.device('bs-km-a/' + vol.name)
    pwrite_direct(src, 0, head)
    pwrite_direct(src, GiB - MiB, tail)

    assert a.migrate_volume(None, vol, destination(b)) == (True, None)
    assert not run.exists('bs-km-a/' + vol.name)
    assert run.attr('bs-km-b/' + vol.name)[0] == 'V'  # a thin LV now
    dst = run.device('bs-km-b/' + vol.name)
    assert pread_direct(dst, 0, MiB) == head
    assert pread_direct(dst, GiB - MiB, MiB) == tail
    assert pread_direct(dst, 512 * MiB, MiB) == bytes(MiB)
    # Zeros were discarded, not written: the pool holds little more than the data.
    pool_bytes = float(run('lvs', '--noheadings', '--units', 'b', '--nosuffix', '-o',
                           'lv_size', 'bs-km-b/bs-km-b-pool').stdout.strip())
    assert run.data_percent('bs-km-b/bs-km-b-pool') / 100 * pool_bytes < 64 * MiB
    # Re-run after success: nothing left to do, still True.
    assert a.migrate_volume(None, vol, destination(b)) == (True, None)

    assert b.migrate_volume(None, vol, destination(a)) == (True, None)
    assert not run.exists('bs-km-b/' + vol.name)
    assert run.attr('bs-km-a/' + vol.name)[0] == '-'  # thick again
    back = run.device('bs-km-a/' + vol.name)
    assert pread_direct(back, 0, MiB) == head
    assert pread_direct(back, GiB - MiB, MiB) == tail
    a.delete_volume(vol)


def test_the_volume_manager_migrates_by_the_lvm_driver(two_vgs, tmp_path):
    """os-migrate_volume's manager side, driver-assisted: the LV moves to the other VG
    (the destination's location_info from its stats), the volume's host follows, and
    its name is unchanged (no _name_id)."""
    from blockstore.common import context
    from blockstore.db import api as db
    from blockstore import objects
    from blockstore.objects import states
    from blockstore.volume import manager as vol_manager
    from blockstore.volume import volume_types
    from tests.fixtures.database import Database

    run, a, b = two_vgs.lvm, two_vgs.drivers['a'], two_vgs.drivers['b']
    objects.register_all()
    with Database('sqlite', sqlite_dir=str(tmp_path)):
        ctx = context.get_admin_context()
        filler = types.SimpleNamespace(volume_driver='file', volume_backend_name='unused',
                                       file_volumes_dir=str(tmp_path / 'unused'))
        mgr = vol_manager.VolumeManager(a.host, filler)
        mgr.driver, mgr._ready = a, True
        mgr.service = objects.Service(ctx, host=a.host, binary='blockstore-volume',
                                      topic='t', report_count=0, disabled=False, frozen=False,
                                      availability_zone='nova',
                                      replication_status='not-capable')
        mgr.service.create()
        vt = volume_types.ensure_default_type(ctx)
        src_pool = a.get_volume_stats(refresh=True)['pools'][0]['pool_name']
        vol = objects.Volume(ctx, project_id='p', user_id='u', size=1, display_name='m',
                             volume_type_id=vt.id, host='%s#%s' % (a.host, src_pool),
                             attach_status='detached', bootable=False, multiattach=False,
                             use_quota=True, deleted=False, metadata={}, admin_metadata={})
        vol.create()
        mgr.create_volume(ctx, vol)
        vol.refresh()
        assert vol.status == 'available'
        head = guest.pattern('mgr-mig-head')
        pwrite_direct(run.device('bs-km-a/' + vol.name), 0, head)

        dest = destination(b)
        assert states.migration_transition(ctx, vol.id, 'migrate', work={
            'operation': 'migrate', 'status': 'available', 'payload': {'dest': dest}})
        mgr.migrate_volume(ctx, vol, dest)

        row = db.volume_get(ctx, vol.id)
        assert (row.status, row.migration_status, row.host, row._name_id) == (
            'available', 'success', dest['host'], None)
        assert not run.exists('bs-km-a/' + vol.name)
        assert pread_direct(run.device('bs-km-b/' + vol.name), 0, MiB) == head
        assert db.worker_get_all(ctx, resource_id=vol.id) == []
        b.delete_volume(vol)
