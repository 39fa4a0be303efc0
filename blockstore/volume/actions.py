"""Volume and snapshot actions of the service layer (``volume.api.API().actions``).

os-reset_status, os-set_bootable, os-update_readonly_flag, image metadata,
os-retype, revert (3.40), snapshot os-reset_status and os-update_progress.
Each claims its resource through the transition table like every other
operation; long work (retype, revert) is recorded and cast to the volume service.
"""

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db import extends as db_extends
from blockstore.db import glance_metadata as db_glance
from blockstore.objects import states
from blockstore.volume import volume_types

LOG = logging.getLogger(__name__)


class GlanceMetadataNotFound(exception.NotFound):
    msg_fmt = 'Glance metadata for volume %(id)s with key %(key)s cannot be found.'


class VolumeActions:
    """Admin resets, flags, image metadata, retype and revert.

    ``volumes``: the core volume API (``get_snapshot``); ``scheduler_rpcapi``
    checks the volume's pool against a new type; ``migration`` moves a volume
    whose backend does not suit it (retype on-demand).
    """

    def __init__(self, volumes, volume_rpcapi, scheduler_rpcapi, migration):
        self.volumes = volumes
        self.volume_rpcapi = volume_rpcapi
        self.scheduler_rpcapi = scheduler_rpcapi
        self.migration = migration

    # -- admin: reset ------------------------------------------------------------

    def reset_status(self, ctx, volume, status=None, attach_status=None,
                     migration_status=None):
        """Set what an administrator says; forget any work in progress on the volume."""
        values = {}
        if attach_status is not None:
            values['attach_status'] = attach_status
        if migration_status is not None:
            values['migration_status'] = None if migration_status == states.MIGRATION_NONE else migration_status
        if status is not None:
            states.transition_or_raise(ctx, 'volume', volume.id, 'reset', values, target=status)
        elif values:
            states.transition_or_raise(ctx, 'volume', volume.id, 'reset_keep_status', values)
        db.worker_destroy(ctx, 'volume', volume.id)
        # An extend awaiting compute (3.71) is forgotten with its work record.
        db_extends.forget_size(ctx, volume.id)

    def reset_snapshot_status(self, ctx, snapshot, status):
        states.transition_or_raise(ctx, 'snapshot', snapshot.id, 'reset', target=status)
        db.worker_destroy(ctx, 'snapshot', snapshot.id)

    def update_snapshot_status(self, ctx, snapshot, status, progress=None):
        """os-update_snapshot_status: creating -> creating/available/error, deleting ->
        deleting/error_deleting, as a compute host that took the snapshot reports it."""
        event = {states.CREATING: 'report_creating',
                 states.DELETING: 'report_deleting'}.get(snapshot.status)
        allowed = states.SNAPSHOT.table[event].target if event else ()
        if event is None or status not in allowed:
            raise exception.InvalidSnapshot(
                reason='snapshot %s is %s: its status cannot be reported as %s'
                % (snapshot.id, snapshot.status, status))
        values = {'progress': progress} if progress else None
        project = None if ctx.is_admin else ctx.project_id
        states.transition_or_raise(ctx, 'snapshot', snapshot.id, event, values,
                                   project_id=project, target=status)
        if status not in (states.CREATING, states.DELETING):
            db.worker_destroy(ctx, 'snapshot', snapshot.id)

    def update_snapshot_progress(self, ctx, snapshot, progress):
        db.snapshot_update(ctx, snapshot.id, {'progress': progress})

    # -- flags and image metadata ------------------------------------------------

    def set_bootable(self, ctx, volume, bootable):
        volume.bootable = bool(bootable)
        volume.save()

    def update_readonly_flag(self, ctx, volume, readonly):
        project = None if ctx.is_admin else ctx.project_id

        def claim():
            return states.transition(ctx, 'volume', volume.id, 'update_readonly',
                                     project_id=project)
        if not db_glance.admin_metadata_set_if(ctx, volume.id, {'readonly': str(bool(readonly))},
                                               claim):
            states.transition_or_raise(ctx, 'volume', volume.id, 'update_readonly',
                                       project_id=project)

    def get_image_metadata(self, ctx, volume):
        return db_glance.get(ctx, volume.id)

    def get_image_metadata_many(self, ctx, volume_ids):
        return db_glance.get_many(ctx, volume_ids)

    def set_image_metadata(self, ctx, volume, metadata):
        return db_glance.update(ctx, volume.id, metadata)

    def unset_image_metadata(self, ctx, volume, key):
        if not db_glance.delete(ctx, volume.id, key):
            raise GlanceMetadataNotFound(id=volume.id, key=key)

    # reimage (3.68): see volume.images.service.

    # -- retype --------------------------------------------------------------------

    def retype(self, ctx, volume, new_type, migration_policy='never'):
        """Change the type of a volume; move it when its backend does not suit the new type.

        The scheduler checks the volume's pool against the new type. When it
        does not fit, ``migration_policy`` on-demand migrates the volume to a
        backend that does (the same path as os-migrate_volume: a detached
        volume without snapshots); never refuses with a 400.
        """
        vtype = volume_types.get_by_name_or_id(ctx, new_type)
        if vtype.id == volume.volume_type_id:
            raise exception.InvalidInput(reason='New volume_type same as original: %s.'
                                         % new_type)
        if (volume.encryption_key_id is not None) != volume_types.is_encrypted(ctx, vtype.id):
            raise exception.InvalidInput(
                reason='Retype cannot change encryption requirements: blockstore does not '
                       'encrypt or decrypt volume data while migrating.')
        if not volume.host:
            raise exception.InvalidVolume(reason='volume %s is on no backend' % volume.id)
        self.volume_rpcapi.require_actions('retype volumes')
        back = states.IN_USE if volume.attach_status == states.ATTACHED else states.AVAILABLE
        project = None if ctx.is_admin else ctx.project_id
        states.transition_or_raise(ctx, 'volume', volume.id, 'retype', project_id=project,
                                   work={'operation': 'retype',
                                         'payload': {'new_type_id': vtype.id, 'target': back}})
        try:
            spec = {'volume_id': volume.id, 'size': 0,
                    'availability_zone': volume.availability_zone,
                    'volume_type': {'id': vtype.id, 'name': vtype.name,
                                    'extra_specs': dict(vtype.extra_specs)}}
            pool = self.scheduler_rpcapi.find_backend_pool(ctx, volume.host, spec)
            if not pool:
                self._retype_by_migration(ctx, volume, vtype, spec, back, migration_policy)
                return
            volume.refresh()
            self.volume_rpcapi.retype(ctx, volume, vtype.id, back)
        except Exception:
            states.transition(ctx, 'volume', volume.id, 'retype_failed', target=back)
            db.worker_destroy(ctx, 'volume', volume.id, 'retype')
            raise

    def _retype_by_migration(self, ctx, volume, vtype, spec, back, migration_policy):
        """The volume is retyping and its backend does not suit ``vtype``: move it."""
        if migration_policy != 'on-demand':
            raise exception.InvalidInput(
                reason='volume %s cannot stay on %s with type %s: it would have to be '
                       'migrated, and the migration policy is %s (use on-demand).'
                       % (volume.id, volume.host, vtype.name, migration_policy))
        if back != states.AVAILABLE:
            raise exception.InvalidVolume(
                reason='volume %s is attached: retyping it needs a migration, and only '
                       'detached volumes can be migrated' % volume.id)
        dest = self.scheduler_rpcapi.find_backend_pool(ctx, None, dict(spec, size=volume.size))
        if not dest:
            raise exception.InvalidInput(
                reason='no backend suits volume type %s for volume %s'
                       % (vtype.name, volume.id))
        self.volume_rpcapi.require_migration()
        destination = self.migration.migration_destination(ctx, dest, None)
        from blockstore.db import services as services_db
        from blockstore.ops import services as ops_services
        for svc in services_db.service_get_all(ctx, host=utils.backend_of(dest),
                                                binary=ops_services.VOLUME_BINARY):
            destination['cluster_name'] = svc.cluster_name
        self.migration.start_migration(ctx, volume, destination, 'migrate_retype',
                                       new_type_id=vtype.id, retype_target=back)

    # -- revert (3.40) ---------------------------------------------------------------

    def revert_to_snapshot(self, ctx, volume, snapshot_id):
        """Revert a volume to its latest snapshot (as Cinder: only the latest one).

        Bad requests are 400s; a volume or snapshot in the wrong state is an
        InvalidVolume/InvalidSnapshot the handler turns into 409, as Cinder.
        """
        latest = db_glance.latest_snapshot(ctx, volume.id)
        if latest is None:
            raise exception.InvalidInput(reason="Volume %s doesn't have any snapshots."
                                         % volume.id)
        if snapshot_id != latest.id:
            raise exception.InvalidInput(
                reason='Specified snapshot %s is None or not the latest one of volume %s.'
                % (snapshot_id, volume.id))
        if volume.size != latest.volume_size:
            raise exception.InvalidInput(
                reason="Can't revert volume %s to its latest snapshot %s. The volume size must "
                       "be equal to the snapshot size." % (volume.id, latest.id))
        self.volume_rpcapi.require_actions('revert volumes')
        project = None if ctx.is_admin else ctx.project_id
        states.transition_or_raise(ctx, 'volume', volume.id, 'revert', project_id=project,
                                   work={'operation': 'revert',
                                         'payload': {'snapshot_id': latest.id}})
        try:
            # No snapshot can be taken now (the volume is reverting): the latest stays latest.
            again = db_glance.latest_snapshot(ctx, volume.id)
            if again is None or again.id != latest.id:
                raise exception.InvalidSnapshot(
                    reason='a newer snapshot of volume %s was taken meanwhile' % volume.id)
            states.transition_or_raise(ctx, 'snapshot', latest.id, 'revert')
        except Exception:
            states.transition(ctx, 'volume', volume.id, 'revert_done')
            db.worker_destroy(ctx, 'volume', volume.id, 'revert')
            raise
        try:
            volume.refresh()
            snapshot = self.volumes.get_snapshot(ctx, latest.id)
            self.volume_rpcapi.revert_to_snapshot(ctx, volume, snapshot)
        except Exception:
            states.transition(ctx, 'snapshot', latest.id, 'revert_done')
            states.transition(ctx, 'volume', volume.id, 'revert_done')
            db.worker_destroy(ctx, 'volume', volume.id, 'revert')
            raise
