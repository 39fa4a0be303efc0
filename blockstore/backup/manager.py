"""Backup manager: the backup service's long work, on the operation skeleton.

The service layer (backup/api.py) claims the backup (and its volume,
snapshot or restore target) and records a work record, then casts here.
Each kind of work is one :class:`~blockstore.common.operation.Operation`
run by the common :class:`~blockstore.common.operation.Runner`:

* create: the volume service tells where the bytes are (volume RPC 1.8
  ``backup_device``: the detached volume, a temporary snapshot of an
  attached one, or the snapshot backed up); the chunked pipeline
  (backup/chunked.py) stores them; the backup ends ``available`` or
  ``error`` (with ``fail_reason``), and in the same end the source is given
  back (the volume or snapshot ``backup_done``, the temporary snapshot
  deleted). A force-delete while it runs (the backup is ``deleting``) is
  seen between chunks: the pipeline stops, the objects are removed and the
  backup is deleted.
* restore: the backup is ``restoring``, the volume ``restoring-backup``;
  the chain (full .. this backup) is read from the store and written to the
  volume's local path. The backup is ``available`` again however it went;
  the volume ``available`` or ``error_restoring``.
* delete: every object of the backup is removed, then ``deleted``.
* import: a record from ``export_record`` (another deployment's, or this
  one's after a database loss) is checked against the store.

Recovery (``init_host``): the work records of this service's backups left
by a crash or a stop (SIGTERM stops a running backup between chunks and leaves
its record, as a crash would). A create that had begun cannot be resumed
where it stopped, so it starts again from the beginning: the source the
volume service opened is closed as failed, the objects stored so far are
removed, and the backup runs anew on the same claimed source (one that had
not begun -- its message queued or lost with the process -- simply runs).
After ``MAX_RESTARTS`` interrupted runs of one backup it becomes ``error``
("the backup service stopped during the backup") and its source is given
back. An interrupted restore is written again from the start the same way
(after ``MAX_RESTARTS`` the volume is ``error_restoring`` and the backup
``available``); a delete is redone; an import fails.
"""

import base64
import contextlib
import os
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging
from oslo_serialization import jsonutils
import oslo_messaging as messaging

from blockstore.backup import chunked
from blockstore.backup import drivers as stores
from blockstore.backup import remote
from blockstore.common import exception
from blockstore.common import operation as op_mod
from blockstore.common import rpc
from blockstore.common import service
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore import objects
from blockstore.objects import states

import blockstore.common.conf  # noqa: F401,E402  (registers options)

objects.register_all()
CONF = cfg.CONF
LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
STOPPED = 'the backup service stopped during the backup'
RESTORE_STOPPED = 'the backup service stopped during the restore'
IMPORT_STOPPED = 'the backup service stopped during the import; import the record again'
# How many times an interrupted backup starts again before it fails (a backup that
# itself brings the service down must not do so forever).
MAX_RESTARTS = 3
# Seconds before work postponed because a volume service did not answer runs again.
RETRY_DELAY = 10.0
# How often a running backup reads its own status (a force-delete cancels it).
CANCEL_POLL = 1.0
# The fields of a backup an exported record carries (export_record / import_record).
RECORD_FIELDS = ('id', 'volume_id', 'user_id', 'project_id', 'availability_zone',
                 'display_name', 'display_description', 'container', 'service_metadata',
                 'service', 'size', 'object_count', 'parent_id', 'snapshot_id',
                 'data_timestamp', 'encryption_key_id', 'created_at')


class BackupFailed(exception.BlockstoreException):
    msg_fmt = 'Backup failed: %(reason)s'
    safe = True


def encode_record(values):
    """A backup_url: base64 of the JSON of ``values``."""
    return base64.b64encode(jsonutils.dump_as_bytes(values)).decode('ascii')


def decode_record(backup_url):
    try:
        values = jsonutils.loads(base64.b64decode(backup_url, validate=True))
    except Exception as e:
        raise exception.InvalidBackup(reason='the backup record cannot be decoded: %s' % e)
    if not isinstance(values, dict):
        raise exception.InvalidBackup(reason='the backup record is not an object')
    return values


class _Op(op_mod.Operation):
    """An Operation that remembers why its work failed (``reason``), so its end writes
    it (``fail_reason`` of a failed create) and can tell a failure from a success when
    both end with the same event (a restore)."""

    def __init__(self, *args, **kwargs):
        self._end_hook = kwargs.pop('end_hook', None)
        super().__init__(*args, **kwargs)
        self.reason = None
        self.error = None

    def wrap(self, work):
        def run():
            try:
                return work()
            except Exception as e:
                self.error = e
                self.reason = op_mod.reason_of(e)
                raise
        return run

    def end(self, context, obj, event, values):
        if self._end_hook is not None:
            return self._end_hook(context, obj, event, values, self)
        return super().end(context, obj, event, values)


class BackupManager(service.Manager):
    """The RPC endpoint of one backup service (``host``: the node's CONF.host)."""

    RPC_API_VERSION = '1.0'

    def __init__(self, host, service_name='blockstore-backup', conf=CONF, store=None):
        super().__init__(host, service_name)
        self.conf = conf
        bconf = conf.backup
        self.store = store or stores.load_store(conf)
        workers = bconf.backup_workers or os.cpu_count() or 1
        self.chunked = chunked.ChunkedBackup(
            self.store, bconf.backup_chunk_size, bconf.backup_block_size,
            bconf.backup_compression, workers, bconf.backup_max_inflight or 2 * workers)
        self._slots = threading.BoundedSemaphore(bconf.backup_max_operations)
        self._stopping = threading.Event()
        self.connector = remote.Connector(conf, host)
        self.operations = op_mod.Runner(lambda: self.service, lambda ctx: True)

    volume_rpcapi = rpc.LazyClient('blockstore.volume.rpcapi', 'VolumeAPI')

    # -- startup and shutdown ---------------------------------------------------------

    def init_host(self, ctx):
        try:
            self.store.check()
        except stores.BackupStoreError as e:
            LOG.warning('Backup store %s is not usable now: %s', self.store.name, e)
        self._recovery = threading.Thread(target=self.recover, args=(ctx,), daemon=True,
                                          name='backup-recovery')
        self._recovery.start()

    def prepare_stop(self):
        """The service stops (SIGTERM): running backups and restores stop between
        chunks. Their records stay for the next start, which runs them again (as
        after a crash)."""
        self._stopping.set()

    def periodic_tasks(self):
        return [(self._check_store_periodically, CONF.periodic_interval)]

    def _check_store_periodically(self):
        try:
            self.store.check()
        except stores.BackupStoreError as e:
            LOG.warning('Backup store %s is not usable: %s', self.store.name, e)

    # -- helpers ------------------------------------------------------------------------

    def _container(self, backup):
        return backup.container or self.store.default_container

    @staticmethod
    def _prefix(backup):
        return backup.service_metadata or 'volume_%s/backup_%s' % (backup.volume_id,
                                                                    backup.id)

    def _ready_store(self, backup, container):
        if backup.service and backup.service != self.store.name:
            raise BackupFailed(reason='backup %s is in the %s store; this service uses %s'
                               % (backup.id, backup.service, self.store.name))
        self.store.check()
        self.store.ensure_container(container)

    def _use_export(self, volume):
        """Whether ``volume`` is reached through an export (see backup/remote.py)."""
        return remote.use_export(self.conf.backup.backup_use_export, self.host, volume.host)

    def _backup_device(self, context, volume, backup_id, **kwargs):
        """volume RPC backup_device, with this service's connector when it exports.

        No answer (the volume service died with the call, or is restarting): the
        work is postponed and, after ``RETRY_DELAY``, run again from the start by
        the recovery path (which closes what the lost call may have opened and
        counts the restart), as if this service had crashed."""
        if self._use_export(volume):
            kwargs['connector'] = self.connector.properties()
        try:
            return self.volume_rpcapi.backup_device(context, volume, backup_id, **kwargs)
        except messaging.MessagingTimeout as e:
            operation = 'restore' if kwargs.get('restore') else 'create'
            LOG.warning('Backup %s: volume service %s did not answer backup_device; the %s '
                        'runs again in %s s', backup_id, volume.host, operation, RETRY_DELAY)
            timer = threading.Timer(RETRY_DELAY, self._retry, (context, backup_id, operation))
            timer.daemon = True
            timer.start()
            raise op_mod.Postponed('volume service %s did not answer' % volume.host) from e

    def _retry(self, context, backup_id, operation):
        """Run postponed work of this service again (see ``_backup_device``)."""
        if self._stopping.is_set():
            return   # the next start's recovery finds the record
        for worker in objects.WorkerList.get_all(context, resource_type='backup',
                                                 resource_id=backup_id):
            if worker.operation != operation or worker.service_id != self.service.id:
                continue
            try:
                backup = objects.Backup.get_by_id(context, backup_id, read_deleted=True)
                self._redo(context, worker, backup)
            except Exception:
                LOG.exception('Running the postponed %s of backup %s again failed',
                              operation, backup_id)

    def _device_path(self, device):
        """A context giving the local path of what backup_device answered."""
        if device.get('connection_info'):
            return self.connector.connected(device['connection_info'])
        return contextlib.nullcontext(device['path'])

    def _cancelled(self, context, backup_id):
        """True once the backup is being deleted (force-delete) or the service stops."""
        seen = {'at': 0.0, 'gone': False}

        def cancelled():
            if self._stopping.is_set():
                return True
            now = time.monotonic()
            if now - seen['at'] >= CANCEL_POLL:
                seen['at'] = now
                try:
                    row = db_backups.backup_get(context, backup_id, read_deleted=True)
                    seen['gone'] = row.deleted or row.status == states.DELETING
                except exception.NotFound:
                    seen['gone'] = True
            return seen['gone']
        return cancelled

    @staticmethod
    def _progress(context, backup_id, what, save=True):
        logged = {'tenth': -1}

        def progress(done, total):
            percent = int(done * 100 / total) if total else 100
            if save:
                db_backups.backup_update(context, backup_id, {'progress': percent,
                                                              'bytes_done': done})
            if percent // 10 != logged['tenth']:
                logged['tenth'] = percent // 10
                LOG.info('%s of backup %s: %d%% (%d of %d bytes)', what, backup_id,
                         percent, done, total)
        return progress

    def _remove_objects(self, backup):
        """Every object of the backup (what a failed or cancelled create stored)."""
        try:
            self.chunked.delete(self._container(backup), self._prefix(backup))
        except Exception:
            LOG.exception('Could not remove the objects of backup %s', backup.id)

    # -- create -------------------------------------------------------------------------

    def create_backup(self, context, backup):
        with self._slots:
            try:
                source = self._source(context, backup)
            except exception.NotFound as e:
                self._lost(context, backup, 'create_failed', 'create', e)
                return
            self._create(context, backup, *source)

    def _lost(self, context, backup, event, operation, error):
        """What a request cannot start without is gone: end it at once."""
        LOG.warning('Backup %s: %s', backup.id, op_mod.reason_of(error))
        with op_mod.locked('backup', backup.id):
            values = {'fail_reason': op_mod.reason_of(error)[:255]} if (
                event == 'create_failed') else {}
            if backup.transition(event, **values):
                op_mod.record_failure(backup.project_id, 'backup', backup.id,
                                      'BACKUP_%s' % operation.upper(), error)
            db.worker_destroy(context, 'backup', backup.id, operation)

    def _source(self, context, backup):
        """(volume, snapshot or None) a backup reads."""
        volume = objects.Volume.get_by_id(context, backup.volume_id, read_deleted=True)
        snapshot = None
        if backup.snapshot_id:
            snapshot = objects.Snapshot.get_by_id(context, backup.snapshot_id,
                                                  read_deleted=True)
        return volume, snapshot

    def _create(self, context, backup, volume, snapshot):
        ran = []
        opened = []   # the volume service opened a source: release it however it went

        def work():
            ran.append(True)
            container = self._container(backup)
            prefix = self._prefix(backup)
            self._ready_store(backup, container)
            parent = None
            if backup.parent_id:
                parent_row = objects.Backup.get_by_id(context, backup.parent_id)
                parent = self.chunked.read_metadata(self._container(parent_row),
                                                    self._prefix(parent_row))
            db_backups.backup_update(context, backup.id, {
                'container': container, 'service_metadata': prefix,
                'service': self.store.name, 'progress': 0, 'bytes_done': 0})
            backup.container, backup.service_metadata = container, prefix
            device = self._backup_device(
                context, volume, backup.id, snapshot_id=backup.snapshot_id,
                temp_snapshot=snapshot is None and volume.status != states.BACKING_UP)
            backup.temp_snapshot_id = device.get('temp_snapshot_id')
            opened.append(True)
            size = snapshot.volume_size if snapshot is not None else volume.size
            with self._device_path(device) as path, self._postponed_on_stop(backup):
                meta = self.chunked.backup(
                    path, size * GiB, container, prefix, parent=parent,
                    data_regions=device.get('data_regions'),
                    changed_regions=(device.get('changed_regions') if parent is not None
                                     else None),
                    volume_meta={'volume_id': volume.id, 'volume_size': size,
                                 'backup_id': backup.id, 'snapshot_id': backup.snapshot_id,
                                 'parent_id': backup.parent_id},
                    progress=self._progress(context, backup.id, 'Backup'),
                    cancelled=self._cancelled(context, backup.id))
            LOG.info('Backup %s of volume %s: %d objects, %d bytes read, %s stored',
                     backup.id, volume.id, meta.get('object_count', 0),
                     meta.get('bytes_read', 0), meta.get('bytes_stored'))
            return {'size': size, 'object_count': meta.get('object_count', 0),
                    'bytes_read': meta.get('bytes_read', 0), 'bytes_done': size * GiB,
                    'progress': 100}

        op = _Op('create', 'create_done', 'create_failed', 'BACKUP_CREATE',
                 end_hook=lambda ctx, obj, event, values, op: self._create_end(
                     ctx, obj, event, values, op, volume, snapshot, bool(opened)),
                 on_failure=self._create_failed)
        self.operations.run(context, backup, op, op.wrap(work))
        if not ran:
            self._release_skipped(context, backup, volume, snapshot)

    def _create_end(self, context, backup, event, values, op, volume, snapshot, opened=False):
        """Give the source back, then end the backup (both before the record is cleared)."""
        self._release_source(context, backup, volume, snapshot, opened=opened,
                             succeeded=event == 'create_done')
        if event == 'create_failed':
            reason = STOPPED if (self._stopping.is_set() and isinstance(
                op.error, chunked.BackupCancelled)) else op.reason
            values = dict(values, fail_reason=(reason or 'unknown error')[:255])
        won = backup.transition(event, **values)
        if not won and event == 'create_done':
            backup.refresh()
            if backup.status == states.DELETING and not backup.deleted:
                # Force-deleted after the last chunk was read: nothing cancelled it.
                LOG.info('Backup %s was deleted as it finished; removed', backup.id)
                self._remove_objects(backup)
                return backup.transition('delete_done')
        return won

    @contextlib.contextmanager
    def _postponed_on_stop(self, backup):
        """A backup cancelled because the service stops is postponed, not failed: its
        record, source and claim stay for the next start (``recover``)."""
        try:
            yield
        except chunked.BackupCancelled as e:
            if self._stopping.is_set():
                LOG.info('Backup %s stopped with the service; it runs again when the '
                         'service starts', backup.id)
                raise op_mod.Postponed(str(e)) from e
            raise

    def _create_failed(self, context, backup, error):
        """After a failed create: its objects removed; a cancelled one deleted."""
        try:
            self._remove_objects(backup)
            backup.refresh()
            if backup.status == states.DELETING:
                LOG.info('Backup %s was deleted while it ran; removed', backup.id)
                backup.transition('delete_done')
        except Exception:
            LOG.exception('Cleaning up after backup %s failed', backup.id)

    def _release_source(self, context, backup, volume, snapshot, opened=False,
                        succeeded=False):
        """The driver's source closed (a successful one may stay as the next incremental's
        base), the temporary snapshot deleted; the volume (or snapshot) back to available."""
        backup.refresh()
        if backup.temp_snapshot_id or opened:
            try:
                self.volume_rpcapi.backup_device_release(
                    context, volume, backup.temp_snapshot_id, backup_id=backup.id,
                    succeeded=succeeded, snapshot_id=backup.snapshot_id,
                    exported=self._use_export(volume))
                db_backups.backup_update(context, backup.id, {'temp_snapshot_id': None})
                backup.temp_snapshot_id = None
            except Exception:
                LOG.exception('Could not delete temporary snapshot %s of backup %s',
                              backup.temp_snapshot_id, backup.id)
        try:
            if snapshot is not None:
                snapshot.transition('backup_done')
            else:
                volume.transition('backup_done')   # an attached one stayed in-use
        except Exception:
            LOG.exception('Could not give back the source of backup %s', backup.id)

    def _work_of(self, context, backup_id):
        """The operation of the backup's work record, or None."""
        rows = db.worker_get_all(context, resource_type='backup', resource_id=backup_id)
        return rows[0].operation if rows else None

    def _release_skipped(self, context, backup, volume, snapshot):
        """A create force-deleted before it ran (``cancel``: its record is still the
        create's): the source back, the backup deleted."""
        with op_mod.locked('backup', backup.id):
            backup.refresh()
            if (backup.deleted or backup.status != states.DELETING
                    or self._work_of(context, backup.id) != 'create'):
                return
            LOG.info('Backup %s was deleted before it started', backup.id)
            self._release_source(context, backup, volume, snapshot)
            self._remove_objects(backup)
            backup.transition('delete_done')
            db.worker_destroy(context, 'backup', backup.id, 'create')

    def _delete_after_cancel(self, context, backup):
        """A restore force-deleted (``cancel``): its record becomes the delete's, then
        the backup is deleted (in another thread: the caller holds the backup's lock)."""
        db.worker_create(context, 'backup', backup.id, 'delete', states.DELETING,
                         service_id=self.service.id if self.service else None)
        threading.Thread(target=self.delete_backup, args=(context, backup), daemon=True,
                         name='delete-%s' % backup.id).start()

    # -- restore ------------------------------------------------------------------------

    def restore_backup(self, context, backup, volume_id):
        with self._slots:
            try:
                volume = objects.Volume.get_by_id(context, volume_id)
            except exception.NotFound as e:
                self._lost(context, backup, 'restore_done', 'restore', e)
                return
            self._restore(context, backup, volume)

    def _chain(self, context, backup):
        """Metadata of the full backup .. ``backup`` (an incremental's parents first)."""
        chain = []
        current = backup
        while current is not None:
            chain.append(self.chunked.read_metadata(self._container(current),
                                                    self._prefix(current)))
            current = (objects.Backup.get_by_id(context, current.parent_id,
                                                read_deleted=True)
                       if current.parent_id else None)
        return list(reversed(chain))

    def _restore(self, context, backup, volume):
        volume_id = volume.id

        def work():
            db_backups.backup_update(context, backup.id, {'restore_volume_id': volume_id})
            self._ready_store(backup, self._container(backup))
            if volume.size < backup.size:
                raise BackupFailed(reason='volume %s (%d GiB) is smaller than backup %s '
                                          '(%d GiB)' % (volume.id, volume.size, backup.id,
                                                        backup.size))
            chain = self._chain(context, backup)
            device = self._backup_device(context, volume, backup.id, restore=True)
            try:
                with self._device_path(device) as path, self._postponed_on_stop(backup):
                    self.chunked.restore(chain, path, backup.size * GiB,
                                         dest_reads_zeros=bool(device.get('reads_zeros')),
                                         progress=self._progress(context, backup.id,
                                                                 'Restore', save=False),
                                         cancelled=self._cancelled(context, backup.id),
                                         discard_zeroes=bool(device.get('discard_zeroes')))
            finally:
                try:
                    self.volume_rpcapi.backup_device_release(
                        context, volume, None, backup_id=backup.id, restore=True,
                        exported=bool(device.get('connection_info')))
                except Exception:
                    LOG.exception('Could not release restore target %s', volume.id)
            LOG.info('Restored backup %s to volume %s', backup.id, volume.id)
            return {}

        ran = []

        def run():
            ran.append(True)
            return work()

        op = _Op('restore', 'restore_done', 'restore_done', 'BACKUP_RESTORE',
                 end_hook=lambda ctx, obj, event, values, op: self._restore_end(
                     ctx, obj, volume, op.reason))
        self.operations.run(context, backup, op, op.wrap(run))
        if not ran:
            with op_mod.locked('backup', backup.id):
                backup.refresh()
                if (not backup.deleted and backup.status == states.DELETING
                        and self._work_of(context, backup.id) == 'restore'):
                    # Force-deleted before it ran: the volume was never written.
                    self._restore_end(context, backup, volume,
                                      'the backup was deleted before the restore began')

    def _restore_end(self, context, backup, volume, reason):
        """The volume available (or error_restoring), then the backup available."""
        event = 'restore_backup_done' if reason is None else 'restore_backup_failed'
        if not volume.transition(event):
            LOG.warning('Volume %s was no longer restoring backup %s', volume.id, backup.id)
        if reason is not None:
            op_mod.record_failure(volume.project_id, 'volume', volume.id,
                                  'RESTORE_BACKUP', BackupFailed(reason=reason))
        won = backup.transition('restore_done', restore_volume_id=None)
        if not won:
            backup.refresh()
            if backup.status == states.DELETING and not backup.deleted:   # cancelled
                self._delete_after_cancel(context, backup)
                return True
        return won

    # -- delete -------------------------------------------------------------------------

    def delete_backup(self, context, backup):
        def work():
            if backup.service_metadata or backup.service:
                self._ready_store(backup, self._container(backup))
                self.chunked.delete(self._container(backup), self._prefix(backup))
            return {}

        op = _Op('delete', 'delete_done', 'delete_failed', 'BACKUP_DELETE')
        self.operations.run(context, backup, op, op.wrap(work))

    # -- export and import --------------------------------------------------------------

    def export_record(self, context, backup):
        """{'backup_service', 'backup_url'} describing ``backup`` (available)."""
        values = {}
        for name in RECORD_FIELDS:
            value = getattr(backup, name, None)
            values[name] = value.isoformat() if hasattr(value, 'isoformat') else value
        values['container'] = self._container(backup)
        values['service_metadata'] = self._prefix(backup)
        values['service'] = backup.service or self.store.name
        values['metadata'] = dict(backup.metadata or {})
        return {'backup_service': values['service'], 'backup_url': encode_record(values)}

    def import_record(self, context, backup, backup_service, backup_url):
        def work():
            record = decode_record(backup_url)
            if backup_service != self.store.name:
                raise BackupFailed(reason='the record is of the %s store; this service '
                                          'uses %s' % (backup_service, self.store.name))
            container = record.get('container') or self.store.default_container
            prefix = record.get('service_metadata')
            if not prefix:
                raise exception.InvalidBackup(reason='the record names no objects')
            self.store.check()
            meta = self.chunked.read_metadata(container, prefix)   # the objects exist
            values = {'container': container, 'service_metadata': prefix,
                      'service': self.store.name,
                      'size': record.get('size') or -(-int(meta.get('size', 0)) // GiB),
                      'object_count': record.get('object_count',
                                                 meta.get('object_count', 0)),
                      'progress': 100}
            for name in ('volume_id', 'snapshot_id', 'display_name',
                         'display_description', 'availability_zone'):
                if record.get(name) and not getattr(backup, name, None):
                    values[name] = record[name]
            if record.get('parent_id'):
                try:
                    objects.Backup.get_by_id(context, record['parent_id'])
                    values['parent_id'] = record['parent_id']
                except exception.NotFound:
                    raise BackupFailed(reason='the parent backup %s of this incremental '
                                              'is not known here; import it first'
                                       % record['parent_id'])
            return values

        op = _Op('import', 'create_done', 'create_failed', 'BACKUP_IMPORT',
                 end_hook=self._import_end)
        self.operations.run(context, backup, op, op.wrap(work))

    @staticmethod
    def _import_end(context, backup, event, values, op):
        if op.reason:
            values = dict(values, fail_reason=op.reason[:255])
        if backup.transition(event, **values):
            return True
        backup.refresh()
        if backup.status == states.DELETING and not backup.deleted:
            # Force-deleted while importing: the row goes; the objects stay (they are
            # the exported backup's, which another deployment may still use).
            return backup.transition('delete_done')
        return False

    # -- recovery -----------------------------------------------------------------------

    def recover(self, ctx):
        """End the work this service left unfinished when it last stopped (see module)."""
        mine = self.service.id
        todo = []
        for worker in objects.WorkerList.get_all(ctx, resource_type='backup'):
            if worker.service_id not in (None, mine):
                continue
            try:
                backup = objects.Backup.get_by_id(ctx, worker.resource_id, read_deleted=True)
            except exception.NotFound:
                db.worker_destroy(ctx, 'backup', worker.resource_id)
                continue
            if backup.host != self.host:
                continue
            if worker.claim(mine):
                todo.append((worker, backup))
        for worker, backup in todo:
            LOG.info('Ending interrupted %s of backup %s', worker.operation, backup.id)
            try:
                self._redo(ctx, worker, backup)
            except Exception:
                LOG.exception('Ending the interrupted %s of backup %s failed',
                              worker.operation, backup.id)
        return len(todo)

    def _redo(self, ctx, worker, backup):
        if worker.operation == 'delete':
            self.delete_backup(ctx, backup)
            return
        if (worker.operation == 'create' and backup.status == states.CREATING
                and not backup.service_metadata and not backup.temp_snapshot_id):
            # It had not begun (its message was still queued, or taken and lost with
            # the process): nothing to undo, so it runs now. A queued duplicate of it
            # is skipped by the skeleton once it ends.
            LOG.info('Backup %s had not begun; running it', backup.id)
            threading.Thread(target=self.create_backup, args=(ctx, backup), daemon=True,
                             name='backup-%s' % backup.id).start()
            return
        if worker.operation == 'create' and self._restart_create(ctx, worker, backup):
            return
        if worker.operation == 'restore' and self._restart_restore(ctx, worker, backup):
            return
        with op_mod.locked('backup', backup.id):
            backup.refresh()
            if worker.operation == 'create':
                self._recover_create(ctx, backup)
            elif worker.operation == 'restore':
                if self._recover_restore(ctx, backup, worker.args.get('volume_id')):
                    return   # its record is the delete's now
            elif worker.operation == 'import':
                if backup.status == states.CREATING:
                    backup.transition('create_failed', fail_reason=IMPORT_STOPPED)
                elif backup.status == states.DELETING and not backup.deleted:
                    backup.transition('delete_done')
            db.worker_destroy(ctx, 'backup', backup.id, worker.operation)

    def _restart_create(self, ctx, worker, backup):
        """Start an interrupted backup again from the beginning; False when it may not
        (force-deleted meanwhile, its source gone, or ``MAX_RESTARTS`` reached)."""
        attempts = int(worker.args.get('restarts', 0)) + 1
        with op_mod.locked('backup', backup.id):
            backup.refresh()
            if backup.deleted or backup.status != states.CREATING or attempts > MAX_RESTARTS:
                return False
            try:
                volume, snapshot = self._source(ctx, backup)
            except exception.NotFound:
                return False
            if backup.temp_snapshot_id or backup.service_metadata:
                # What the volume service opened is closed as failed (a temporary
                # snapshot deleted, an export removed, a thin base not kept); the source
                # itself stays claimed for the new run.
                try:
                    self.volume_rpcapi.backup_device_release(
                        ctx, volume, backup.temp_snapshot_id, backup_id=backup.id,
                        succeeded=False, snapshot_id=backup.snapshot_id,
                        exported=self._use_export(volume))
                except Exception:
                    LOG.exception('Backup %s: could not close its interrupted source; '
                                  'it fails', backup.id)
                    return False
            if backup.service_metadata:
                self._remove_objects(backup)
            db_backups.backup_update(ctx, backup.id, {
                'temp_snapshot_id': None, 'service_metadata': None, 'container': None,
                'progress': 0, 'bytes_done': 0})
            db.worker_create(ctx, 'backup', backup.id, 'create', states.CREATING,
                             service_id=self.service.id,
                             payload=dict(worker.args, restarts=attempts))
        LOG.info('Backup %s was interrupted; running it again from the start (restart %d '
                 'of %d)', backup.id, attempts, MAX_RESTARTS)
        threading.Thread(target=self.create_backup, args=(ctx, backup), daemon=True,
                         name='backup-%s' % backup.id).start()
        return True

    def _restart_restore(self, ctx, worker, backup):
        """Write an interrupted restore again from the beginning (a restore rewrites the
        whole volume); False when it may not (see ``_restart_create``)."""
        attempts = int(worker.args.get('restarts', 0)) + 1
        volume_id = worker.args.get('volume_id') or backup.restore_volume_id
        with op_mod.locked('backup', backup.id):
            backup.refresh()
            if (backup.deleted or backup.status != states.RESTORING or not volume_id
                    or attempts > MAX_RESTARTS):
                return False
            try:
                volume = objects.Volume.get_by_id(ctx, volume_id)
            except exception.NotFound:
                return False
            if volume.status != states.RESTORING_BACKUP:
                return False
            if self._use_export(volume):
                try:   # the export of the restore target, if the first run made it
                    self.volume_rpcapi.backup_device_release(
                        ctx, volume, None, backup_id=backup.id, restore=True, exported=True)
                except Exception:
                    LOG.exception('Backup %s: could not release restore target %s; the '
                                  'restore fails', backup.id, volume.id)
                    return False
            db.worker_create(ctx, 'backup', backup.id, 'restore', states.RESTORING,
                             service_id=self.service.id,
                             payload=dict(worker.args, volume_id=volume_id, restarts=attempts))
        LOG.info('Restore of backup %s to volume %s was interrupted; writing it again from '
                 'the start (restart %d of %d)', backup.id, volume_id, attempts, MAX_RESTARTS)
        threading.Thread(target=self.restore_backup, args=(ctx, backup, volume_id),
                         daemon=True, name='restore-%s' % backup.id).start()
        return True

    def _recover_create(self, ctx, backup):
        if backup.deleted or backup.status not in (states.CREATING, states.DELETING):
            return
        try:
            volume, snapshot = self._source(ctx, backup)
        except exception.NotFound:
            LOG.warning('The source of backup %s is gone', backup.id)
        else:
            # The source may have been opened (e.g. an LVM thin backup snapshot): closed
            # as failed, so only what a complete backup leaves stays.
            self._release_source(ctx, backup, volume, snapshot, opened=True, succeeded=False)
        if backup.service_metadata:
            self._remove_objects(backup)
        if backup.status == states.DELETING:
            backup.transition('delete_done')
        else:
            backup.transition('create_failed', fail_reason=STOPPED)
            op_mod.record_failure(backup.project_id, 'backup', backup.id, 'BACKUP_CREATE',
                                  BackupFailed(reason=STOPPED))

    def _recover_restore(self, ctx, backup, volume_id):
        volume_id = volume_id or backup.restore_volume_id
        if volume_id:
            try:
                volume = objects.Volume.get_by_id(ctx, volume_id)
                if self._use_export(volume):
                    try:   # the export of the restore target, if it was made
                        self.volume_rpcapi.backup_device_release(
                            ctx, volume, None, backup_id=backup.id, restore=True,
                            exported=True)
                    except Exception:
                        LOG.exception('Could not release restore target %s', volume.id)
                if volume.transition('restore_backup_failed'):
                    op_mod.record_failure(volume.project_id, 'volume', volume.id,
                                          'RESTORE_BACKUP', BackupFailed(
                                              reason=RESTORE_STOPPED))
            except exception.NotFound:
                pass
        if backup.status == states.RESTORING:
            backup.transition('restore_done', restore_volume_id=None)
        elif backup.status == states.DELETING and not backup.deleted:
            self._delete_after_cancel(ctx, backup)
            return True
