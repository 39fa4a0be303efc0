"""Volume service layer: decides whether an operation may start, claims it, casts it.

Handlers call this module; it is the only place that checks preconditions.
Each operation claims the resource with one conditional update (through the
transition table), records a work row, then casts to the scheduler or the
volume service. Nothing here waits for the backend.
"""

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import idempotency
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states
from blockstore.scheduler import rpcapi as scheduler_rpcapi_mod
from blockstore.volume import actions
from blockstore.volume.attach import service as attach_service
from blockstore.volume.extend import service as extend_service
from blockstore.volume.images import service as image_service
from blockstore.volume.manage import service as manage_service
from blockstore.volume.migrate import service as migrate_service
from blockstore.volume import rpcapi as volume_rpcapi_mod
from blockstore.volume import volume_types

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

objects.register_all()


def _scope(ctx, all_tenants=False):
    """project_id filter for a query: admins may look across projects."""
    if ctx.is_admin and all_tenants:
        return None
    if ctx.is_admin and ctx.project_id is None:
        return None
    return ctx.project_id



def _set_fields(obj, values, allowed):
    """Write the user-editable ``values`` (only ``allowed`` names) to ``obj``."""
    bad = set(values) - set(allowed)
    if bad:
        raise exception.InvalidInput(reason='cannot update %s' % ', '.join(sorted(bad)))
    for key, value in values.items():
        setattr(obj, key, value)
    obj.save()
    return obj


def _metadata_deleted(found, key):
    if not found:
        raise exception.NotFound('Metadata item %s was not found.' % key)


class API:
    """Core volume and snapshot CRUD; every other concept is a collaborator attribute.

    Handlers reach a concept by name: ``api.attachments`` (attach flow, legacy
    connections, reclaim), ``api.actions`` (resets, flags, image metadata,
    retype, revert), ``api.manage``, ``api.migration``, ``api.extend``,
    ``api.images``. Each collaborator is handed what it uses in its
    constructor; ``volumes`` is this object (for ``get``/``get_snapshot``).
    The RPC clients are fixed at construction (tests hand in fakes).
    """

    def __init__(self, volume_rpcapi=None, scheduler_rpcapi=None):
        self.volume_rpcapi = (volume_rpcapi if volume_rpcapi is not None
                              else volume_rpcapi_mod.VolumeAPI())
        self.scheduler_rpcapi = (scheduler_rpcapi if scheduler_rpcapi is not None
                                 else scheduler_rpcapi_mod.SchedulerAPI())
        self.attachments = attach_service.AttachmentService(self, self.volume_rpcapi)
        self.migration = migrate_service.MigrationService(
            self.volume_rpcapi, self.scheduler_rpcapi, self.attachments)
        self.actions = actions.VolumeActions(self, self.volume_rpcapi, self.scheduler_rpcapi,
                                             self.migration)
        self.manage = manage_service.ManageService(self, self.volume_rpcapi,
                                                   self.scheduler_rpcapi)
        self.extend = extend_service.ExtendService(self.volume_rpcapi)
        self.images = image_service.ImageService(self.volume_rpcapi)

    # -- reads --------------------------------------------------------------

    def get(self, ctx, volume_id):
        """A volume of ctx's project (any project for admins); 404 otherwise."""
        project = None if ctx.is_admin else ctx.project_id
        return objects.Volume.get_by_id(ctx, volume_id, project_id=project)

    def get_all(self, ctx, filters=None, marker=None, limit=None, sort_keys=None,
                sort_dirs=None, offset=None, all_tenants=False, image_metadata=False):
        """Read-only records (db.api.Record: columns, metadata, volume_type) to render.

        Lists skip the object layer: building thousands of versioned objects
        only to render them costs more than the query. ``image_metadata``: the
        records also carry their image metadata (detail listings show it).
        """
        filters = self._own_filters(ctx, filters)
        project = _scope(ctx, all_tenants)
        return db.volume_get_all(ctx, filters=filters, marker=marker, limit=limit,
                                 sort_keys=sort_keys, sort_dirs=sort_dirs,
                                 project_id=project, offset=offset,
                                 image_metadata=image_metadata)

    def count(self, ctx, filters=None, all_tenants=False):
        """(count, total GiB) of the volumes a listing with ``filters`` would show."""
        return db.count(ctx, 'volume', filters=self._own_filters(ctx, filters),
                        project_id=_scope(ctx, all_tenants))

    @staticmethod
    def _own_filters(ctx, filters):
        filters = dict(filters or {})
        if 'project_id' in filters and not ctx.is_admin:
            filters.pop('project_id')
        return filters

    # -- create -------------------------------------------------------------

    @idempotency.idempotent('volume', load=lambda api, ctx, volume_id: api.get(ctx, volume_id))
    def create(self, ctx, size, name=None, description=None, volume_type=None,
               snapshot_id=None, source_volid=None, metadata=None, availability_zone=None,
               multiattach=False, bootable=False, image_id=None, backup_id=None):
        """Validate, insert the volume in 'creating', then cast to the scheduler.

        ``size`` may be None when it can be taken from the snapshot, source or backup.
        ``backup_id`` (3.47, and a restore to a new volume): the volume is made
        empty by the volume service, which hands it to the backup service to
        restore into (``request_spec['backup_id']``); the backup is claimed
        with its 'restore' event here, so it cannot be deleted meanwhile.
        ``idempotency=`` (a common.idempotency.Request): a repeated key answers
        with the volume it made (see common/idempotency.py).
        A snapshot or source volume is proved usable *after* the insert (a
        guarded no-op update), so it cannot be deleted between check and use.
        """
        snapshot = source = None
        if snapshot_id and source_volid:
            raise exception.InvalidInput(reason='snapshot_id and source_volid are exclusive')
        if image_id and (snapshot_id or source_volid):
            raise exception.InvalidInput(
                reason='imageRef cannot be combined with snapshot_id or source_volid')
        if backup_id and (snapshot_id or source_volid or image_id):
            raise exception.InvalidInput(
                reason='backup_id cannot be combined with snapshot_id, source_volid or imageRef')
        if image_id:
            self.volume_rpcapi.require_images('create volumes from images')
            _image, size = image_service.image_for_create(ctx, image_id, size)
        if snapshot_id:
            snapshot = self.get_snapshot(ctx, snapshot_id)
            size = size if size is not None else snapshot.volume_size
            if size < snapshot.volume_size:
                raise exception.InvalidInput(
                    reason='Volume size %sGB cannot be smaller than the snapshot size %sGB. '
                           'They must be >= original snapshot size.' % (size, snapshot.volume_size))
        if source_volid:
            source = self.get(ctx, source_volid)
            size = size if size is not None else source.size
            if size < source.size:
                raise exception.InvalidInput(
                    reason='Volume size %sGB cannot be smaller than original volume size %sGB. '
                           'They must be >= original volume size.' % (size, source.size))
        backup = None
        if backup_id:
            # An older volume service would leave the volume creating, the backup restoring.
            self.volume_rpcapi.require_backups('create volumes from backups')
            backup = self._backup_for_create(ctx, backup_id)
        if backup is not None:
            size = size if size is not None else backup.size
            if size < backup.size:
                raise exception.InvalidInput(
                    reason='Volume size %sGB cannot be smaller than the backup size %sGB. '
                           'It must be >= backup size.' % (size, backup.size))
        if size is None:
            raise exception.InvalidInput(reason='Volume size is required')
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise exception.InvalidInput(
                reason="Volume size '%s' must be an integer and greater than 0" % size)
        if size > CONF.max_volume_size:
            raise exception.VolumeSizeExceedsLimit(size=size, limit=CONF.max_volume_size)

        if volume_type is not None:
            vtype = volume_types.get_by_name_or_id(ctx, volume_type)
        elif snapshot is not None:
            vtype = volume_types.get(ctx, snapshot.volume_type_id)
        elif source is not None:
            vtype = volume_types.get(ctx, source.volume_type_id)
        else:
            vtype = volume_types.get_default(ctx)
        for origin, what in ((snapshot, 'snapshot'), (source, 'source volume')):
            if origin is not None and origin.volume_type_id != vtype.id:
                raise exception.InvalidInput(
                    reason='Invalid volume_type provided: %s (must match the %s type)'
                           % (volume_type, what))
        az = (availability_zone or (source.availability_zone if source else None)
              or CONF.default_availability_zone or CONF.storage_availability_zone)
        spec_multiattach = (vtype.extra_specs.get('multiattach') or '').lower() == '<is> true'
        # -- types, qos, actions, transfers: an encrypted type's volumes get a key id
        # (there is no key manager yet: the id names the key one would hold).
        encryption_key_id = db.new_uuid() if volume_types.is_encrypted(ctx, vtype.id) else None
        if multiattach and not spec_multiattach:
            raise exception.InvalidInput(
                reason='multiattach is enabled by a volume type with multiattach="<is> True"')

        volume_id = db.new_uuid()
        request_spec = {
            'volume_id': volume_id, 'size': size, 'availability_zone': az,
            'volume_type': {'id': vtype.id, 'name': vtype.name,
                            'extra_specs': dict(vtype.extra_specs)},
            'snapshot_id': snapshot_id, 'source_volid': source_volid,
            # Clones and volumes from snapshots stay on their origin's backend.
            'source_host': (source.host if source else
                            snapshot.volume.host if snapshot else None),
            'multiattach': spec_multiattach,
            'image_id': image_id,
            'backup_id': backup_id,
        }
        volume = objects.Volume(
            ctx, id=volume_id, project_id=ctx.project_id, user_id=ctx.user_id, size=size,
            display_name=name, display_description=description, volume_type_id=vtype.id,
            availability_zone=az, snapshot_id=snapshot_id, source_volid=source_volid,
            metadata=metadata or {}, bootable=bool(bootable) or bool(source and source.bootable),
            multiattach=spec_multiattach, attach_status=states.DETACHED, use_quota=True,
            encryption_key_id=encryption_key_id,
            deleted=False, status=states.VOLUME.initial)
        volume.create(work={'operation': 'create',
                            'payload': {'request_spec': request_spec}})
        quota.verify_create(ctx, 'volume', volume)   # removes the row and raises 413 if over
        if not db.volume_type_is_live(ctx, vtype.id):   # not deleted while we inserted
            db.hard_delete(ctx, 'volume', volume.id)
            raise exception.VolumeTypeNotFound(volume_type_id=vtype.id)

        for origin, kind, event in ((snapshot, 'snapshot', 'use_as_source'),
                                    (source, 'volume', 'use_as_source'),
                                    (backup, 'backup', 'restore')):
            if origin is not None and not states.transition(ctx, kind, origin.id, event):
                db.hard_delete(ctx, 'volume', volume.id)
                states.transition_or_raise(ctx, kind, origin.id, event)
        if backup is not None:
            backup.restore_volume_id = volume.id
            backup.save()

        self.scheduler_rpcapi.create_volume(ctx, volume, request_spec)
        return volume

    @staticmethod
    def _backup_for_create(ctx, backup_id):
        """The backup a volume is created from: the caller's (any for admins), available.

        The status read here only gives Cinder's early 400; the claim after
        the insert ('restore' event) is what decides.
        """
        project = None if ctx.is_admin else ctx.project_id
        backup = objects.Backup.get_by_id(ctx, backup_id, project_id=project)
        if backup.status != states.AVAILABLE:
            raise exception.InvalidBackup(
                reason="Originating backup status must be one of '%s' values"
                       % states.AVAILABLE)
        return backup

    # -- update -------------------------------------------------------------

    def update(self, ctx, volume, values):
        """Change name, description or bootable; not status."""
        return _set_fields(volume, values, ('display_name', 'display_description', 'bootable'))

    def update_metadata(self, ctx, volume, metadata, delete=False):
        return db.volume_metadata_update(ctx, volume.id, metadata, delete=delete)

    def delete_metadata(self, ctx, volume, key):
        _metadata_deleted(db.volume_metadata_delete(ctx, volume.id, key), key)

    # -- delete -------------------------------------------------------------

    def delete(self, ctx, volume, force=False, cascade=False):
        """Claim the volume for deletion (one conditional update), then cast.

        ``cascade``: its snapshots are claimed in the same transaction (each
        must be deletable, and a non-admin's own), and the volume manager
        deletes them before the volume. A volume the scheduler never placed
        (no host) is finished here.
        """
        event = 'force_delete' if force else 'delete'
        project = None if ctx.is_admin else ctx.project_id
        values, work = {'terminated_at': utcnow()}, {'operation': 'delete'}
        if cascade:
            states.transition_cascade(ctx, volume.id, event + '_cascade', values,
                                      project_id=project, work=work,
                                      snapshot_project_id=project)
        else:
            states.transition_or_raise(ctx, 'volume', volume.id, event, values,
                                       project_id=project, work=work)
        volume.refresh()
        if not volume.host:
            db.worker_destroy(ctx, 'volume', volume.id)
            for snapshot_id in db.live_snapshot_ids(ctx, volume.id):   # a cascade's
                states.transition(ctx, 'snapshot', snapshot_id, 'delete_done')
            states.transition(ctx, 'volume', volume.id, 'delete_done')
            return
        self.volume_rpcapi.delete_volume(ctx, volume)

    # -- snapshots ----------------------------------------------------------

    def get_snapshot(self, ctx, snapshot_id):
        project = None if ctx.is_admin else ctx.project_id
        return objects.Snapshot.get_by_id(ctx, snapshot_id, project_id=project)

    def get_all_snapshots(self, ctx, filters=None, marker=None, limit=None, sort_keys=None,
                          sort_dirs=None, offset=None, all_tenants=False):
        filters = self._own_filters(ctx, filters)
        return db.snapshot_get_all(ctx, filters=filters, marker=marker, limit=limit,
                                   sort_keys=sort_keys, sort_dirs=sort_dirs,
                                   project_id=_scope(ctx, all_tenants), offset=offset)

    @idempotency.idempotent('snapshot',
                            load=lambda api, ctx, snapshot_id: api.get_snapshot(ctx, snapshot_id))
    def create_snapshot(self, ctx, volume, name=None, description=None, force=False,
                        metadata=None):
        """Insert the snapshot, then prove the volume usable (insert-then-verify).

        If the volume was claimed for deletion meanwhile the snapshot row is
        removed again and the user gets the reason.
        """
        if volume.status == states.IN_USE and not force:
            raise exception.InvalidVolume(
                reason='volume is in-use; pass force=True to snapshot it')
        if volume.status not in (states.AVAILABLE, states.IN_USE):
            raise exception.InvalidVolume(
                reason='status must be available or in-use, but is %s' % volume.status)
        snapshot = objects.Snapshot(
            ctx, volume_id=volume.id, project_id=volume.project_id, user_id=ctx.user_id,
            volume_size=volume.size, display_name=name, display_description=description,
            volume_type_id=volume.volume_type_id, metadata=metadata or {}, progress='0%',
            use_quota=True, deleted=False, status=states.SNAPSHOT.initial)
        snapshot.create(work={'operation': 'create'})
        quota.verify_create(ctx, 'snapshot', snapshot)   # removes the row, 413 if over
        if not states.transition(ctx, 'volume', volume.id, 'use_as_source'):
            db.hard_delete(ctx, 'snapshot', snapshot.id)
            states.transition_or_raise(ctx, 'volume', volume.id, 'use_as_source')
        self.volume_rpcapi.create_snapshot(ctx, volume, snapshot)
        return snapshot

    def update_snapshot(self, ctx, snapshot, values):
        return _set_fields(snapshot, values, ('display_name', 'display_description'))

    def update_snapshot_metadata(self, ctx, snapshot, metadata, delete=False):
        return db.snapshot_metadata_update(ctx, snapshot.id, metadata, delete=delete)

    def delete_snapshot_metadata(self, ctx, snapshot, key):
        _metadata_deleted(db.snapshot_metadata_delete(ctx, snapshot.id, key), key)

    def count_snapshots(self, ctx, filters=None, all_tenants=False):
        return db.count(ctx, 'snapshot', filters=self._own_filters(ctx, filters),
                        project_id=_scope(ctx, all_tenants))

    def delete_snapshot(self, ctx, snapshot, force=False):
        event = 'force_delete' if force else 'delete'
        project = None if ctx.is_admin else ctx.project_id
        states.transition_or_raise(ctx, 'snapshot', snapshot.id, event, project_id=project,
                                   work={'operation': 'delete'})
        snapshot.refresh()
        volume = objects.Volume.get_by_id(ctx, snapshot.volume_id, read_deleted=True)
        self.volume_rpcapi.delete_snapshot(ctx, volume, snapshot)
