"""The volume driver contract.

A driver is a class that composes the small abstract interfaces below by
inheritance, e.g. ``class FileDriver(VolumeDriver, SnapshotOps, CloneOps)``.
Inheriting an interface *is* the declaration: the volume manager asks
:func:`supports` / :func:`declared_interfaces` what a driver can do and never
probes for ``NotImplementedError`` or overridden methods.

Drivers never see the database. They receive plain objects with attributes:

* volume: ``id``, ``name`` (``'volume-<id>'``), ``size`` (GiB, int),
  ``provider_location``, ``host``, ``volume_type`` (may be ``None``);
* snapshot: ``id``, ``name`` (``'snapshot-<id>'``), ``volume_id``,
  ``volume_size`` (GiB), ``volume`` (a volume-like object), ``provider_location``.

Operations that create something return a *model update*: ``None`` or a dict
of volume/snapshot fields the manager saves (e.g. ``{'provider_location': ...}``).

Errors: backend failures raise
:class:`~blockstore.common.exception.VolumeBackendAPIException`; requests the
driver refuses by their nature (shrinking, a clone smaller than its source)
raise :class:`~blockstore.common.exception.InvalidVolume`.

Every mutating call must be safe to re-run: the manager repeats interrupted
work after a crash. Calls may arrive concurrently from several threads; calls
on different volumes must not block each other.
"""

import abc
import threading


class CachedStats:
    """What a driver's ``get_volume_stats`` returns: ``compute()``'s last result,
    computed again when asked to refresh (the periodic report does) or at first."""

    def __init__(self, compute):
        self._compute = compute
        self._stats = None
        self._lock = threading.Lock()

    def get(self, refresh=False):
        with self._lock:
            if refresh or self._stats is None:
                self._stats = self._compute()
            return self._stats


class VolumeDriver(abc.ABC):
    """Core volume operations; every driver implements this interface."""

    #: Driver version reported in the stats.
    VERSION = '1.0.0'
    #: Whether the volume services of a cluster (``[DEFAULT] cluster``, on several
    #: nodes) may run this driver on one backend at once: every node sees the same
    #: storage and the driver's metadata updates take distributed locks. A volume
    #: service with ``cluster`` refuses to start a driver that does not declare it
    #: (:func:`clusterable`).
    clusterable = False

    def __init__(self, conf, host):
        """Build the driver; must not touch the backend (see :meth:`do_setup`).

        :param conf: the backend's config group (oslo.config group-like) with
            at least ``volume_backend_name``, ``reserved_percentage`` and
            ``max_over_subscription_ratio`` plus driver specific options.
        :param host: the ``'host@backend'`` string of this backend.
        """
        self.configuration = conf
        self.host = host

    @abc.abstractmethod
    def do_setup(self, context):
        """Prepare the backend (connect, create directories...); re-runnable.

        :param context: request context of the starting service (may be None).
        :raises VolumeBackendAPIException: the backend cannot be prepared.
        """

    @abc.abstractmethod
    def check_for_setup_error(self):
        """Verify that the backend is usable after :meth:`do_setup`.

        :raises VolumeBackendAPIException: the backend is misconfigured or
            unreachable; the volume service refuses to start this backend.
        """

    @abc.abstractmethod
    def create_volume(self, volume):
        """Create an empty volume of ``volume.size`` GiB.

        Re-running it for a volume that already exists with the right size
        succeeds and keeps the data.

        :param volume: volume-like object (see module docstring).
        :returns: model update dict (e.g. ``{'provider_location': ...}``) or None.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def delete_volume(self, volume):
        """Delete a volume and its data.

        Idempotent: deleting a volume whose data is already gone succeeds.

        :param volume: volume-like object.
        :returns: None.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def extend_volume(self, volume, new_size):
        """Grow a volume to ``new_size`` GiB, keeping its data.

        :param volume: volume-like object; ``volume.size`` is the current size.
        :param new_size: the new size in GiB.
        :returns: None.
        :raises InvalidVolume: ``new_size`` is smaller than the volume.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def get_volume_stats(self, refresh=False):
        """Return the backend's capabilities and capacity, Cinder shaped.

        ``{'volume_backend_name', 'vendor_name', 'driver_version',
        'storage_protocol', 'pools': [{'pool_name', 'total_capacity_gb',
        'free_capacity_gb', 'allocated_capacity_gb', 'provisioned_capacity_gb',
        'reserved_percentage', 'max_over_subscription_ratio',
        'thin_provisioning_support', 'thick_provisioning_support', ...}]}``

        :param refresh: recompute instead of returning the cached stats.
        :returns: the stats dict.
        :raises VolumeBackendAPIException: the backend cannot be queried.
        """


class SnapshotOps(abc.ABC):
    """Point-in-time snapshots of volumes."""

    @abc.abstractmethod
    def create_snapshot(self, snapshot):
        """Take a snapshot of ``snapshot.volume``; re-runnable.

        :param snapshot: snapshot-like object (see module docstring).
        :returns: model update dict for the snapshot or None.
        :raises VolumeBackendAPIException: the backend failed (e.g. the
            source volume's data is missing).
        """

    @abc.abstractmethod
    def delete_snapshot(self, snapshot):
        """Delete a snapshot; idempotent (already gone succeeds).

        :param snapshot: snapshot-like object.
        :returns: None.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def create_volume_from_snapshot(self, volume, snapshot):
        """Create ``volume`` holding the snapshot's data; re-runnable.

        The new volume may be larger than the snapshot (it is extended).

        :param volume: the new volume-like object.
        :param snapshot: the source snapshot-like object.
        :returns: model update dict for the volume or None.
        :raises InvalidVolume: ``volume.size`` is smaller than the snapshot.
        :raises VolumeBackendAPIException: the backend failed.
        """


class CloneOps(abc.ABC):
    """Volume-to-volume copies."""

    @abc.abstractmethod
    def create_cloned_volume(self, volume, src_vref):
        """Create ``volume`` as a copy of ``src_vref``; re-runnable.

        The clone may be larger than the source (it is extended).

        :param volume: the new volume-like object.
        :param src_vref: the source volume-like object.
        :returns: model update dict for the volume or None.
        :raises InvalidVolume: ``volume.size`` is smaller than the source.
        :raises VolumeBackendAPIException: the backend failed.
        """


class ExportOps(abc.ABC):
    """Exporting volumes to hosts and building connection info for attach.

    ``shared_targets`` (the volume's ``shared_targets``, API 3.48/3.69): True
    when volumes share a target, so a host must serialise its connects and
    disconnects (os-brick's lock); False when every volume has a target of
    its own; None when there is no target at all (e.g. local files).
    """

    shared_targets = True

    @abc.abstractmethod
    def create_export(self, context, volume, connector):
        """Export a volume (e.g. create an iSCSI target) for ``connector``.

        :param context: request context.
        :param volume: volume-like object.
        :param connector: os-brick style connector dict of the attaching host.
        :returns: model update dict (e.g. ``provider_location``,
            ``provider_auth``) or None.
        :raises VolumeBackendAPIException: the export failed.
        """

    @abc.abstractmethod
    def ensure_export(self, context, volume):
        """Re-create a volume's export after a service restart, if missing.

        :param context: request context.
        :param volume: volume-like object.
        :returns: model update dict or None.
        :raises VolumeBackendAPIException: the export cannot be restored.
        """

    @abc.abstractmethod
    def remove_export(self, context, volume):
        """Remove a volume's export; idempotent.

        :param context: request context.
        :param volume: volume-like object.
        :returns: None.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def initialize_connection(self, volume, connector):
        """Allow ``connector`` to access the volume and describe how.

        :param volume: volume-like object.
        :param connector: os-brick style connector dict.
        :returns: ``{'driver_volume_type': ..., 'data': {...}}``.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def terminate_connection(self, volume, connector, **kwargs):
        """Revoke ``connector``'s access to the volume; idempotent.

        :param volume: volume-like object.
        :param connector: os-brick style connector dict, or None for all.
        :param remaining_attachments: (keyword) what stays attached after this
            one: a list of connector dicts (access is kept for exactly their
            initiators), a count (access is left as it is), or None/0/[] (the
            export is removed entirely). The manager always passes it.
        :returns: None.
        :raises VolumeBackendAPIException: the backend failed.
        """


class ManageOps(abc.ABC):
    """Adopting existing backend storage as volumes, and releasing it."""

    @abc.abstractmethod
    def manage_existing_get_size(self, volume, existing_ref):
        """Return the size of the storage ``existing_ref`` points to.

        :param volume: the volume-like object that will own it.
        :param existing_ref: driver specific reference dict (e.g. ``{'source-name': ...}``).
        :returns: size in GiB, rounded up.
        :raises InvalidVolume: the reference is invalid or not found.
        """

    @abc.abstractmethod
    def manage_existing(self, volume, existing_ref):
        """Take over the storage ``existing_ref`` points to as ``volume``.

        :param volume: the volume-like object taking ownership.
        :param existing_ref: driver specific reference dict.
        :returns: model update dict or None.
        :raises InvalidVolume: the reference is invalid or not found.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def unmanage(self, volume):
        """Stop managing ``volume`` without deleting its data.

        :param volume: volume-like object.
        :returns: None.
        :raises VolumeBackendAPIException: the backend failed.
        """


class RevertOps(abc.ABC):
    """Reverting a volume in place to one of its snapshots."""

    @abc.abstractmethod
    def revert_to_snapshot(self, context, volume, snapshot):
        """Make ``volume``'s content equal to ``snapshot``'s; re-runnable.

        :param context: request context.
        :param volume: volume-like object.
        :param snapshot: snapshot-like object of that volume.
        :returns: None.
        :raises InvalidVolume: the snapshot does not belong to the volume.
        :raises VolumeBackendAPIException: the backend failed.
        """


class ManageSnapshotOps(abc.ABC):
    """Adopting existing backend storage as snapshots of a volume, and releasing it."""

    @abc.abstractmethod
    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        """Return the size in GiB (rounded up) of the storage ``existing_ref`` points to.

        :param snapshot: the snapshot-like object that will own it.
        :param existing_ref: driver specific reference dict (e.g. ``{'source-name': ...}``).
        :raises InvalidSnapshot: the reference is invalid or not found.
        """

    @abc.abstractmethod
    def manage_existing_snapshot(self, snapshot, existing_ref):
        """Take over the storage ``existing_ref`` points to as ``snapshot``; re-runnable.

        :returns: model update dict for the snapshot or None.
        :raises InvalidSnapshot: the reference is invalid or not found.
        :raises VolumeBackendAPIException: the backend failed.
        """

    @abc.abstractmethod
    def unmanage_snapshot(self, snapshot):
        """Stop managing ``snapshot`` without deleting its data.

        :raises VolumeBackendAPIException: the backend failed.
        """


class ManageableListOps(abc.ABC):
    """Listing the storage of a backend that could be managed (``manageable_volumes``)."""

    @abc.abstractmethod
    def get_manageable_volumes(self, known_ids):
        """Describe the backend's volume-like storage, managed or not.

        :param known_ids: ids of the live volumes this backend holds (to tell
            managed storage from unmanaged).
        :returns: a list of ``{'reference': {'source-name': ...}, 'size': GiB,
            'safe_to_manage': bool, 'reason_not_safe': str or None,
            'cinder_id': id or None, 'extra_info': dict or None}``.
        """

    @abc.abstractmethod
    def get_manageable_snapshots(self, known_ids):
        """Describe the backend's snapshot-like storage, managed or not.

        :param known_ids: ids of the live snapshots this backend holds.
        :returns: entries as :meth:`get_manageable_volumes`, plus
            ``'source_reference'`` (the parent volume's reference, or None).
        """


class MigrateOps(abc.ABC):
    """Driver-assisted moves and retypes between pools the driver can reach itself
    (e.g. two volume groups of one host), bypassing the manager's generic copy."""

    @abc.abstractmethod
    def migrate_volume(self, context, volume, host):
        """Move ``volume``'s data to ``host`` if this driver can do it directly.

        :param volume: volume-like object (detached; ``volume.name`` is kept).
        :param host: the destination, Cinder shaped: ``{'host': 'node@backend#pool',
            'capabilities': {... 'location_info': ...}}``.
        :returns: ``(moved, model_update)``: ``moved`` False (nothing done) lets the
            manager fall back to its generic copy; True means the data is at
            ``host`` and gone from here.
        :raises VolumeBackendAPIException: the move started and failed (the
            source is left intact).
        """

    @abc.abstractmethod
    def retype(self, context, volume, new_type, diff, host):
        """Apply ``new_type`` to ``volume`` in place if possible.

        :param new_type: the new volume type (dict-like, may be None).
        :param diff: Cinder's ``{'extra_specs', 'qos_specs', 'encryption'}`` diff.
        :param host: the destination the scheduler picked (as :meth:`migrate_volume`).
        :returns: ``(retyped, model_update)``; False: the manager migrates instead.
        """


class LocalPathOps(abc.ABC):
    """A detached volume's bytes are reachable through a path on this node.

    The manager's generic migration copies between two backends of one node
    through these paths (a file, a block device).
    """

    @abc.abstractmethod
    def local_path(self, volume):
        """Path on this node to read and write ``volume``'s bytes while it is detached.

        :returns: an absolute path (regular file or block device) of at least
            ``volume.size`` GiB.
        :raises VolumeBackendAPIException: the volume has no such path now.
        """


class ComputeExtendOps(abc.ABC):
    """Attached volumes are grown by the compute host that holds them.

    For backends whose attached volumes the hypervisor locks (a file QEMU
    holds open): the backend prepares, then the compute host grows the disk
    on the ``volume-extended`` event and confirms with Cinder's
    ``os-extend_volume_completion`` (3.71); the volume stays ``extending``
    until it does. Drivers that can grow attached volumes themselves (LVM)
    do not declare this: their :meth:`VolumeDriver.extend_volume` serves both.
    """

    @abc.abstractmethod
    def prepare_attached_extend(self, volume, new_size):
        """Do the backend's part of growing the attached ``volume`` to ``new_size``.

        Re-runnable. The compute host finishes the extend.

        :returns: None.
        :raises VolumeBackendAPIException: the backend failed.
        """


class ImageOps(abc.ABC):
    """Image data in and out of volumes (create from an image, upload, reimage).

    The manager streams the bytes: it downloads the image and hands the
    driver an iterator of chunks, or takes the driver's iterator and uploads
    it. Only raw data moves (the service layer refuses other image formats),
    so a volume holds exactly the image's bytes.
    """

    @abc.abstractmethod
    def copy_image_to_volume(self, context, volume, chunks, size):
        """Write an image's bytes at the start of ``volume``; the rest reads as zeros.

        Re-runnable (a crash mid-copy is redone from the start). The volume
        exists and is not connected to any host while this runs.

        :param context: the request context (for logging; no database).
        :param volume: volume-like object; ``volume.size`` GiB >= ``size`` bytes.
        :param chunks: iterator of ``bytes`` (any lengths) holding the image.
        :param size: the image's length in bytes (what ``chunks`` should hold).
        :returns: None.
        :raises VolumeBackendAPIException: the backend failed, or ``chunks``
            did not hold ``size`` bytes.
        """

    @abc.abstractmethod
    def copy_volume_to_image(self, context, volume):
        """The bytes of the whole volume (``volume.size`` GiB), as an iterator of chunks.

        The iterator holds whatever the backend needs (open files, devices)
        until it is exhausted or closed.

        :param context: the request context.
        :param volume: volume-like object.
        :returns: iterator of ``bytes``.
        :raises VolumeBackendAPIException: the backend failed.
        """


class BackupDeviceOps(abc.ABC):
    """Snapshots are readable through a path on this node, so a backup service of this
    node can back them up (and an attached volume through a temporary snapshot).

    Volumes themselves are read (and restores written) through
    :meth:`LocalPathOps.local_path`; a driver declaring this interface declares that
    one too.
    """

    @abc.abstractmethod
    def snapshot_local_path(self, snapshot):
        """Path on this node to read ``snapshot``'s bytes (``snapshot.volume_size`` GiB).

        :returns: an absolute path (regular file or block device).
        :raises VolumeBackendAPIException: the snapshot has no such path now.
        """


class BackupSourceOps(abc.ABC):
    """The driver says what a backup reads and what a restore writes, and what it knows
    of the bytes there, so backups read only allocated (or changed) data.

    Drivers without it are read through :class:`LocalPathOps` and
    :class:`BackupDeviceOps` paths (a regular file's holes are found with
    SEEK_DATA). Sources and targets are held until closed: the backup
    service closes each one however the backup or restore went.
    """

    #: What :meth:`open_backup_source` opens is a point-in-time snapshot of its
    #: own, so an attached volume needs no temporary snapshot.
    backup_source_is_snapshot = False

    @abc.abstractmethod
    def open_backup_source(self, volume, backup_id, parent_backup_id=None, snapshot=None):
        """What backup ``backup_id`` of ``volume`` (or of ``snapshot``) reads.

        :param parent_backup_id: the backup an incremental compares with.
        :returns: ``{'path', 'data_regions', 'changed_regions'}``: a local path
            (regular file or block device); ``[(offset, length)]`` outside which
            the source reads as zeros, or None (unknown); and, for an incremental,
            ``[(offset, length)]`` outside which the source holds what the parent
            backed up, or None (compare every block).
        """

    @abc.abstractmethod
    def close_backup_source(self, volume, backup_id, succeeded, snapshot=None):
        """Release what :meth:`open_backup_source` holds; ``succeeded``: the
        backup is complete (a driver may keep what the next incremental needs)."""

    @abc.abstractmethod
    def open_restore_target(self, volume):
        """``{'path', 'discard_zeroes'}``: where a restore writes ``volume``, and whether
        discarding a range there makes it read as zeros (holes stay unallocated)."""

    @abc.abstractmethod
    def close_restore_target(self, volume):
        """Release what :meth:`open_restore_target` holds."""


class BackupExportOps(abc.ABC):
    """What a backup reads (the volume, a snapshot, or a :class:`BackupSourceOps` source)
    and what a restore writes can be exported to a backup service on another node.

    The volume service opens the device as for a co-located backup service, then
    exports that device under an export name of the backup's own (so the volume's
    attachments and their exports are left alone) to the backup service's os-brick
    connector; the backup service connects with os-brick. The export is removed before
    the device is closed.
    """

    @abc.abstractmethod
    def export_backup_device(self, context, volume, name, path, connector):
        """Export the device at ``path`` on this node (what ``local_path``,
        ``snapshot_local_path``, ``open_backup_source`` or ``open_restore_target``
        gave for ``volume``) as export ``name`` to ``connector``.

        :returns: the connection_info ``{'driver_volume_type', 'data'}`` an os-brick
            connector of that protocol connects.
        """

    @abc.abstractmethod
    def remove_backup_export(self, context, volume, name):
        """Remove export ``name`` of ``volume`` (absent: nothing to do)."""


#: Every interface, in the order :func:`declared_interfaces` reports them.
INTERFACES = (VolumeDriver, SnapshotOps, CloneOps, ExportOps, ManageOps, RevertOps,
              ManageSnapshotOps, ManageableListOps, MigrateOps, ComputeExtendOps, ImageOps,
              LocalPathOps, BackupDeviceOps, BackupSourceOps, BackupExportOps)

_BY_NAME = {iface.__name__: iface for iface in INTERFACES}


def _interface(interface):
    if isinstance(interface, str):
        try:
            return _BY_NAME[interface]
        except KeyError:
            raise ValueError('Unknown driver interface %r' % interface) from None
    if interface not in INTERFACES:
        raise ValueError('Unknown driver interface %r' % (interface,))
    return interface


def supports(driver, interface):
    """Tell whether ``driver`` (instance or class) declares ``interface``.

    :param driver: a driver instance or class.
    :param interface: an interface class from :data:`INTERFACES` or its name.
    :returns: bool.
    :raises ValueError: ``interface`` is not a known interface.
    """
    iface = _interface(interface)
    if isinstance(driver, type):
        return issubclass(driver, iface)
    return isinstance(driver, iface)


def clusterable(driver):
    """Tell whether ``driver`` (instance or class) may serve a cluster's backend."""
    return bool(getattr(driver, 'clusterable', False))


def declared_interfaces(driver):
    """List the names of the interfaces ``driver`` (instance or class) declares.

    :returns: e.g. ``['VolumeDriver', 'SnapshotOps', 'CloneOps']``, in
        :data:`INTERFACES` order.
    """
    return [iface.__name__ for iface in INTERFACES if supports(driver, iface)]
