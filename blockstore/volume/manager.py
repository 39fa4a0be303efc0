"""Volume manager: runs one backend's long work through its driver.

Every operation follows the same pattern (``_run``): skip it if the resource
is no longer in the state the work expects (a duplicate or late message),
mark the work record as ours, call the driver, then write the outcome through
the transition table and clear the work record. On start, ``init_host``
claims the work records this backend left unfinished (a crash) and redoes
them; every driver operation is idempotent, so redoing is safe. It also
restores the exports (targets) of this backend's volumes (``ensure_export``).
"""

import datetime
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import context as bs_context
from blockstore.common import exception
from blockstore.common import operation as op_mod
from blockstore.common import service
from blockstore.common import rpc
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states
from blockstore.scheduler import rpcapi as scheduler_rpcapi
from blockstore.volume.attach import worker as attach_worker
from blockstore.volume.backups import worker as backup_worker
from blockstore.volume import drivers
from blockstore.volume.drivers import base as driver_base
from blockstore.volume.extend import worker as extend_worker
from blockstore.volume.images import worker as image_worker
from blockstore.volume.manage import worker as manage_worker
from blockstore.volume.migrate import worker as migrate_worker

import blockstore.common.conf  # noqa: F401,E402  (registers options)

objects.register_all()
CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class Backend:
    """What every worker of a volume manager is handed: the backend's host and driver,
    and the cluster (``NAME@backend``) whose members share it, if any."""

    def __init__(self, host, driver, cluster=None):
        self.host = host
        self.driver = driver
        self.cluster = cluster

    def require(self, interface, what):
        """Refuse ``what`` unless the driver declares ``interface``."""
        if not driver_base.supports(self.driver, interface):
            raise exception.VolumeBackendAPIException(
                data='backend %s does not support %s' % (self.host, what))


class VolumeManager(service.Manager):
    """The RPC endpoint of one backend; each concept's work is a collaborator:

    * ``operations`` (common/operation.py): the skeleton every long operation runs on;
    * ``extend`` (extend/worker.py), ``images`` (images/worker.py),
      ``attachments`` (attach/worker.py), ``migration`` (migrate/worker.py),
      ``manage`` (manage/worker.py), ``backups`` (backups/worker.py): each
      handed the ``backend`` (driver and host) and ``operations``, plus what
      else it needs.

    The manager keeps the RPC surface (short delegations), volume and snapshot
    create/delete, revert and retype, startup, recovery and capabilities.
    """

    RPC_API_VERSION = '1.9'

    def __init__(self, host, backend_conf, service_name='blockstore-volume', cluster=None):
        """``cluster``: the ``NAME@backend`` cluster this service belongs to, if any;
        the driver must declare itself ``clusterable`` (NotClusterable otherwise)."""
        super().__init__(host, service_name)
        self.backend_conf = backend_conf
        self.cluster = cluster
        driver_cls = drivers.driver_class(backend_conf.volume_driver)
        if cluster and not driver_base.clusterable(driver_cls):
            raise exception.NotClusterable(
                backend=host, cluster=cluster, driver=driver_cls.__name__,
                reason=getattr(driver_cls, 'not_clusterable_reason',
                               'it keeps state on one node'))
        self.backend = Backend(host, driver_cls(backend_conf, host), cluster)
        self.peers_taken_over = set()   # down cluster members whose exports moved here
        self.scheduler_rpcapi = scheduler_rpcapi.SchedulerAPI()
        self._ready = False
        self._setup_lock = threading.Lock()
        self.operations = op_mod.Runner(lambda: self.service, self._driver_ready)
        self.extend = extend_worker.ExtendWorker(self.backend, self.operations)
        self.images = image_worker.ImageWorker(self.backend, self.operations)
        self.attachments = attach_worker.AttachWorker(self.backend, self.operations)
        self.manage = manage_worker.ManageWorker(self.backend, self.operations)
        self.migration = migrate_worker.MigrateWorker(
            self.backend, self.operations, lambda: self.volume_rpcapi, self.delete_volume)
        self.backups = backup_worker.BackupWorker(
            self.backend, self.operations, self.create_snapshot, self.delete_snapshot,
            lambda: self.backup_rpcapi)

    @property
    def driver(self):
        return self.backend.driver

    @driver.setter
    def driver(self, driver):
        self.backend.driver = driver

    #: The volume RPC client (a migration reaches its destination's service).
    volume_rpcapi = rpc.LazyClient('blockstore.volume.rpcapi', 'VolumeAPI')
    #: The backup RPC client (a volume created from a backup is handed over).
    backup_rpcapi = rpc.LazyClient('blockstore.backup.rpcapi', 'BackupAPI')

    # -- startup ------------------------------------------------------------

    def _setup_driver(self, ctx):
        with self._setup_lock:
            if self._ready:
                return True
            try:
                self.driver.do_setup(ctx)
                self.driver.check_for_setup_error()
            except Exception:
                LOG.exception('Backend %s failed to initialise; retrying at the next '
                              'periodic report', self.host)
                return False
            self._ready = True
            return True

    def init_host(self, ctx):
        self._follow_cluster(ctx)
        if self._setup_driver(ctx):
            self._recover(ctx)
            self._ensure_exports(ctx)

    def _follow_cluster(self, ctx):
        """This backend's volumes record the cluster it serves now (as Cinder includes a
        service's resources when it joins a cluster): later work on them goes to the
        cluster's queue, or back to the host's when the service left a cluster nobody
        else serves."""
        from blockstore.db import services as services_db
        live = {s.cluster_name for s in services_db.service_get_all(
            ctx, binary=self.service_name) if s.cluster_name}
        if self.cluster:
            # Releases before 1.9 named a cluster without its backend ('NAME'): volumes a
            # scheduler recorded so while such members ran are this cluster's.
            live.discard(self.cluster.partition('@')[0])
        n = services_db.volumes_follow_cluster(ctx, self.host, self.cluster, live)
        if n:
            LOG.info('%d volumes of %s now belong to %s', n, self.host,
                     self.cluster or 'no cluster')

    def _ensure_exports(self, ctx, backend=None):
        """Restore the exports of this backend's exported volumes (e.g. after a restart).

        ``backend``: another member of this service's cluster, which went down: its
        volumes' exports are restored here (a takeover). Only volumes with a
        ``provider_location`` are asked; the driver decides from its own export
        record whether there is anything to restore.
        """
        if not driver_base.supports(self.driver, driver_base.ExportOps):
            return
        from blockstore.db import manageable as db_manageable
        for volume_id in db_manageable.live_ids_on_backend(ctx, 'volume', backend or self.host):
            volume = self._load(ctx, 'volume', volume_id)
            if volume is None or not volume.provider_location:
                continue
            try:
                update = self.driver.ensure_export(ctx, volume)
            except Exception:
                LOG.exception('Could not restore the export of volume %s', volume.id)
                continue
            if update is None:
                continue
            LOG.info('Restored the export of volume %s', volume.id)
            if update.get('provider_location') != volume.provider_location:
                states.transition(ctx, 'volume', volume.id, 'use_for_export',
                                  {'provider_location': update['provider_location']})

    def init_host_with_rpc(self, ctx):
        self.report_capabilities()

    def periodic_tasks(self):
        tasks = [(self.report_capabilities, CONF.periodic_interval),
                 (self.redo_lost_casts, CONF.periodic_interval)]
        if self.cluster:
            tasks.append((self.take_over_dead_peers, CONF.report_interval))
        return tasks

    def redo_lost_casts(self):
        """Redo work recorded for this backend whose cast never arrived.

        An API (or scheduler) that dies between writing a work record and its
        cast, or a cast lost with a broker restart, leaves a record no service
        claimed (a volume 'deleting', a create placed here still 'creating')
        while this service keeps running: only a restart used to look. A cast
        arrives within moments; a record unclaimed for longer than
        ``service_down_time`` has lost its cast. (A late duplicate is skipped by
        the operation skeleton's state check.)
        """
        ctx = bs_context.get_admin_context()
        if self.service is None or not self._driver_ready(ctx):
            return
        self._recover(ctx, unclaimed_for=CONF.service_down_time)

    def take_over_dead_peers(self):
        """A cluster member: redo the work of members down longer than service_down_time."""
        from blockstore.ops import cleanup
        if self.service is None or not self._driver_ready(bs_context.get_admin_context()):
            return []
        return cleanup.take_over_dead_peers(self, bs_context.get_admin_context())

    def _recover(self, ctx, unclaimed_for=None):
        """Redo the work this backend left unfinished when it last stopped.

        ``unclaimed_for``: only records no service claimed, older than that
        many seconds (``redo_lost_casts``).
        """
        mine = self.service.id
        redo = []
        cutoff = None
        if unclaimed_for is not None:
            cutoff = utcnow() - datetime.timedelta(seconds=unclaimed_for)
        for worker in objects.WorkerList.get_all(ctx):
            if worker.service_id not in (None, mine) or worker.resource_type not in _OWNED:
                continue   # another service's, or a backup's (the backup service's)
            if cutoff is not None and (worker.service_id is not None or (
                    worker.updated_at or worker.created_at).replace(tzinfo=None) > cutoff):
                continue   # claimed (running here), or its cast may still come
            obj = self._load(ctx, worker.resource_type, worker.resource_id)
            if obj is None or obj.status != worker.status:
                db.worker_destroy(ctx, worker.resource_type, worker.resource_id,
                                  worker.operation)
                continue
            if not self._recovers(worker, obj, mine):
                continue
            if worker.claim(mine):
                redo.append((worker, obj))
        for worker, obj in redo:
            LOG.info('Redoing interrupted %s of %s %s', worker.operation,
                     worker.resource_type, obj.id)
            threading.Thread(target=self._redo, args=(ctx, worker, obj), daemon=True,
                             name='redo-%s' % obj.id).start()

    def _recovers(self, worker, obj, mine):
        """Whether ``_recover`` redoes this record: its resource is on this backend, or
        (a cluster member) this service claimed it for a volume of the cluster.

        A record a peer claimed is the peer's (``service_id``), and one it finished is
        gone: a member coming back redoes neither.
        """
        volume = obj if worker.resource_type == 'volume' else obj.volume
        if utils.backend_of(volume.host) == self.host:
            return True
        cluster = getattr(volume, 'cluster_name', None)
        return (worker.service_id == mine and self.cluster is not None
                and cluster is not None and utils.backend_of(cluster) == self.cluster)

    @staticmethod
    def _load(ctx, resource_type, resource_id):
        if resource_type == 'attachment':
            return _PendingAttachment.load(ctx, resource_id)
        cls = objects.Volume if resource_type == 'volume' else objects.Snapshot
        try:
            return cls.get_by_id(ctx, resource_id)
        except exception.NotFound:
            return None

    def _redo(self, ctx, worker, obj):
        args = worker.args
        dispatch = {
            ('volume', 'create'): lambda: self.create_volume(
                ctx, obj, args.get('request_spec') or {}),
            ('volume', 'delete'): lambda: self.delete_volume(ctx, obj),
            ('volume', 'extend'): lambda: self.extend_volume(ctx, obj, args['new_size']),
            # Nothing to redo: the compute host ends it (os-extend_volume_completion).
            ('volume', 'extend_completion'): lambda: LOG.info(
                'Volume %s still waits for compute to complete its extend', obj.id),
            ('snapshot', 'create'): lambda: self.create_snapshot(ctx, obj),
            ('snapshot', 'delete'): lambda: self.delete_snapshot(ctx, obj),
            # -- types, qos, actions, transfers
            ('volume', 'revert'): lambda: self.revert_to_snapshot(
                ctx, obj, objects.Snapshot.get_by_id(ctx, args['snapshot_id'])),
            ('volume', 'retype'): lambda: self.retype(ctx, obj, args['new_type_id'],
                                                      args['target']),
            ('volume', 'manage'): lambda: self.manage_existing(ctx, obj, args['ref']),
            ('volume', 'unmanage'): lambda: self.unmanage_volume(ctx, obj),
            ('snapshot', 'manage'): lambda: self.manage_existing_snapshot(ctx, obj,
                                                                          args['ref']),
            ('snapshot', 'unmanage'): lambda: self.unmanage_snapshot(ctx, obj),
            # -- image data (RPC 1.6)
            ('volume', 'upload'): lambda: self.copy_volume_to_image(ctx, obj,
                                                                    args['image_meta']),
            ('volume', 'reimage'): lambda: self.reimage(ctx, obj, args['image_meta'],
                                                        args.get('reimage_reserved', False)),
            ('volume', 'migrate'): lambda: self.migration.redo_migration(ctx, obj, args),
        }
        if worker.resource_type == 'attachment':
            dispatch[('attachment', worker.operation)] = lambda: (
                self.attachments.redo_attachment(ctx, worker, obj.volume, obj.id))
        try:
            dispatch[(worker.resource_type, worker.operation)]()
        except Exception:
            LOG.exception('Redoing %s of %s failed', worker.operation, obj.id)

    # -- the common shape of every operation --------------------------------

    def _run(self, ctx, obj, operation, work, done, failed, event_id,
             target=None):
        """``target``: the state of ``done``/``failed`` events whose target is a Choice."""
        self.operations.run(ctx, obj, op_mod.Operation(operation, done, failed, event_id,
                                                       target=target), work)

    def _driver_ready(self, ctx):
        return self._ready or self._setup_driver(ctx)

    def _shared_targets(self):
        if not driver_base.supports(self.driver, driver_base.ExportOps):
            return None
        return self.driver.shared_targets

    def _require(self, interface, what):
        self.backend.require(interface, what)

    # -- volumes ------------------------------------------------------------

    def create_volume(self, context, volume, request_spec=None):
        def work():
            if volume.snapshot_id:
                self._require(driver_base.SnapshotOps, 'creating volumes from snapshots')
                snapshot = objects.Snapshot.get_by_id(context, volume.snapshot_id)
                update = self.driver.create_volume_from_snapshot(volume, snapshot)
            elif volume.source_volid:
                self._require(driver_base.CloneOps, 'cloning volumes')
                source = objects.Volume.get_by_id(context, volume.source_volid)
                update = self.driver.create_cloned_volume(volume, source)
            else:
                update = self.driver.create_volume(volume)
            update = dict(update or {})
            image_id = (request_spec or {}).get('image_id')
            if image_id:
                for key, value in update.items():   # the driver's location first
                    setattr(volume, key, value)
                update.update(self.images.fill_from_image(context, volume, image_id))
            return dict(update, launched_at=utcnow(), service_uuid=self.service.uuid,
                        shared_targets=self._shared_targets())
        backup_id = (request_spec or {}).get('backup_id')
        if backup_id:   # 3.47: an empty volume, handed to the backup service (RPC 1.8)
            self.operations.run(context, volume, self.backups.restore_create_operation(
                context, volume, backup_id), work)
            return
        self._run(context, volume, 'create', work,
                  'create_done', 'create_failed', 'CREATE_VOLUME_FROM_BACKEND')

    def delete_volume(self, context, volume):
        def work():
            self._delete_claimed_snapshots(context, volume)
            self.driver.delete_volume(volume)
        self._run(context, volume, 'delete', work,
                  'delete_done', 'delete_failed', 'DELETE_VOLUME_FROM_BACKEND')

    def _delete_claimed_snapshots(self, context, volume):
        """A cascade delete: first the snapshots the service layer claimed with the volume.

        Only a cascade claims a volume that still has snapshots, and it claimed
        them too (deleting), so the volume's work record covers them: a redo
        after a crash deletes those still left. If one cannot be deleted, the
        others still deleting are marked error_deleting too and the volume's
        delete fails (error_deleting): nothing stays deleting.
        """
        snapshots = [objects.Snapshot.get_by_id(context, sid)
                     for sid in db.live_snapshot_ids(context, volume.id)]
        left = []
        for snapshot in snapshots:
            if snapshot.status == states.DELETING and driver_base.supports(
                    self.driver, driver_base.SnapshotOps):
                self.delete_snapshot(context, snapshot)   # its own operation, as if cast
                snapshot.refresh()
            if not snapshot.deleted:
                left.append(snapshot)
        if not left:
            return
        for snapshot in left:
            if snapshot.status == states.DELETING:
                snapshot.transition('delete_failed')
        raise exception.VolumeBackendAPIException(
            data='snapshots of volume %s could not be deleted: %s' % (
                volume.id, ', '.join('%s (%s)' % (s.id, s.status) for s in left)))

    def extend_volume(self, context, volume, new_size):
        self.extend.extend_volume(context, volume, new_size)

    # -- snapshots ----------------------------------------------------------

    def create_snapshot(self, context, snapshot):
        def work():
            self._require(driver_base.SnapshotOps, 'snapshots')
            update = self.driver.create_snapshot(snapshot)
            return dict(update or {}, progress='100%')
        snapshot.volume  # load the parent before the work runs
        self._run(context, snapshot, 'create', work,
                  'create_done', 'create_failed', 'CREATE_SNAPSHOT_ON_BACKEND')

    def delete_snapshot(self, context, snapshot):
        def work():
            self._require(driver_base.SnapshotOps, 'snapshots')
            self.driver.delete_snapshot(snapshot)
        snapshot.volume
        self._run(context, snapshot, 'delete', work,
                  'delete_done', 'delete_failed', 'DELETE_SNAPSHOT_FROM_BACKEND')

    # -- types, qos, actions, transfers (RPC 1.1) ------------------------------------

    def revert_to_snapshot(self, context, volume, snapshot):
        """Revert the volume to its latest snapshot; the snapshot is available again after."""
        def work():
            self._require(driver_base.RevertOps, 'reverting volumes to snapshots')
            self.driver.revert_to_snapshot(context, volume, snapshot)
        try:
            self._run(context, volume, 'revert', work,
                      'revert_done', 'revert_failed', 'REVERT_VOLUME_TO_SNAPSHOT')
        finally:
            snapshot.transition('revert_done')

    def retype(self, context, volume, new_type_id, target):
        """Same-backend retype: the scheduler has checked the backend fits the new type."""
        def work():
            return {'volume_type_id': new_type_id}
        self._run(context, volume, 'retype', work, 'retype_done',
                  'retype_failed', 'RETYPE_VOLUME', target=target)

    def manage_existing(self, context, volume, ref):
        self.manage.manage_existing(context, volume, ref)

    def unmanage_volume(self, context, volume):
        self.manage.unmanage_volume(context, volume)

    def manage_existing_snapshot(self, context, snapshot, ref):
        self.manage.manage_existing_snapshot(context, snapshot, ref)

    def unmanage_snapshot(self, context, snapshot):
        self.manage.unmanage_snapshot(context, snapshot)

    def get_manageable_volumes(self, context):
        return self.manage.get_manageable_volumes(context)

    def get_manageable_snapshots(self, context):
        return self.manage.get_manageable_snapshots(context)

    # -- operations and quotas (RPC 1.2) -----------------------------------------------

    def do_cleanup(self, context, service_id, resource_type=None, resource_id=None):
        """Claim and redo the work a down service of this backend or cluster left."""
        from blockstore.ops import cleanup
        cleanup.take_over(self, context, service_id, resource_type, resource_id)

    # -- legacy attach actions (RPC 1.3), attachments (RPC 1.4) ----------------------

    def initialize_connection(self, context, volume, connector):
        return self.attachments.initialize_connection(context, volume, connector)

    def terminate_connection(self, context, volume, connector, force=False):
        self.attachments.terminate_connection(context, volume, connector, force)

    def attachment_update(self, context, volume, attachment_id, connector):
        return self.attachments.attachment_update(context, volume, attachment_id, connector)

    def attachment_delete(self, context, volume, attachment_id):
        self.attachments.attachment_delete(context, volume, attachment_id)

    # -- image data (RPC 1.6) ----------------------------------------------------------

    def copy_volume_to_image(self, context, volume, image_meta):
        self.images.copy_volume_to_image(context, volume, image_meta)

    def reimage(self, context, volume, image_meta, reimage_reserved=False):
        self.images.reimage(context, volume, image_meta, reimage_reserved)

    # -- migration (RPC 1.7) -----------------------------------------------------------

    def migration_local_path(self, context, volume):
        return self.migration.migration_local_path(context, volume)

    def migrate_volume(self, context, volume, dest, force_host_copy=False, new_type_id=None,
                       retype_target=None):
        self.migration.migrate_volume(context, volume, dest, force_host_copy, new_type_id,
                                      retype_target)

    # -- backups (RPC 1.8) -------------------------------------------------------------

    def backup_device(self, context, volume, backup_id, snapshot_id=None,
                      temp_snapshot=False, restore=False, connector=None):
        return self.backups.backup_device(context, volume, backup_id, snapshot_id,
                                          temp_snapshot, restore, connector=connector)

    def backup_device_release(self, context, volume, temp_snapshot_id, backup_id=None,
                              succeeded=True, restore=False, snapshot_id=None,
                              exported=False):
        self.backups.backup_device_release(context, volume, temp_snapshot_id, backup_id,
                                           succeeded, restore, snapshot_id,
                                           exported=exported)

    # -- capabilities -------------------------------------------------------

    def publish_service_capabilities(self, context):
        self.report_capabilities()

    def report_capabilities(self):
        ctx = bs_context.get_admin_context()
        if not self._driver_ready(ctx):
            return
        stats = dict(self.driver.get_volume_stats(refresh=True))
        stats.setdefault('volume_backend_name', self.backend_conf.volume_backend_name)
        stats['declared_interfaces'] = driver_base.declared_interfaces(self.driver)
        self.scheduler_rpcapi.update_service_capabilities(
            ctx, self.service_name, self.host, stats,
            cluster_name=self.service.cluster_name if self.service else None,
            timestamp=time.time())


# The work records a volume service redoes (a backup's belong to the backup service).
_OWNED = ('volume', 'snapshot', 'attachment')


class _PendingAttachment:
    """An attachment with unfinished work, as ``_recover`` needs it (status, volume)."""

    def __init__(self, row, volume):
        self.id = row.id
        self.status = row.attach_status
        self.volume = volume
        self.project_id = row.project_id

    @classmethod
    def load(cls, ctx, attachment_id):
        from blockstore.db import attachments as db_att
        try:
            row = db_att.attachment_get(ctx, attachment_id)
            return cls(row, objects.Volume.get_by_id(ctx, row.volume_id))
        except exception.NotFound:
            return None
