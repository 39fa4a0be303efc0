"""The volume manager's manage/unmanage work (``VolumeManager.manage``; RPC 1.1).

Managing brings a volume or snapshot the backend already holds under
blockstore (its row was inserted ``managing``/``creating`` by the service
layer); unmanaging forgets one without deleting its data. Each runs through
the operation skeleton. Listing what could be managed asks the driver, and
hides what blockstore already knows on this backend.
"""

from blockstore.common import operation
from blockstore.db.models import utcnow
from blockstore.volume.drivers import base as driver_base


class ManageWorker(operation.Worker):
    """Manage/unmanage on one backend (``backend``: its driver and host) through the
    manager's operation runner (``operations``)."""

    def _run(self, context, obj, name, work, done, failed, event_id):
        self.operations.run(context, obj, operation.Operation(name, done, failed, event_id),
                            work)

    def manage_existing(self, context, volume, ref):
        def work():
            self.backend.require(driver_base.ManageOps, 'managing existing volumes')
            size = self.backend.driver.manage_existing_get_size(volume, ref)
            update = self.backend.driver.manage_existing(volume, ref) or {}
            return dict(update, size=size, launched_at=utcnow())
        self._run(context, volume, 'manage', work, 'manage_done', 'manage_failed',
                  'MANAGE_EXISTING_VOLUME')

    def unmanage_volume(self, context, volume):
        def work():
            self.backend.require(driver_base.ManageOps, 'unmanaging volumes')
            self.backend.driver.unmanage(volume)
            return {'terminated_at': utcnow()}
        self._run(context, volume, 'unmanage', work, 'unmanage_done', 'unmanage_failed',
                  'UNMANAGE_VOLUME')

    def manage_existing_snapshot(self, context, snapshot, ref):
        def work():
            self.backend.require(driver_base.ManageSnapshotOps, 'managing existing snapshots')
            size = self.backend.driver.manage_existing_snapshot_get_size(snapshot, ref)
            update = self.backend.driver.manage_existing_snapshot(snapshot, ref) or {}
            return dict(update, volume_size=size, progress='100%')
        snapshot.volume   # load the parent before the work runs
        self._run(context, snapshot, 'manage', work, 'create_done', 'create_failed',
                  'MANAGE_EXISTING_SNAPSHOT')

    def unmanage_snapshot(self, context, snapshot):
        def work():
            self.backend.require(driver_base.ManageSnapshotOps, 'unmanaging snapshots')
            self.backend.driver.unmanage_snapshot(snapshot)
        snapshot.volume
        self._run(context, snapshot, 'unmanage', work, 'unmanage_done', 'unmanage_failed',
                  'UNMANAGE_SNAPSHOT')

    def _manageable(self, context, resource, list_fn):
        self.operations.ensure_ready(context)
        self.backend.require(driver_base.ManageableListOps, 'listing manageable storage')
        from blockstore.db import manageable as db_manageable
        if resource != 'volume':
            return list_fn(db_manageable.live_ids_on_backend(
                context, resource, self.backend.host, cluster=self.backend.cluster))
        # Backends know volumes by their backend names' ids (a migrated one: its _name_id).
        # A cluster's members share the backend: their volumes are known too, not manageable.
        named = db_manageable.live_name_ids_on_backend(context, self.backend.host,
                                                       cluster=self.backend.cluster)
        entries = list_fn(list(named))
        for entry in entries:
            if entry.get('cinder_id') in named:
                entry['cinder_id'] = named[entry['cinder_id']]
        return entries

    def get_manageable_volumes(self, context):
        return self._manageable(context, 'volume', self.backend.driver.get_manageable_volumes)

    def get_manageable_snapshots(self, context):
        return self._manageable(context, 'snapshot',
                                self.backend.driver.get_manageable_snapshots)
