"""Volume migration (os-migrate_volume): the service layer's part.

Validates the volume and the destination (another backend, or cluster, with a
volume service that is up and enabled), claims the volume through the
migration transitions (``migration_status`` starting, a ``migrate`` work
record) and casts to the volume's own backend (RPC 1.7), which moves the data
(``volume.migrate.worker``). Reached as ``volume.api.API().migration``; retype
uses it to move a volume its backend cannot keep. Only detached volumes move:
an in-use volume is a 400 (moving it needs compute's swap-volume, which
blockstore does not drive).
"""

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db import services as services_db
from blockstore.objects import states
from blockstore.ops import services as ops_services

LOG = logging.getLogger(__name__)


class InvalidHost(exception.Invalid):
    msg_fmt = 'Invalid host: %(reason)s'


class MigrationService:
    """Starting migrations, and Nova's swap-volume completion.

    ``scheduler_rpcapi`` names pools and their capabilities; ``volume_rpcapi``
    casts the move; ``attachments`` (the attach flow) moves legacy
    attachments on a swap.
    """

    def __init__(self, volume_rpcapi, scheduler_rpcapi, attachments):
        self.volume_rpcapi = volume_rpcapi
        self.scheduler_rpcapi = scheduler_rpcapi
        self.attachments = attachments

    def migrate_volume(self, ctx, volume, host=None, cluster=None, force_host_copy=False,
                       lock_volume=False):
        if bool(host) == bool(cluster):
            raise exception.InvalidInput(reason='Exactly one of host and cluster must be '
                                                'given.')
        if volume.status == states.IN_USE or volume.attach_status == states.ATTACHED:
            raise exception.InvalidVolume(
                reason='volume %s is attached: only detached volumes can be migrated '
                       '(moving an attached one needs the compute service\'s swap-volume, '
                       'which blockstore does not drive)' % volume.id)
        reasons = []
        if volume.status != states.AVAILABLE:
            reasons.append('status must be %s or %s, but is %s'
                           % (states.AVAILABLE, states.IN_USE, volume.status))
        reasons.extend(db.unmet_guards(ctx, 'volume', volume.id,
                                       ['no_snapshots', 'not_migrating']))
        if reasons:
            raise exception.InvalidVolume(reason='volume %s cannot be migrated: %s'
                                          % (volume.id, '; '.join(reasons)))
        if host:
            dest = utils.backend_of(host)
            if dest == utils.backend_of(volume.host):
                raise InvalidHost(reason='destination host %s must be different than the '
                                         'current host %s' % (host, utils.backend_of(volume.host)))
            found = services_db.service_get_all(ctx, host=dest,
                                                binary=ops_services.VOLUME_BINARY)
            where = 'host %s' % host
        else:
            if cluster == volume.cluster_name:
                raise InvalidHost(reason='destination cluster %s must be different than the '
                                         'current cluster' % cluster)
            found = services_db.service_get_all(ctx, cluster_name=cluster,
                                                binary=ops_services.VOLUME_BINARY)
            where = 'cluster %s' % cluster
        live = [s for s in found if ops_services.is_up(s) and not s.disabled]
        if not live:
            raise InvalidHost(reason='no volume service of %s is up and enabled' % where)
        service = sorted(live, key=lambda s: s.host)[0]
        if utils.backend_of(service.host) == utils.backend_of(volume.host):
            raise InvalidHost(reason='cluster %s serves the volume\'s own backend %s'
                                     % (cluster, service.host))
        wanted = host if host and '#' in host else service.host
        destination = self.migration_destination(ctx, wanted, service.cluster_name)
        self.volume_rpcapi.require_migration()
        self.start_migration(ctx, volume, destination, 'migrate', force_host_copy)

    def migration_destination(self, ctx, wanted, cluster_name):
        """{'host', 'cluster_name', 'capabilities'} of 'backend[#pool]' ``wanted``.

        The pool and its capabilities (``location_info``, for driver-assisted
        moves) come from the scheduler; a backend it has no report of yet is
        taken without a pool part.
        """
        backend = utils.backend_of(wanted)
        pool = wanted.partition('#')[2]
        try:
            pools = self.scheduler_rpcapi.get_pools(ctx) or []
        except Exception:
            LOG.exception('Could not ask the scheduler for the pools of %s', backend)
            pools = []
        for p in pools:
            name = p.get('name') or ''
            if utils.backend_of(name) == backend and (not pool or name.partition('#')[2] == pool):
                return {'host': name, 'cluster_name': cluster_name,
                        'capabilities': dict(p.get('capabilities') or {})}
        return {'host': wanted, 'cluster_name': cluster_name, 'capabilities': {}}

    def start_migration(self, ctx, volume, destination, event, force_host_copy=False,
                        new_type_id=None, retype_target=None):
        """Claim the volume (``event``: migrate or migrate_retype) and cast the move."""
        payload = {'dest': destination, 'force_host_copy': bool(force_host_copy),
                   'new_type_id': new_type_id, 'retype_target': retype_target}
        status = states.AVAILABLE if event == 'migrate' else states.RETYPING
        if not states.migration_transition(ctx, volume.id, event,
                                           work={'operation': 'migrate', 'status': status,
                                                 'payload': payload}):
            raise exception.InvalidVolume(
                reason='volume %s cannot be migrated: %s'
                       % (volume.id, '; '.join(states.migration_explain(ctx, volume.id,
                                                                         event))))
        try:
            volume.refresh()
            self.volume_rpcapi.migrate_volume(ctx, volume, destination, bool(force_host_copy),
                                              new_type_id, retype_target)
        except Exception:
            states.migration_transition(ctx, volume.id, 'migrate_abort')
            db.worker_destroy(ctx, 'volume', volume.id, 'migrate')
            raise
        LOG.info('Migrating volume %s to %s', volume.id, destination['host'])

    def migrate_volume_completion(self, ctx, volume, new_volume, error=False):
        """Nova's swap-volume is done: the id the instance keeps (``save_volume_id``).

        blockstore's own migrations end in the volume service, so a volume
        mid-migration is refused. For Nova's swap of an attached volume (no
        migration on either side), attachments made the legacy way move to
        the new volume as os-detach / os-attach would move them, completing
        the new volume's pending legacy reservation; attachments of the
        attachments API are Nova's to complete and delete (it does so after
        this call), so nothing changes for them.
        """
        migrating = db.unmet_guards(ctx, 'volume', volume.id, ['not_migrating']) or \
            db.unmet_guards(ctx, 'volume', new_volume.id, ['not_migrating'])
        if migrating:
            raise exception.InvalidVolume(
                reason='volume %s: its volume service completes migrations itself; '
                       'os-migrate_volume_completion only ends a swap-volume' % volume.id)
        if volume.id == new_volume.id:
            raise exception.InvalidInput(reason='new_volume must differ from the volume')
        if not error:
            self._move_legacy_attachments(ctx, volume, new_volume)
        return new_volume.id

    def _move_legacy_attachments(self, ctx, volume, new_volume):
        from blockstore.db import attachments as db_att
        pending = [a for a in db_att.live_attachments(ctx, new_volume.id)
                   if a.attach_status == states.ATTACHING and a.instance_uuid is None]
        if not pending:
            return   # not a legacy swap: Nova completes the new attachment itself
        for a in db_att.live_attachments(ctx, volume.id):
            if a.attach_status != states.ATTACHED:
                continue
            self.attachments.detach(ctx, volume, a.id)
            self.attachments.attach(ctx, new_volume, instance_uuid=a.instance_uuid,
                                    host_name=None if a.instance_uuid else a.attached_host,
                                    mountpoint=a.mountpoint, mode=a.attach_mode or 'rw')
            new_volume.refresh()
