"""Client side of the volume RPC API.

Volume services listen on topic ``volume_topic`` with server ``host@backend``;
``volume.host`` is ``host@backend#pool`` and the pool part is stripped here.
A service of a cluster also listens on server ``cluster@backend`` (the
cluster's queue, served by whichever member takes a message first): a volume
with a ``cluster_name`` is addressed there once every volume service runs RPC
1.9, else at its host (:meth:`VolumeAPI._prepare`).

History:
  1.0 - create_volume, delete_volume, extend_volume, create_snapshot,
        delete_snapshot, publish_service_capabilities
  1.1 - revert_to_snapshot, retype, manage_existing, unmanage_volume,
        manage_existing_snapshot, unmanage_snapshot; get_manageable_volumes and
        get_manageable_snapshots (calls)
  1.2 - do_cleanup (take over and redo the work records of a down service)
  1.3 - initialize_connection, terminate_connection (calls; legacy attach actions)
  1.4 - attachment_update, attachment_delete (calls; the attachments API)
  1.5 - extend_volume of attached volumes (3.42): the manager settles the volume back
        to in-use and tells compute; an older one would leave it 'available'
  1.6 - image data: copy_volume_to_image, reimage (casts); create_volume copies the
        image ``request_spec['image_id']`` names (an older one would create it empty)
  1.7 - migrate_volume (cast; also on-demand retypes), migration_local_path (call): moving
        a volume's data between backends
  1.8 - backups: backup_device, backup_device_release (calls: the local path a backup
        reads or a restore writes; an attached volume's temporary snapshot); create_volume
        hands a volume made for ``request_spec['backup_id']`` to the backup service (an
        older one would leave it available and empty); a backup service on another node
        sends its os-brick ``connector`` to backup_device (the answer is then
        ``connection_info`` of an export instead of a path) and ``exported`` to
        backup_device_release (the export is removed)
  1.9 - cluster queue: services of a cluster also serve ``cluster@backend``; methods
        on a volume with ``cluster_name`` go there (while any volume service is older,
        to ``volume.host`` as before, which a 1.8 service serves)
"""

from oslo_config import cfg

from blockstore.common import exception
from blockstore.common import rpc
from blockstore.common import utils

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF


def _cluster_name(volume):
    """A volume's cluster_name (None when the object was built without one)."""
    is_set = getattr(volume, 'obj_attr_is_set', None)
    if is_set is not None and not is_set('cluster_name'):
        return None
    return getattr(volume, 'cluster_name', None)


def _later(a, b):
    """The later of two RPC versions ('1.10' is after '1.9')."""
    return max(a, b, key=lambda v: tuple(int(p) for p in v.split('.')))


class VolumeAPI(rpc.RPCAPI):
    RPC_API_VERSION = '1.9'
    BINARY = 'blockstore-volume'
    CLUSTER_VERSION = '1.9'

    @property
    def TOPIC(self):
        return CONF.volume_topic

    def server_of(self, where):
        """(server, cluster queue?) a message about ``where`` goes to.

        ``where``: a volume (its ``cluster_name``'s queue when it has one and every
        volume service serves cluster queues, RPC 1.9; else its ``host``) or a
        ``host@backend[#pool]`` string.
        """
        if isinstance(where, str):
            return utils.backend_of(where), False
        cluster = _cluster_name(where)
        if cluster and self.can_send_version(self.CLUSTER_VERSION):
            return utils.backend_of(cluster), True
        return utils.backend_of(where.host), False

    def _prepare(self, where, version='1.0', **kwargs):
        server, clustered = self.server_of(where)
        if clustered:
            version = _later(version, self.CLUSTER_VERSION)
        return self.prepare(server=server, version=version, **kwargs)

    def create_volume(self, ctxt, volume, request_spec):
        """``request_spec['backup_id']`` (a volume restored from a backup) needs 1.8."""
        version = '1.0'
        if (request_spec or {}).get('backup_id'):
            self.require_backups('create volumes from backups')
            version = self.BACKUP_VERSION
        self._prepare(volume, version=version).cast(
            ctxt, 'create_volume', volume=volume, request_spec=request_spec)

    def delete_volume(self, ctxt, volume):
        self._prepare(volume).cast(ctxt, 'delete_volume', volume=volume)

    EXTEND_ATTACHED_VERSION = '1.5'

    def require_attached_extend(self):
        """ServiceTooOld unless every volume service can extend attached volumes (1.5)."""
        if not self.can_send_version(self.EXTEND_ATTACHED_VERSION):
            raise exception.ServiceTooOld(
                reason='volume services older than RPC %s cannot extend attached volumes; '
                       'upgrade them first' % self.EXTEND_ATTACHED_VERSION)

    def extend_volume(self, ctxt, volume, new_size, attached=False):
        """``attached``: the volume was in-use (needs 1.5; the arguments are the same)."""
        if attached:
            self.require_attached_extend()
        version = self.EXTEND_ATTACHED_VERSION if attached else '1.0'
        self._prepare(volume, version=version).cast(ctxt, 'extend_volume', volume=volume,
                                                         new_size=new_size)

    def create_snapshot(self, ctxt, volume, snapshot):
        self._prepare(volume).cast(ctxt, 'create_snapshot', snapshot=snapshot)

    def delete_snapshot(self, ctxt, volume, snapshot):
        self._prepare(volume).cast(ctxt, 'delete_snapshot', snapshot=snapshot)

    def publish_service_capabilities(self, ctxt):
        self.prepare(fanout=True, version='1.0').cast(ctxt, 'publish_service_capabilities')

    # -- types, qos, actions, transfers (RPC 1.1) ---------------------------------------

    ACTIONS_VERSION = '1.1'

    def require_actions(self, what):
        """ServiceTooOld unless every volume service understands the 1.1 methods."""
        if not self.can_send_version(self.ACTIONS_VERSION):
            raise exception.ServiceTooOld(
                reason='volume services older than RPC %s cannot %s; upgrade them first'
                % (self.ACTIONS_VERSION, what))

    def _prepare_actions(self, where, what, **kwargs):
        self.require_actions(what)
        return self._prepare(where, version=self.ACTIONS_VERSION, **kwargs)

    def revert_to_snapshot(self, ctxt, volume, snapshot):
        self._prepare_actions(volume, 'revert volumes').cast(
            ctxt, 'revert_to_snapshot', volume=volume, snapshot=snapshot)

    def retype(self, ctxt, volume, new_type_id, target):
        self._prepare_actions(volume, 'retype volumes').cast(
            ctxt, 'retype', volume=volume, new_type_id=new_type_id, target=target)

    def manage_existing(self, ctxt, volume, ref):
        self._prepare_actions(volume, 'manage volumes').cast(
            ctxt, 'manage_existing', volume=volume, ref=ref)

    def unmanage_volume(self, ctxt, volume):
        self._prepare_actions(volume, 'unmanage volumes').cast(
            ctxt, 'unmanage_volume', volume=volume)

    def manage_existing_snapshot(self, ctxt, snapshot, ref, host):
        """``host``: the snapshot's volume (or its host string)."""
        self._prepare_actions(host, 'manage snapshots').cast(
            ctxt, 'manage_existing_snapshot', snapshot=snapshot, ref=ref)

    def unmanage_snapshot(self, ctxt, snapshot, host):
        self._prepare_actions(host, 'unmanage snapshots').cast(
            ctxt, 'unmanage_snapshot', snapshot=snapshot)

    def get_manageable_volumes(self, ctxt, host):
        return self._prepare_actions(host, 'list manageable volumes', timeout=60).call(
            ctxt, 'get_manageable_volumes')

    def get_manageable_snapshots(self, ctxt, host):
        return self._prepare_actions(host, 'list manageable snapshots', timeout=60).call(
            ctxt, 'get_manageable_snapshots')

    # -- operations and quotas (RPC 1.2) ------------------------------------------------

    def do_cleanup(self, ctxt, host, service_id, resource_type=None, resource_id=None):
        """Ask the volume service ``host`` to redo the work service ``service_id`` left."""
        if not self.can_send_version('1.2'):
            raise exception.ServiceTooOld(reason='volume services older than RPC 1.2 cannot '
                                                 'take over the work of failed services; '
                                                 'upgrade them first')
        self._prepare(host, version='1.2').cast(ctxt, 'do_cleanup', service_id=service_id,
                                                resource_type=resource_type,
                                                resource_id=resource_id)

    # -- legacy attach actions (RPC 1.3) ------------------------------------------------

    CONNECTION_VERSION = '1.3'

    def _prepare_connection(self, where, what):
        if not self.can_send_version(self.CONNECTION_VERSION):
            raise exception.ServiceTooOld(
                reason='volume services older than RPC %s cannot %s; upgrade them first'
                % (self.CONNECTION_VERSION, what))
        return self._prepare(where, version=self.CONNECTION_VERSION,
                             timeout=CONF.volume_connection_timeout)

    def initialize_connection(self, ctxt, volume, connector):
        """Export the volume for ``connector``; returns Cinder's connection_info."""
        return self._prepare_connection(volume, 'initialize connections').call(
            ctxt, 'initialize_connection', volume=volume, connector=connector)

    def terminate_connection(self, ctxt, volume, connector, force=False):
        return self._prepare_connection(volume, 'terminate connections').call(
            ctxt, 'terminate_connection', volume=volume, connector=connector, force=force)

    # -- attachments (RPC 1.4) ------------------------------------------------------------

    ATTACHMENT_VERSION = '1.4'

    def _prepare_attachment(self, where, what):
        if not self.can_send_version(self.ATTACHMENT_VERSION):
            raise exception.ServiceTooOld(
                reason='volume services older than RPC %s cannot %s; upgrade them first'
                % (self.ATTACHMENT_VERSION, what))
        return self._prepare(where, version=self.ATTACHMENT_VERSION,
                             timeout=CONF.volume_connection_timeout)

    def attachment_update(self, ctxt, volume, attachment_id, connector):
        """Export the volume for the attachment's host; its connection_info."""
        return self._prepare_attachment(volume, 'connect attachments').call(
            ctxt, 'attachment_update', volume=volume, attachment_id=attachment_id,
            connector=connector)

    def attachment_delete(self, ctxt, volume, attachment_id):
        return self._prepare_attachment(volume, 'delete attachments').call(
            ctxt, 'attachment_delete', volume=volume, attachment_id=attachment_id)

    # -- image data (RPC 1.6) --------------------------------------------------------------

    IMAGE_VERSION = '1.6'

    def require_images(self, what):
        """ServiceTooOld unless every volume service can move image data (1.6)."""
        if not self.can_send_version(self.IMAGE_VERSION):
            raise exception.ServiceTooOld(
                reason='volume services older than RPC %s cannot %s; upgrade them first'
                % (self.IMAGE_VERSION, what))

    def copy_volume_to_image(self, ctxt, volume, image_meta):
        self.require_images('upload volumes to images')
        self._prepare(volume, version=self.IMAGE_VERSION).cast(
            ctxt, 'copy_volume_to_image', volume=volume, image_meta=image_meta)

    def reimage(self, ctxt, volume, image_meta, reimage_reserved=False):
        self.require_images('reimage volumes')
        self._prepare(volume, version=self.IMAGE_VERSION).cast(
            ctxt, 'reimage', volume=volume, image_meta=image_meta,
            reimage_reserved=reimage_reserved)

    # -- migration (RPC 1.7) ----------------------------------------------------------------

    MIGRATE_VERSION = '1.7'

    def require_migration(self):
        """ServiceTooOld unless every volume service can migrate (1.7)."""
        if not self.can_send_version(self.MIGRATE_VERSION):
            raise exception.ServiceTooOld(
                reason='volume services older than RPC %s cannot migrate volumes; upgrade '
                       'them first' % self.MIGRATE_VERSION)

    def migrate_volume(self, ctxt, volume, dest, force_host_copy=False, new_type_id=None,
                       retype_target=None):
        """Move ``volume`` to ``dest`` ({'host', 'cluster_name', 'capabilities'}).

        Cast to the volume's own backend, which drives the move. ``new_type_id``
        and ``retype_target``: an on-demand retype also ends with the new type.
        """
        self.require_migration()
        self._prepare(volume, version=self.MIGRATE_VERSION).cast(
            ctxt, 'migrate_volume', volume=volume, dest=dest, force_host_copy=force_host_copy,
            new_type_id=new_type_id, retype_target=retype_target)

    def migration_local_path(self, ctxt, volume):
        """The path on its node through which the detached ``volume``'s bytes are reached."""
        return self._prepare(volume, version=self.MIGRATE_VERSION, timeout=60).call(
            ctxt, 'migration_local_path', volume=volume)

    # -- backups (RPC 1.8) -----------------------------------------------------------------

    BACKUP_VERSION = '1.8'
    # A temporary snapshot is taken (or deleted) within the call.
    BACKUP_DEVICE_TIMEOUT = 600

    def require_backups(self, what='back up or restore volumes'):
        """ServiceTooOld unless every volume service serves backups (1.8)."""
        if not self.can_send_version(self.BACKUP_VERSION):
            raise exception.ServiceTooOld(
                reason='volume services older than RPC %s cannot %s; upgrade them first'
                % (self.BACKUP_VERSION, what))

    def backup_device(self, ctxt, volume, backup_id, snapshot_id=None, temp_snapshot=False,
                      restore=False, connector=None):
        """{'path', 'temp_snapshot_id', 'data_regions', 'changed_regions', 'discard_zeroes'}:
        where on its node a backup reads (or, with ``restore``, a restore writes)
        ``volume``; ``temp_snapshot``: through a temporary snapshot (attached).

        ``connector``: the os-brick connector of a backup service on another node;
        the answer has ``connection_info`` (an export to it) instead of ``path``,
        and ``reads_zeros`` when a restore target was emptied first.
        """
        self.require_backups()
        timeout = self.BACKUP_DEVICE_TIMEOUT if temp_snapshot or connector else 60
        kwargs = {'connector': connector} if connector is not None else {}
        return self._prepare(volume, version=self.BACKUP_VERSION,
                             timeout=timeout).call(
            ctxt, 'backup_device', volume=volume, backup_id=backup_id,
            snapshot_id=snapshot_id, temp_snapshot=temp_snapshot, restore=restore, **kwargs)

    def backup_device_release(self, ctxt, volume, temp_snapshot_id, backup_id=None,
                              succeeded=True, restore=False, snapshot_id=None,
                              exported=False):
        """Release what backup_device opened (the driver's source or target, and with
        ``exported`` its export) and delete a backup's temporary snapshot of ``volume``."""
        self.require_backups()
        kwargs = {'exported': True} if exported else {}
        return self._prepare(volume, version=self.BACKUP_VERSION,
                             timeout=self.BACKUP_DEVICE_TIMEOUT).call(
            ctxt, 'backup_device_release', volume=volume, temp_snapshot_id=temp_snapshot_id,
            backup_id=backup_id, succeeded=succeeded, restore=restore,
            snapshot_id=snapshot_id, **kwargs)
