"""Managing existing backend storage as volumes and snapshots, and releasing it (3.8).

``volume.api.API().manage``. A managed volume is inserted in 'managing'
(shown as 'creating') on the backend the administrator names, after the
scheduler confirmed that backend suits the volume type; the volume service
adopts the storage and the volume becomes available (or 'error_managing').
"""

from oslo_utils import uuidutils

from blockstore.common import exception
from blockstore.common import quota
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db import manageable as db_manageable
from blockstore import objects
from blockstore.objects import states
from blockstore.volume import volume_types

VOLUME_BINARY = 'blockstore-volume'
SORT_KEYS = ('reference', 'size')


def _sort_and_page(entries, marker=None, limit=None, offset=None, sort_keys=None,
                   sort_dirs=None):
    """Cinder's paging of manageable listings: sort by reference or size, then page."""
    keys = list(sort_keys or ['reference'])
    dirs = list(sort_dirs or ['desc'] * len(keys))
    for key in keys:
        if key not in SORT_KEYS:
            raise exception.InvalidInput(reason='Invalid sort key %s: use reference or size'
                                         % key)
    for key, direction in reversed(list(zip(keys, dirs))):
        if key == 'reference':
            getter = lambda e: str(sorted((e.get('reference') or {}).items()))  # noqa: E731
        else:
            getter = lambda e: e.get('size') or 0  # noqa: E731
        entries = sorted(entries, key=getter, reverse=(direction == 'desc'))
    if marker is not None:
        refs = [str(sorted((e.get('reference') or {}).items())) for e in entries]
        wanted = str(sorted(marker.items())) if isinstance(marker, dict) else None
        if wanted is None:
            for i, e in enumerate(entries):
                if marker in (e.get('reference') or {}).values():
                    wanted = refs[i]
                    break
        if wanted not in refs:
            raise exception.MarkerNotFound(marker=marker)
        entries = entries[refs.index(wanted) + 1:]
    if offset:
        entries = entries[offset:]
    if limit is not None:
        entries = entries[:limit]
    return entries


class ManageService:
    """Adopting and releasing backend storage.

    ``volumes``: the core volume API (``get``); ``scheduler_rpcapi`` checks
    that a backend suits a type; ``volume_rpcapi`` reaches the backend.
    """

    def __init__(self, volumes, volume_rpcapi, scheduler_rpcapi):
        self.volumes = volumes
        self.volume_rpcapi = volume_rpcapi
        self.scheduler_rpcapi = scheduler_rpcapi

    def _volume_service(self, ctx, host):
        backend = utils.backend_of(host)
        try:
            svc = objects.Service.get_by_args(ctx, backend, VOLUME_BINARY)
        except exception.NotFound:
            raise exception.InvalidInput(reason="Host '%s' not found" % host)
        from oslo_config import cfg
        if svc.disabled or not svc.is_up(cfg.CONF.service_down_time):
            raise exception.InvalidInput(reason='volume service %s is not up' % backend)
        return svc

    def _check_not_managed(self, ctx, ref):
        name = ref.get('source-name') if isinstance(ref, dict) else None
        if isinstance(name, str):
            found = db_manageable.find_live_by_backend_name(ctx, name)
            if found:
                raise exception.InvalidInput(reason='%s is already managed as %s %s'
                                             % (name, found[0], found[1]))

    # -- volumes ---------------------------------------------------------------------

    def manage_existing(self, ctx, host, ref, name=None, description=None, volume_type=None,
                        availability_zone=None, metadata=None, bootable=False, cluster=None):
        if cluster:
            raise exception.InvalidInput(reason='managing by cluster is not supported yet')
        svc = self._volume_service(ctx, host)
        self._check_not_managed(ctx, ref)
        vtype = (volume_types.get_by_name_or_id(ctx, volume_type) if volume_type
                 else volume_types.get_default(ctx))
        az = availability_zone or svc.availability_zone
        self.volume_rpcapi.require_actions('manage volumes')
        spec = {'size': 0, 'availability_zone': az,
                'volume_type': {'id': vtype.id, 'name': vtype.name,
                                'extra_specs': dict(vtype.extra_specs)}}
        pool = self.scheduler_rpcapi.find_backend_pool(ctx, host, spec)
        if not pool:
            raise exception.InvalidInput(
                reason='backend %s does not suit volume type %s (or availability zone %s)'
                % (host, vtype.name, az))
        volume = objects.Volume(
            ctx, id=db.new_uuid(), project_id=ctx.project_id, user_id=ctx.user_id, size=0,
            display_name=name, display_description=description, volume_type_id=vtype.id,
            availability_zone=az, host=pool, metadata=metadata or {},
            bootable=bool(bootable), multiattach=False, attach_status=states.DETACHED,
            use_quota=True, deleted=False, service_uuid=svc.uuid, status=states.MANAGING)
        volume.create(work={'operation': 'manage', 'payload': {'ref': ref}})
        quota.verify_create(ctx, 'volume', volume)   # removes the row, 413 if over
        try:
            self.volume_rpcapi.manage_existing(ctx, volume, ref)
        except Exception:
            db.hard_delete(ctx, 'volume', volume.id)
            raise
        return volume

    def _claim_unmanage(self, ctx, obj, what):
        """Claim a volume or snapshot for unmanaging (its work record); refresh it."""
        self.volume_rpcapi.require_actions(what)
        states.transition_or_raise(ctx, obj._resource, obj.id, 'unmanage',
                                   work={'operation': 'unmanage'})
        obj.refresh()

    def unmanage(self, ctx, volume):
        """Forget a volume, keeping its data on the backend."""
        self._claim_unmanage(ctx, volume, 'unmanage volumes')
        if not volume.host:
            db.worker_destroy(ctx, 'volume', volume.id)
            states.transition(ctx, 'volume', volume.id, 'unmanage_done')
            return
        self.volume_rpcapi.unmanage_volume(ctx, volume)

    def get_manageable_volumes(self, ctx, host, **paging):
        self._volume_service(ctx, host)
        entries = self.volume_rpcapi.get_manageable_volumes(ctx, host)
        return _sort_and_page(entries, **paging)

    # -- snapshots -------------------------------------------------------------------------

    def manage_existing_snapshot(self, ctx, volume_id, ref, name=None, description=None,
                                 metadata=None):
        if not uuidutils.is_uuid_like(volume_id):
            raise exception.VolumeNotFound(volume_id=volume_id)
        volume = self.volumes.get(ctx, volume_id)
        if not volume.host:
            raise exception.InvalidVolume(reason='volume %s is on no backend' % volume.id)
        self._volume_service(ctx, volume.host)
        self._check_not_managed(ctx, ref)
        self.volume_rpcapi.require_actions('manage snapshots')
        snapshot = objects.Snapshot(
            ctx, volume_id=volume.id, project_id=volume.project_id, user_id=ctx.user_id,
            volume_size=volume.size, display_name=name, display_description=description,
            volume_type_id=volume.volume_type_id, metadata=metadata or {}, progress='0%',
            use_quota=True, deleted=False, status=states.SNAPSHOT.initial)
        snapshot.create(work={'operation': 'manage', 'payload': {'ref': ref}})
        quota.verify_create(ctx, 'snapshot', snapshot)
        if not states.transition(ctx, 'volume', volume.id, 'use_as_source'):
            db.hard_delete(ctx, 'snapshot', snapshot.id)
            states.transition_or_raise(ctx, 'volume', volume.id, 'use_as_source')
        try:
            self.volume_rpcapi.manage_existing_snapshot(ctx, snapshot, ref, volume)
        except Exception:
            db.hard_delete(ctx, 'snapshot', snapshot.id)
            raise
        return snapshot

    def unmanage_snapshot(self, ctx, snapshot):
        self._claim_unmanage(ctx, snapshot, 'unmanage snapshots')
        volume = objects.Volume.get_by_id(ctx, snapshot.volume_id, read_deleted=True)
        self.volume_rpcapi.unmanage_snapshot(ctx, snapshot, volume)

    def get_manageable_snapshots(self, ctx, host, **paging):
        self._volume_service(ctx, host)
        entries = self.volume_rpcapi.get_manageable_snapshots(ctx, host)
        return _sort_and_page(entries, **paging)
