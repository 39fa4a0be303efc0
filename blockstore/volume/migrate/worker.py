"""The volume manager's migrations (``VolumeManager.migration``; RPC 1.7).

The service layer has claimed the volume (``migration_status`` starting, a
``migrate`` work record) and cast to the volume's own backend, which drives
the move:

1. Driver-assisted: a driver declaring ``MigrateOps`` may move the data
   itself (LVM: another volume group of this node, told by the destination's
   ``location_info``). When it did, the volume's host becomes the destination.
2. Generic: a new volume (``migration_status`` ``target:<id>``, not counted
   in quotas) is created on the destination by its volume service; both
   backends must reach their volumes through a local path on this node
   (``LocalPathOps``), else the migration is refused with that reason. The
   bytes are copied, then in one transaction the two rows swap their backend
   objects (the volume keeps its id and takes the new one's ``_name_id``,
   host and provider fields; the new row takes the old ones) and the new row,
   now naming the source's data, is marked for deletion here.

An on-demand retype runs the same path (its volume is ``retyping``) and ends
with the new type and the volume back to available.

Crash safety: a ``migrate`` record redone while still ``starting`` runs again;
while ``migrating`` with a target volume it rolls back (the target is
deleted, the source is untouched until the swap); without one it runs again
(driver moves are re-runnable).
"""

import os
import stat
import time

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import operation
from blockstore.db import volume_migration as db_migration
from blockstore import objects
from blockstore.objects import states
from blockstore.volume.drivers import base as driver_base
from blockstore.volume.drivers import lvm_datapath

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
# How long the destination may take to create the target volume (seconds).
TARGET_CREATE_TIMEOUT = 600
_POLL = 0.2


def node_of(host):
    """The node part of 'node@backend#pool'."""
    return (host or '').partition('@')[0]


def copy_data(src, dst, length):
    """Make the first ``length`` bytes of the new volume at ``dst`` equal to ``src``'s.

    A regular file ``dst`` is a volume its backend just created, which reads
    as zeros: only ``src``'s data regions are copied, and all-zero chunks are
    left as holes, so a sparse source stays sparse. A block device is written
    whole (gaps zeroed), as it may hold old data.
    """
    regions = lvm_datapath.file_data_regions(src, 0, length)
    fresh = stat.S_ISREG(os.stat(dst).st_mode)
    lvm_datapath.copy_range(src, dst, length, data_regions=regions, dst_reads_zeros=fresh)


def _target_of(context, volume_id):
    """The target volume of ``volume_id``'s generic migration, if one is live."""
    target_id = db_migration.target_id_of(context, volume_id, states.MIGRATION_TARGET_PREFIX)
    return objects.Volume.get_by_id(context, target_id) if target_id else None


class MigrationRefused(exception.VolumeBackendAPIException):
    msg_fmt = 'Migration refused: %(data)s'


class _Migration(operation.Operation):
    """A migration on the skeleton: it follows the volume's ``migration_status``
    (``states.VOLUME_MIGRATION``), not its status. Its work applies ``migrate_done``
    itself, in the transaction that swaps the backend objects; a skipped duplicate's
    record is cleared (nobody else will)."""

    clear_on_skip = True

    def __init__(self, worker, retype_target):
        super().__init__('migrate', 'migrate_done', 'migrate_failed', 'MIGRATE_VOLUME')
        self._worker = worker
        self._retype_target = retype_target

    def state(self, obj):
        return obj.migration_status

    def expected(self, obj):
        return states.VOLUME_MIGRATION[self.done].sources

    def end(self, context, obj, event, values):
        if event == self.done:
            return True   # applied by the work (_move)
        target = _target_of(context, obj.id)
        if target is not None:
            self._worker._drop_target(context, target)
        if not states.migration_transition(context, obj.id, 'migrate_failed',
                                           status=self._retype_target):
            LOG.warning('Volume %s changed while its migration failed', obj.id)
        return True


class MigrateWorker(operation.Worker):
    """Migrations of one backend's volumes.

    ``backend``: its driver and host; ``operations``: the manager's operation
    runner; ``volume_rpcapi()``: the volume RPC client (reaching the
    destination's service); ``delete_volume(context, volume)``: the manager's
    delete, run here for the row that names the source's old data.
    """

    def __init__(self, backend, operations, volume_rpcapi, delete_volume):
        super().__init__(backend, operations)
        self._volume_rpcapi = volume_rpcapi
        self._delete_volume = delete_volume

    @property
    def driver(self):
        return self.backend.driver

    @property
    def volume_rpcapi(self):
        return self._volume_rpcapi()

    # -- RPC 1.7 ------------------------------------------------------------------

    def migration_local_path(self, context, volume):
        """The local path of ``volume`` on this backend (the destination's side of a copy)."""
        self.operations.ensure_ready(context)
        if not driver_base.supports(self.driver, driver_base.LocalPathOps):
            raise MigrationRefused(data='backend %s reaches its volumes through no local '
                                        'path' % self.backend.host)
        return self.driver.local_path(volume)

    def migrate_volume(self, context, volume, dest, force_host_copy=False, new_type_id=None,
                       retype_target=None):
        def work():
            if volume.migration_status == states.MIGRATING:
                target = _target_of(context, volume.id)
                if target is not None:
                    raise exception.VolumeBackendAPIException(
                        data='the migration was interrupted while copying to volume %s'
                             % target.id)
            elif not states.migration_transition(context, volume.id, 'migrate_copy'):
                LOG.warning('Migration of volume %s lost its claim', volume.id)
                return operation.SKIPPED
            values = self._move(context, volume, dest, force_host_copy, new_type_id,
                                retype_target)
            LOG.info('Volume %s migrated to %s', volume.id, values.get('host'))
            return values

        self.operations.run(context, volume, _Migration(self, retype_target), work)

    # -- the two paths ------------------------------------------------------------------

    def _move(self, context, volume, dest, force_host_copy, new_type_id, retype_target):
        dest_host = dest['host']
        ends = {'host': dest_host, 'cluster_name': dest.get('cluster_name')}
        if new_type_id:
            ends['volume_type_id'] = new_type_id
        if not force_host_copy and driver_base.supports(self.driver, driver_base.MigrateOps):
            moved, update = self.driver.migrate_volume(
                context, volume, {'host': dest_host,
                                  'capabilities': dict(dest.get('capabilities') or {})})
            if moved:
                values = dict(update or {}, **ends)
                if not states.migration_transition(context, volume.id, 'migrate_done', values,
                                                   status=retype_target):
                    raise exception.VolumeBackendAPIException(
                        data='volume %s changed while its backend moved it' % volume.id)
                return values
        return self._generic_move(context, volume, dest, ends, retype_target)

    def _generic_move(self, context, volume, dest, ends, retype_target):
        dest_host = dest['host']
        if node_of(dest_host) != node_of(volume.host):
            raise MigrationRefused(
                data='the generic migration copies between backends of one node, and %s is '
                     'not on node %s' % (dest_host, node_of(volume.host)))
        if not driver_base.supports(self.driver, driver_base.LocalPathOps):
            raise MigrationRefused(
                data='backend %s reaches its volumes through no local path, so its data '
                     'cannot be copied to %s' % (self.backend.host, dest_host))
        src_path = self.driver.local_path(volume)
        target = self._create_target(context, volume, dest, ends.get('volume_type_id'))
        try:
            dst_path = self.volume_rpcapi.migration_local_path(context, target)
            LOG.info('Copying volume %s from %s to %s', volume.id, src_path, dst_path)
            copy_data(src_path, dst_path, volume.size * GiB)
        except Exception:
            self._drop_target(context, target)
            raise
        values = dict(ends, _name_id=target.name_id, provider_location=target.provider_location,
                      provider_auth=target.provider_auth, provider_id=target.provider_id,
                      service_uuid=target.service_uuid, shared_targets=target.shared_targets)
        old = {'host': volume.host, 'cluster_name': volume.cluster_name,
               '_name_id': volume.name_id, 'provider_location': volume.provider_location,
               'provider_auth': volume.provider_auth, 'provider_id': volume.provider_id,
               'service_uuid': volume.service_uuid}
        if not self._swap(context, volume.id, target.id, values, old, retype_target):
            self._drop_target(context, target)
            raise exception.VolumeBackendAPIException(
                data='volume %s changed while it was copied' % volume.id)
        # The target row now names the source's data, on this backend: delete it here.
        self._delete_volume(context, objects.Volume.get_by_id(context, target.id))
        return values

    def _create_target(self, context, volume, dest, new_type_id):
        target = objects.Volume(
            context, project_id=volume.project_id, user_id=volume.user_id,
            host=dest['host'], cluster_name=dest.get('cluster_name'),
            availability_zone=volume.availability_zone, size=volume.size,
            attach_status=states.DETACHED,
            migration_status=states.MIGRATION_TARGET_PREFIX + volume.id,
            display_name=volume.display_name, display_description=volume.display_description,
            volume_type_id=new_type_id or volume.volume_type_id, bootable=volume.bootable,
            multiattach=volume.multiattach, use_quota=False, metadata={}, admin_metadata={})
        target.create(work={'operation': 'create', 'payload': {}})
        LOG.info('Migration of volume %s: creating volume %s on %s', volume.id, target.id,
                 dest['host'])
        try:
            self.volume_rpcapi.create_volume(context, target, {})
            deadline = time.monotonic() + TARGET_CREATE_TIMEOUT
            while True:
                target.refresh()
                if target.status == states.AVAILABLE:
                    return target
                if target.status != states.CREATING or target.deleted:
                    raise exception.VolumeBackendAPIException(
                        data='the destination %s could not create volume %s (status %s)'
                             % (dest['host'], target.id, target.status))
                if time.monotonic() > deadline:
                    raise exception.VolumeBackendAPIException(
                        data='the destination %s did not create volume %s within %d s'
                             % (dest['host'], target.id, TARGET_CREATE_TIMEOUT))
                time.sleep(_POLL)
        except Exception:
            self._drop_target(context, target)
            raise

    def _drop_target(self, context, target):
        """Delete the target volume of a failed migration on its backend."""
        try:
            if self._release_target(context, target.id):
                target.refresh()
                self.volume_rpcapi.delete_volume(context, target)
        except Exception:
            LOG.exception('Could not delete the target volume %s of a failed migration',
                          target.id)

    @staticmethod
    def _swap(context, volume_id, target_id, values, old, retype_target):
        """Give the volume the target's backend object and the target the volume's, and
        mark the target for deletion -- one transaction; True if the volume was still
        migrating."""
        def then(session):
            return states.transition_in(session, 'volume', target_id, 'force_delete',
                                        dict(old, migration_status=None),
                                        work={'operation': 'delete', 'payload': {}})
        return states.migration_transition(context, volume_id, 'migrate_done', values,
                                           status=retype_target, then=then)

    @staticmethod
    def _release_target(context, target_id):
        """Unmark a target volume and claim its deletion (one transition); True if claimed."""
        return states.transition(context, 'volume', target_id, 'force_delete',
                                 {'migration_status': None},
                                 work={'operation': 'delete', 'payload': {},
                                       'status': states.DELETING})

    # -- recovery ------------------------------------------------------------------------

    def redo_migration(self, context, volume, args):
        self.migrate_volume(context, volume, args['dest'], args.get('force_host_copy', False),
                            args.get('new_type_id'), args.get('retype_target'))
