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
* A backup service on another node sends its os-brick ``connector``: the
  same device is then exported to it under an export of the backup's own
  (``export_name``; ``BackupExportOps``) and the answer carries its
  ``connection_info`` instead of the path; ``backup_device_release`` with
  ``exported`` removes the export before the device is closed.

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

import contextlib

from oslo_log import log as logging
from oslo_utils import excutils

from blockstore.common import exception
from blockstore.common import operation
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore.db import work_rows
from blockstore import objects
from blockstore.objects import states
from blockstore.volume.drivers import base as driver_base
from blockstore.volume.drivers import lvm_datapath

LOG = logging.getLogger(__name__)
GiB = 1024 ** 3


def temp_snapshot_name(backup_id):
    return 'backup-%s' % backup_id


def export_name(backup_id, restore=False):
    """The export of what backup ``backup_id`` reads (or its restore writes) for a backup
    service on another node (``BackupExportOps``)."""
    return '%s-%s' % ('restore' if restore else 'backup', backup_id)


def _failure_of(context, resource_id):
    """The reason of the resource's latest failed operation (its user message), or None."""
    try:
        rows = db.message_get_all(context, resource_uuid=resource_id)
    except Exception:
        LOG.exception('Could not read the messages of %s', resource_id)
        return None
    if not rows or not rows[0].detail:
        return None
    generic = exception.VolumeBackendAPIException.msg_fmt.partition('%(')[0]
    detail = rows[0].detail
    return detail[len(generic):] if generic and detail.startswith(generic) else detail


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

    def backup_device(self, context, volume, backup_id, snapshot_id=None, temp_snapshot=False,
                      restore=False, connector=None):
        """Where the backup (or, with ``restore``, the restore) ``backup_id`` works:
        ``{'path', 'temp_snapshot_id', 'data_regions', 'changed_regions', 'discard_zeroes'}``.

        A driver with ``BackupSourceOps`` says what the source holds (regions
        to read, or changed since the parent); the others give a path whose
        file holes say it.

        ``connector`` (a backup service on another node): the same device is
        exported to that os-brick connector (``BackupExportOps``) and
        ``connection_info`` replaces ``path``. A restore target whose
        discarded blocks read as zeros is discarded whole here first and
        says ``reads_zeros``: the restore then writes only data, so holes stay
        holes without discards through the export.
        """
        if connector is not None and not driver_base.supports(self.driver,
                                                              driver_base.BackupExportOps):
            raise BackupDeviceRefused(data='backend %s cannot export what backups read to a '
                                           'backup service on another node'
                                           % self.backend.host)
        device = self._open_device(context, volume, backup_id, snapshot_id, temp_snapshot,
                                   restore)
        if connector is None:
            return device
        try:
            if restore and device.get('discard_zeroes'):
                lvm_datapath.zero_range(device['path'], 0, volume.size * GiB,
                                        discard_zeroes=True)
                device['reads_zeros'] = True
            info = self.driver.export_backup_device(
                context, volume, export_name(backup_id, restore), device['path'], connector)
        except Exception:
            with excutils.save_and_reraise_exception():
                self._close_device(context, volume, device.get('temp_snapshot_id'), backup_id,
                                   False, restore, snapshot_id)
        LOG.info('Exported %s of volume %s for %s of backup %s to %s', device['path'],
                 volume.id, 'the restore' if restore else 'the backup', backup_id,
                 connector.get('host') or connector.get('initiator'))
        device.pop('path')
        device.update(connection_info=info, discard_zeroes=False)
        return device

    def _open_device(self, context, volume, backup_id, snapshot_id, temp_snapshot, restore):
        self.operations.ensure_ready(context)
        sources = driver_base.supports(self.driver, driver_base.BackupSourceOps)
        device = {'temp_snapshot_id': None, 'data_regions': None, 'changed_regions': None,
                  'discard_zeroes': False}
        if restore:
            if sources:
                device.update(self.driver.open_restore_target(volume))
                return device
            return dict(device, path=self._volume_path(volume))
        snapshot = None
        if snapshot_id:
            snapshot = objects.Snapshot.get_by_id(context, snapshot_id)
        elif temp_snapshot and not (sources and self.driver.backup_source_is_snapshot):
            snapshot = self._temp_snapshot(context, volume, backup_id)
            device['temp_snapshot_id'] = snapshot.id
        if sources:
            parent_id = None
            if snapshot is None:
                parent_id = db_backups.backup_get(context, backup_id).parent_id
            device.update(self.driver.open_backup_source(
                volume, backup_id, parent_backup_id=parent_id, snapshot=snapshot))
            return device
        if snapshot is not None:
            return dict(device, path=self._snapshot_path(snapshot))
        return dict(device, path=self._volume_path(volume))

    def _volume_path(self, volume):
        if not driver_base.supports(self.driver, driver_base.LocalPathOps):
            raise BackupDeviceRefused(data='backend %s reaches its volumes through no local '
                                           'path' % self.backend.host)
        return self.driver.local_path(volume)

    def backup_device_release(self, context, volume, temp_snapshot_id, backup_id=None,
                              succeeded=True, restore=False, snapshot_id=None,
                              exported=False):
        """Remove the export (``exported``: backup_device was given a connector; none
        left is fine), close the driver's source or target, then delete the temporary
        snapshot of a backup (absent or deleted: nothing to do)."""
        if exported and backup_id and driver_base.supports(self.driver,
                                                           driver_base.BackupExportOps):
            self.driver.remove_backup_export(context, volume, export_name(backup_id, restore))
        self._close_device(context, volume, temp_snapshot_id, backup_id, succeeded, restore,
                           snapshot_id)

    def _close_device(self, context, volume, temp_snapshot_id, backup_id, succeeded, restore,
                      snapshot_id):
        if driver_base.supports(self.driver, driver_base.BackupSourceOps):
            if restore:
                self.driver.close_restore_target(volume)
            elif backup_id:
                snapshot = None
                if snapshot_id or temp_snapshot_id:
                    with contextlib.suppress(exception.NotFound):
                        snapshot = objects.Snapshot.get_by_id(
                            context, snapshot_id or temp_snapshot_id, read_deleted=True)
                self.driver.close_backup_source(volume, backup_id, succeeded,
                                                snapshot=snapshot)
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
        # A snapshot is read through its local path or the driver's backup source.
        readable = (driver_base.supports(self.driver, driver_base.BackupDeviceOps)
                    or driver_base.supports(self.driver, driver_base.BackupSourceOps))
        if not (driver_base.supports(self.driver, driver_base.SnapshotOps) and readable):
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
            # The reason first: a backup's fail_reason keeps 255 characters.
            why = _failure_of(context, snapshot.id)
            raise exception.VolumeBackendAPIException(
                data='the temporary snapshot of volume %s is %s%s (snapshot %s)' % (
                    volume.id, snapshot.status, ': %s' % why if why else '', snapshot.id))
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
