"""The volume side of backups (``VolumeManager.backups``; RPC 1.8).

The volume service owns the driver, so the backup service asks it for the
bytes it reads and writes:

* ``backup_device`` (call): the local path of what a backup reads -- the
  volume itself when it is detached (``backing-up``), a temporary snapshot
  of it when it is attached (a backup with force: the volume stays
  ``in-use``), or the snapshot a backup of a snapshot names -- and of what a
  restore writes (a detached volume in ``restoring-backup``). Volumes are
  reached through ``LocalPathOps``, snapshots through ``BackupDeviceOps``.
* ``backup_device_release`` (call): deletes the temporary snapshot.

A temporary snapshot is a snapshot row of the volume outside quotas
(``use_quota`` False) named ``backup-<backup id>``, made and removed by
the manager's own snapshot operations (so on the skeleton). Its id is
written into the backup's ``temp_snapshot_id`` before the backend snapshot
is taken, so a backup service that dies meanwhile still finds it to release.

Volume create with ``request_spec['backup_id']`` (3.47, restore to a new
volume): the empty volume is made as usual and, instead of ``create_done``,
``create_restore`` hands it over (``restoring-backup``), with the backup's
``restore`` work record in the same transaction; then the backup service is
told to restore (cast). A failed create gives the claimed backup back
(``restore_done``).
"""

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import operation
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore.db import work_rows
from blockstore import objects
from blockstore.objects import states
from blockstore.volume.drivers import base as driver_base

LOG = logging.getLogger(__name__)


def temp_snapshot_name(backup_id):
    return 'backup-%s' % backup_id


class BackupDeviceRefused(exception.VolumeBackendAPIException):
    msg_fmt = 'Backup device refused: %(data)s'


class BackupWorker(operation.Worker):
    """The backup service's access to one backend's volumes.

    ``backend``: its driver and host; ``operations``: the manager's operation
    runner; ``create_snapshot(context, snapshot)`` / ``delete_snapshot(...)``:
    the manager's snapshot operations (run here synchronously);
    ``backup_rpcapi()``: the backup RPC client.
    """

    def __init__(self, backend, operations, create_snapshot, delete_snapshot, backup_rpcapi):
        super().__init__(backend, operations)
        self._create_snapshot = create_snapshot
        self._delete_snapshot = delete_snapshot
        self._backup_rpcapi = backup_rpcapi

    @property
    def driver(self):
        return self.backend.driver

    # -- RPC 1.8 ------------------------------------------------------------------

    def backup_device(self, context, volume, backup_id, snapshot_id=None, temp_snapshot=False):
        """{'path', 'temp_snapshot_id'}: where the backup (or restore) ``backup_id`` works."""
        self.operations.ensure_ready(context)
        if snapshot_id:
            snapshot = objects.Snapshot.get_by_id(context, snapshot_id)
            return {'path': self._snapshot_path(snapshot), 'temp_snapshot_id': None}
        if temp_snapshot:
            snapshot = self._temp_snapshot(context, volume, backup_id)
            return {'path': self._snapshot_path(snapshot), 'temp_snapshot_id': snapshot.id}
        if not driver_base.supports(self.driver, driver_base.LocalPathOps):
            raise BackupDeviceRefused(data='backend %s reaches its volumes through no local '
                                           'path' % self.backend.host)
        return {'path': self.driver.local_path(volume), 'temp_snapshot_id': None}

    def backup_device_release(self, context, volume, temp_snapshot_id):
        """Delete the temporary snapshot of a backup (absent or deleted: nothing to do)."""
        if not temp_snapshot_id:
            return
        try:
            snapshot = objects.Snapshot.get_by_id(context, temp_snapshot_id)
        except exception.NotFound:
            return
        if snapshot.deleted:
            return
        if not snapshot.transition('force_delete'):
            snapshot.refresh()
            if not snapshot.deleted:
                LOG.warning('Temporary snapshot %s is %s; not deleted', snapshot.id,
                            snapshot.status)
            return
        db.worker_create(context, 'snapshot', snapshot.id, 'delete', states.DELETING)
        self._delete_snapshot(context, snapshot)
        snapshot.refresh()
        if not snapshot.deleted:
            raise exception.VolumeBackendAPIException(
                data='temporary snapshot %s could not be deleted (%s)' % (snapshot.id,
                                                                          snapshot.status))

    def _snapshot_path(self, snapshot):
        if not driver_base.supports(self.driver, driver_base.BackupDeviceOps):
            raise BackupDeviceRefused(data='backend %s cannot read snapshots for backups'
                                           % self.backend.host)
        return self.driver.snapshot_local_path(snapshot)

    def _temp_snapshot(self, context, volume, backup_id):
        """The temporary snapshot of an attached volume's backup (made once)."""
        if not (driver_base.supports(self.driver, driver_base.SnapshotOps)
                and driver_base.supports(self.driver, driver_base.BackupDeviceOps)):
            raise BackupDeviceRefused(data='backend %s cannot back up attached volumes (no '
                                           'snapshots readable by backups)' % self.backend.host)
        backup = db_backups.backup_get(context, backup_id)
        snapshot = None
        if backup.temp_snapshot_id:
            try:
                snapshot = objects.Snapshot.get_by_id(context, backup.temp_snapshot_id)
            except exception.NotFound:
                snapshot = None
        if snapshot is None:
            snapshot = objects.Snapshot(
                context, volume_id=volume.id, project_id=volume.project_id,
                user_id=volume.user_id, volume_size=volume.size,
                display_name=temp_snapshot_name(backup_id),
                display_description='temporary snapshot of backup %s' % backup_id,
                volume_type_id=volume.volume_type_id, metadata={}, progress='0%',
                use_quota=False, deleted=False, status=states.SNAPSHOT.initial)
            snapshot.create(work={'operation': 'create'})
            db_backups.backup_update(context, backup_id, {'temp_snapshot_id': snapshot.id})
        if snapshot.status == states.SNAPSHOT.initial:
            self._create_snapshot(context, snapshot)
            snapshot.refresh()
        if snapshot.status != states.AVAILABLE:
            raise exception.VolumeBackendAPIException(
                data='temporary snapshot %s of volume %s is %s' % (snapshot.id, volume.id,
                                                                   snapshot.status))
        return snapshot

    # -- volume create from a backup (3.47) ----------------------------------------

    def restore_create_operation(self, context, volume, backup_id):
        """The Operation of a create that hands the new volume to the backup service."""
        def end(ctx, volume_id, event, values):
            if event != 'create_restore':
                return states.transition(ctx, 'volume', volume_id, event, values)

            def record(session):
                work_rows._put_worker(session, 'backup', backup_id, {
                    'operation': 'restore', 'status': states.RESTORING,
                    'payload': {'volume_id': volume_id}})
                return True
            return states.transition(ctx, 'volume', volume_id, event, values, then=record)

        def after(ctx, obj, error):
            self._restore_handed_over(ctx, volume, backup_id, error)

        return operation.Operation('create', 'create_restore', 'create_failed',
                                   'CREATE_VOLUME_FROM_BACKUP', end=end, after=after)

    def _restore_handed_over(self, context, volume, backup_id, error):
        backup = objects.Backup.get_by_id(context, backup_id)
        volume.refresh()
        if error is None and volume.status == states.RESTORING_BACKUP:
            self._backup_rpcapi().restore_backup(context, backup, volume.id)
            return
        # The volume could not be made: the backup is free again.
        LOG.info('Volume %s for a restore of backup %s was not created (%s)', volume.id,
                 backup_id, volume.status)
        if backup.transition('restore_done'):
            db.worker_destroy(context, 'backup', backup_id, 'restore')
