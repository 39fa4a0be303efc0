"""Backups of attached volumes on a driver that reads snapshots through BackupSourceOps.

A driver with ``BackupSourceOps`` but no ``BackupDeviceOps`` (the LVM driver)
reads a temporary snapshot through ``open_backup_source(snapshot=...)``; the
volume side must not refuse it for want of ``snapshot_local_path``. When the
temporary snapshot cannot be made, the backup fails with the driver's reason.
The driver here delegates to the real file driver; the rest is as in
test_manager.py (real managers, posix store, SQLite).
"""

from blockstore.common import exception
from blockstore import objects
from blockstore.objects import states
from blockstore.volume.drivers import base
from tests.unit.backup import test_manager as tm
from tests.unit.backup.test_manager import _backup, _fill, _same_content, _start_restore, _volume

# The fixtures of test_manager.py: the real managers, the posix store, SQLite.
backup_conf, bmgr, vmgr = tm.backup_conf, tm.bmgr, tm.vmgr


class SourceDriver(base.VolumeDriver, base.SnapshotOps, base.BackupSourceOps):
    """The file driver's volumes and snapshots, read for backups only as sources."""

    def __init__(self, inner, snapshot_error=None):
        self.inner = inner
        self.snapshot_error = snapshot_error
        self.opened = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def do_setup(self, context):
        return self.inner.do_setup(context)

    def check_for_setup_error(self):
        return self.inner.check_for_setup_error()

    def create_volume(self, volume):
        return self.inner.create_volume(volume)

    def delete_volume(self, volume):
        return self.inner.delete_volume(volume)

    def extend_volume(self, volume, new_size):
        return self.inner.extend_volume(volume, new_size)

    def get_volume_stats(self, refresh=False):
        return self.inner.get_volume_stats(refresh)

    def create_snapshot(self, snapshot):
        if self.snapshot_error:
            raise exception.VolumeBackendAPIException(data=self.snapshot_error)
        return self.inner.create_snapshot(snapshot)

    def delete_snapshot(self, snapshot):
        return self.inner.delete_snapshot(snapshot)

    def create_volume_from_snapshot(self, volume, snapshot):
        return self.inner.create_volume_from_snapshot(volume, snapshot)

    def open_backup_source(self, volume, backup_id, parent_backup_id=None, snapshot=None):
        self.opened.append(snapshot.id if snapshot else None)
        path = (self.inner.snapshot_local_path(snapshot) if snapshot
                else self.inner.local_path(volume))
        return {'path': path, 'data_regions': None, 'changed_regions': None}

    def close_backup_source(self, volume, backup_id, succeeded, snapshot=None):
        pass

    def open_restore_target(self, volume):
        return {'path': self.inner.local_path(volume), 'discard_zeroes': False}

    def close_restore_target(self, volume):
        pass


def test_attached_volume_is_read_through_the_sources_temporary_snapshot(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    _fill(v)
    vmgr.driver = SourceDriver(vmgr.driver)
    assert not base.supports(vmgr.driver, base.BackupDeviceOps)
    assert v.transition('reset', target=states.IN_USE)
    b = _backup(ctx, bmgr, v)
    assert b.status == states.AVAILABLE, b.fail_reason
    (temp_id,) = vmgr.driver.opened
    assert temp_id is not None
    assert objects.Snapshot.get_by_id(ctx, temp_id, read_deleted=True).deleted
    assert objects.Volume.get_by_id(ctx, v.id).status == states.IN_USE

    target = _volume(ctx, vmgr)
    _start_restore(ctx, b, target)
    bmgr.restore_backup(ctx, b, target.id)
    assert _same_content(v.provider_location, target.provider_location, 1024 ** 3)


def test_a_temporary_snapshot_that_fails_fails_the_backup_with_its_reason(bmgr, vmgr, ctx):
    v = _volume(ctx, vmgr)
    vmgr.driver = SourceDriver(vmgr.driver, snapshot_error='snapshots need dm-snapshot here')
    assert v.transition('reset', target=states.IN_USE)
    b = _backup(ctx, bmgr, v)
    assert b.status == states.ERROR
    assert 'snapshots need dm-snapshot here' in b.fail_reason, b.fail_reason
    assert not b.fail_reason.count('Bad or unexpected response') > 1, b.fail_reason
    assert vmgr.driver.opened == []
    assert b.temp_snapshot_id is None
    assert objects.Volume.get_by_id(ctx, v.id).status == states.IN_USE
