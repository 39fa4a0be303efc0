"""Backups of thin LVM volumes read only what the pool maps, incrementals only what
thin_delta says changed; restores keep holes as holes. Byte-checked, on a real pool.

The LVM driver's backup sources (``lvm_backup.LVMBackups``) feed the chunked
pipeline (``blockstore.backup.chunked``) writing to a POSIX store in a temp
directory, exactly as the backup service does, minus RPC.
"""

import os
import shutil
import tempfile
import types

import pytest

from blockstore.backup import chunked
from blockstore.backup.drivers import posix
from blockstore.volume.drivers import lvm
from blockstore.volume.drivers import lvm_backup
from tests.e2e.kernel.inside import guest
from tests.e2e.kernel.inside.guest import GiB, MiB
from tests.e2e.kernel.inside.test_lio_lvm import DISK, backend_conf
from tests.e2e.kernel.inside.test_lvm_data import Lvm, new_volume, pread_direct, pwrite_direct

VG = 'bs-kb-thin'
# Data at the start, after a long hole, and at the end of a 1 GiB volume.
WRITES = [(0, 8 * MiB), (512 * MiB, 4 * MiB), (GiB - 4 * MiB, 4 * MiB)]
DATA = sum(n for _o, n in WRITES)
# About 1 % of the volume changes between the two backups: ten 1 MiB writes.
CHANGES = [(o, MiB) for o in range(16 * MiB, GiB, 100 * MiB)]


@pytest.fixture
def thin_backend(lio_modules):
    tmp = tempfile.mkdtemp(prefix='bs-kernel-backup-')
    conf = backend_conf('thin', VG, tmp)
    run = Lvm(conf.lvm_conf_dir)
    run('pvcreate', '-ff', '-y', DISK)
    run('vgcreate', '-y', VG, DISK)
    driver = lvm.LVMDriver(conf, 'bs-guest@backup')
    driver.do_setup(None)
    driver.check_for_setup_error()
    store_conf = types.SimpleNamespace(backup=types.SimpleNamespace(
        backup_posix_path=os.path.join(tmp, 'store'), backup_container='backups'),
        state_path=tmp)
    store = posix.PosixStore(store_conf)
    pipeline = chunked.ChunkedBackup(store, chunk_size=4 * MiB, block_size=MiB,
                                     compression='zstd', workers=2, max_inflight=4)
    yield types.SimpleNamespace(driver=driver, lvm=run, pipeline=pipeline, tmp=tmp)
    run('vgremove', '-f', VG, check=False)
    run('pvremove', '-ff', '-y', DISK, check=False)
    shutil.rmtree(tmp, ignore_errors=True)


def _backup(env, volume, backup_id, parent=None, parent_id=None):
    source = env.driver.backups.open_source(volume.name, backup_id, parent_id)
    ok = False
    try:
        meta = env.pipeline.backup(source['path'], volume.size * GiB, 'backups',
                                   'backup-%s' % backup_id, parent=parent,
                                   data_regions=source['data_regions'],
                                   changed_regions=source['changed_regions'])
        ok = True
    finally:
        env.driver.backups.close_source(volume.name, backup_id, ok)
    return source, meta


def _mapped_bytes(env, volume):
    return sum(n for _o, n in env.driver.backups.thin_metadata.mapped_regions(volume.name))


def test_thin_full_and_incremental_backups_read_what_the_pool_says(thin_backend):
    env, run = thin_backend, thin_backend.lvm
    vol = new_volume(env.driver)
    env.driver.create_volume(vol)
    dev = run.device('%s/%s' % (VG, vol.name))
    for offset, length in WRITES:
        pwrite_direct(dev, offset, guest.pattern('w%d' % offset, length))
    original = {o: pread_direct(dev, o, n) for o, n in WRITES + CHANGES}

    # Full: only the mapped blocks are read; the base snapshot stays.
    source, full = _backup(env, vol, 'full-1')
    assert source['changed_regions'] is None
    mapped = sum(n for _o, n in source['data_regions'])
    assert DATA <= mapped <= DATA + 3 * MiB, source['data_regions']
    assert full['bytes_read'] <= mapped
    assert env.driver.backups.bases_of(vol.name) == [lvm_backup.base_lv_name('full-1')]

    # ~1 % changes while the base holds the first backup's point in time.
    for offset, length in CHANGES:
        pwrite_direct(dev, offset, guest.pattern('c%d' % offset, length))
    changed = {o: pread_direct(dev, o, n) for o, n in WRITES + CHANGES}

    source, incr = _backup(env, vol, 'incr-1', parent=full, parent_id='full-1')
    assert source['data_regions'] is None
    delta = sum(n for _o, n in source['changed_regions'])
    changed_bytes = sum(n for _o, n in CHANGES)
    assert changed_bytes <= delta <= 2 * changed_bytes, source['changed_regions']
    assert incr['bytes_read'] <= 0.05 * vol.size * GiB, incr['bytes_read']
    print('thin backups of a %d GiB volume: full read %d bytes, incremental after %d bytes '
          'changed read %d bytes (%.2f %% of the volume; thin_delta said %d)'
          % (vol.size, full['bytes_read'], changed_bytes, incr['bytes_read'],
             100.0 * incr['bytes_read'] / (vol.size * GiB), delta))
    # The incremental's base replaced the full's: one base per volume.
    assert env.driver.backups.bases_of(vol.name) == [lvm_backup.base_lv_name('incr-1')]

    # Restore each point in time onto a new thin volume: same bytes, holes stay holes.
    for chain, expected in (([full], original), ([full, incr], changed)):
        target = new_volume(env.driver)
        env.driver.create_volume(target)
        tdev = run.device('%s/%s' % (VG, target.name))
        env.pipeline.restore(chain, tdev, vol.size * GiB, dest_reads_zeros=True)
        for offset, data in expected.items():
            assert pread_direct(tdev, offset, len(data)) == data, offset
        assert pread_direct(tdev, 256 * MiB, MiB) == bytes(MiB)
        assert _mapped_bytes(env, target) <= DATA + changed_bytes + 4 * MiB
        env.driver.delete_volume(target)

    # A failed backup drops its own snapshot and keeps the base it started from.
    with pytest.raises(Exception):
        source = env.driver.backups.open_source(vol.name, 'broken-1', 'incr-1')
        try:
            raise RuntimeError('store failed')
        finally:
            env.driver.backups.close_source(vol.name, 'broken-1', False)
    assert env.driver.backups.bases_of(vol.name) == [lvm_backup.base_lv_name('incr-1')]

    # The base goes with the volume.
    env.driver.delete_volume(vol)
    assert not run.exists('%s/%s' % (VG, lvm_backup.base_lv_name('incr-1')))
