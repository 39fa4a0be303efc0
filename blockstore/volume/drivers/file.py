"""File-backed volume driver: each volume is a sparse file in one directory.

Layout of ``conf.file_volumes_dir``::

    volume-<id>               a volume, exactly size GiB long (sparse)
    snapshot-<id>             a full sparse copy of a volume
    .<name>.<random>.tmp      a file being written; renamed into place when
                              complete, removed by do_setup after a crash

Every file appears under its final name only once complete (written under a
temporary name, fsynced, renamed), so a re-run after a crash either finds the
finished file or starts over.

Copies (snapshots, clones, reverts) are reflinks (FICLONE) where the
filesystem has them (XFS, btrfs): the kernel holds both files' locks, so a
snapshot of a volume a host is writing through its local path is one point in
time, each write wholly in it or not. Elsewhere (ext4, tmpfs) a copy reads the
source range by range, and a write during the copy can tear it: a snapshot of
an attached volume being written is then not crash-consistent. No global lock: operations on different
volumes run concurrently and rely on per-file atomic renames.

The directory may be shared by the volume services of a cluster (several
nodes mounting one network filesystem): the driver is ``clusterable``. What
one node must not do while another does it takes a lock of the lock service
(``common/coordination``) named after the directory and the file: writing a
file (so a peer starting up removes only temporary files nobody is writing)
and adopting a file to manage it.
"""

import contextlib
import errno
import fcntl
import hashlib
import math
import os
import re
import tempfile

from oslo_log import log as logging

from blockstore.common import coordination
from blockstore.common import exception
from blockstore.volume.drivers import base
from blockstore.volume.drivers import image_data

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
_TMP_SUFFIX = '.tmp'
_CHUNK = 8 * 1024 * 1024
# copy_file_range errors after which a plain read/write copy may still work.
_NO_CFR = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EPERM}
FICLONE = 0x40049409    # linux/fs.h: _IOW(0x94, 9, int)
# FICLONE errors meaning "no reflink here": copy instead.
_NO_CLONE = _NO_CFR | {errno.ENOTTY}


def _data_regions(fd, length):
    """Yield ``(offset, length)`` of the regions of ``fd`` holding data.

    Holes are skipped. Without SEEK_DATA support the whole file is one region.
    """
    offset = 0
    while offset < length:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:  # only a hole is left
                return
            if e.errno == errno.EINVAL and offset == 0:  # no SEEK_DATA here
                yield 0, length
                return
            raise
        if start >= length:
            return
        end = min(os.lseek(fd, start, os.SEEK_HOLE), length)
        yield start, end - start
        offset = end


def _copy_range(src_fd, dst_fd, offset, length):
    """Copy ``length`` bytes at ``offset`` from ``src_fd`` to the same offset.

    Uses copy_file_range (in-kernel, reflink where the filesystem can), else
    reads and writes, leaving all-zero chunks as holes.
    """
    pos, end = offset, offset + length
    try:
        while pos < end:
            n = os.copy_file_range(src_fd, dst_fd, end - pos, pos, pos)
            if n == 0:  # source shorter than expected
                return
            pos += n
        return
    except OSError as e:
        if e.errno not in _NO_CFR:
            raise
    while pos < end:
        buf = os.pread(src_fd, min(_CHUNK, end - pos), pos)
        if not buf:
            return
        if buf.count(0) != len(buf):
            view = memoryview(buf)
            while view:
                written = os.pwrite(dst_fd, view, pos + len(buf) - len(view))
                view = view[written:]
        pos += len(buf)


def _clone(src_fd, dst_fd):
    """Make the empty ``dst_fd`` share all of ``src_fd``'s extents (FICLONE), atomically.

    False where the filesystem cannot reflink.
    """
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return True
    except OSError as e:
        if e.errno not in _NO_CLONE:
            raise
        return False


def _sparse_copy(src_fd, dst_fd, length):
    """Make ``dst_fd`` a sparse copy of the first ``length`` bytes of ``src_fd``.

    A reflink of the whole file when ``length`` is its size and the filesystem
    can (one point in time), else a copy of its data regions.
    """
    if length == os.fstat(src_fd).st_size and _clone(src_fd, dst_fd):
        os.ftruncate(dst_fd, length)
        return
    os.ftruncate(dst_fd, length)
    for offset, size in _data_regions(src_fd, length):
        _copy_range(src_fd, dst_fd, offset, size)


@contextlib.contextmanager
def _backend_errors(action):
    """Turn OS errors into VolumeBackendAPIException naming ``action``."""
    try:
        yield
    except OSError as e:
        raise exception.VolumeBackendAPIException(data='%s failed: %s' % (action, e)) from e


class FileDriver(base.VolumeDriver, base.SnapshotOps, base.CloneOps, base.RevertOps,
                 base.ManageOps, base.ManageSnapshotOps, base.ManageableListOps,
                 base.ExportOps, base.ImageOps, base.LocalPathOps, base.BackupDeviceOps,
                 base.BackupExportOps):
    """Sparse files in a local directory; thin provisioned.

    Exports are local: a connection is the file's path
    (``driver_volume_type: local``, os-brick's LOCAL connector), usable by
    hosts that see this directory -- the embedded all-in-one deployment and
    development setups. Nothing is created or revoked on the backend.

    Any regular file in the directory can be managed by name
    (``{'source-name': 'file'}``): it is grown to whole GiB and renamed to the
    volume's (or snapshot's) name. Unmanaging leaves the file where it is.
    """

    VERSION = '1.0.0'
    shared_targets = None   # local files: no target, nothing for hosts to lock
    #: Services of a cluster may share the directory (see the module docstring).
    clusterable = True

    def __init__(self, conf, host):
        super().__init__(conf, host)
        self._dir = conf.file_volumes_dir
        self._stats = base.CachedStats(self._compute_stats)

    def _file_lock(self, name, blocking=True):
        """The lock of file ``name`` of this backend, shared by every node that sees it.

        Named after the backend's section (the part of ``host`` after ``@``, which
        the members of a cluster share, wherever each mounts the directory) and the
        file: volumes' and snapshots' names hold their UUIDs.
        """
        scope = self.host.partition('@')[2] or hashlib.sha256(
            os.path.realpath(self._dir or '').encode()).hexdigest()[:16]
        return coordination.lock('file-%s-%s' % (scope, name), blocking=blocking)

    # -- helpers ---------------------------------------------------------

    def _path(self, name):
        """Path of the file for a volume/snapshot ``name``; refuses odd names."""
        if not name or name.startswith('.') or os.sep in name or '\0' in name:
            raise exception.InvalidInput(reason='unusable backend name %r' % (name,))
        return os.path.join(self._dir, name)

    def _model_update(self, path):
        return {'provider_location': path}

    @staticmethod
    def _size_if_exists(path):
        try:
            return os.stat(path).st_size
        except FileNotFoundError:
            return None

    def _publish(self, path, fill):
        """Create ``path`` atomically: ``fill(fd)`` writes a temp file, then rename.

        Under the file's lock: a peer's ``do_setup`` leaves the temp file alone.
        """
        with self._file_lock(os.path.basename(path)):
            self._publish_locked(path, fill)

    def _publish_locked(self, path, fill):
        directory, name = os.path.split(path)
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % name, suffix=_TMP_SUFFIX, dir=directory)
        try:
            fill(fd)
            os.fsync(fd)
            os.close(fd)
            fd = -1
            os.replace(tmp, path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def _copy_to(self, src_path, dst_path, new_size_bytes, what):
        """Publish ``dst_path`` as a sparse copy of ``src_path``, grown to a size.

        ``new_size_bytes`` None keeps the source size; smaller than the source
        raises InvalidVolume. An existing ``dst_path`` is a finished copy
        (files only appear complete) and is kept.
        """
        if self._size_if_exists(dst_path) is not None:
            LOG.info('%s already exists, keeping it', dst_path)
            return
        with _backend_errors(what):
            try:
                src_fd = os.open(src_path, os.O_RDONLY)
            except FileNotFoundError as e:
                raise exception.VolumeBackendAPIException(
                    data='%s failed: source %s is missing' % (what, src_path)) from e
            try:
                src_size = os.fstat(src_fd).st_size
                if new_size_bytes is not None and new_size_bytes < src_size:
                    raise exception.InvalidVolume(
                        reason='new size %d GiB is smaller than the source (%d bytes)'
                        % (new_size_bytes // GiB, src_size))

                def fill(fd):
                    _sparse_copy(src_fd, fd, src_size)
                    if new_size_bytes is not None and new_size_bytes > src_size:
                        os.ftruncate(fd, new_size_bytes)

                self._publish(dst_path, fill)
            finally:
                os.close(src_fd)

    # -- VolumeDriver ------------------------------------------------------

    def do_setup(self, context):
        """Create the directory and drop temp files left by a crash."""
        if not self._dir:
            raise exception.VolumeBackendAPIException(data='file_volumes_dir is not set')
        with _backend_errors('setting up %s' % self._dir):
            os.makedirs(self._dir, exist_ok=True)
            for entry in os.scandir(self._dir):
                if entry.name.startswith('.') and entry.name.endswith(_TMP_SUFFIX):
                    self._remove_unfinished(entry.path, entry.name)

    def _remove_unfinished(self, path, tmp_name):
        """Remove a temp file a crash left, unless a node is writing it (its lock is held)."""
        # '.<name>.<random>.tmp' (tempfile.mkstemp's random part has no dot)
        name = tmp_name[1:-len(_TMP_SUFFIX)].rpartition('.')[0]
        try:
            with self._file_lock(name, blocking=False):
                LOG.warning('Removing unfinished file %s', path)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        except coordination.LockBusy:
            LOG.info('%s is being written by another service; leaving it', path)

    def check_for_setup_error(self):
        if not self._dir or not os.path.isdir(self._dir):
            raise exception.VolumeBackendAPIException(
                data='volume directory %r does not exist' % (self._dir,))
        if not os.access(self._dir, os.W_OK | os.X_OK):
            raise exception.VolumeBackendAPIException(
                data='volume directory %r is not writable' % (self._dir,))

    def create_volume(self, volume):
        path = self._path(volume.name)
        want = volume.size * GiB
        have = self._size_if_exists(path)
        if have is None:
            with _backend_errors('creating %s' % volume.name):
                self._publish(path, lambda fd: os.ftruncate(fd, want))
        elif have != want:
            raise exception.VolumeBackendAPIException(
                data='%s exists with %d bytes, expected %d' % (path, have, want))
        return self._model_update(path)

    def delete_volume(self, volume):
        self._remove(self._path(volume.name))

    def _remove(self, path):
        with _backend_errors('deleting %s' % path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                LOG.info('%s already gone', path)

    def extend_volume(self, volume, new_size):
        path = self._path(volume.name)
        want = new_size * GiB
        with _backend_errors('extending %s' % volume.name):
            have = os.stat(path).st_size
            if want < have:
                raise exception.InvalidVolume(
                    reason='cannot shrink %s from %d to %d GiB'
                    % (volume.name, have // GiB, new_size))
            if want > have:
                os.truncate(path, want)  # one syscall: the size changes atomically

    # -- ImageOps ------------------------------------------------------------

    def copy_image_to_volume(self, context, volume, chunks, size):
        """Replace the volume's file by a sparse one holding the image (zero chunks are holes).

        The new file is written under a temporary name and renamed over the
        volume's, so a crash leaves the old file or the finished one.
        """
        path = self._path(volume.name)
        want = volume.size * GiB
        if size > want:
            raise exception.VolumeBackendAPIException(
                data='an image of %d bytes does not fit in %s (%d GiB)'
                % (size, volume.name, volume.size))
        with _backend_errors('copying an image to %s' % volume.name):
            def fill(fd):
                os.ftruncate(fd, want)
                image_data.write_image(fd, chunks, size, want)
            self._publish(path, fill)

    def copy_volume_to_image(self, context, volume):
        path = self._path(volume.name)
        if self._size_if_exists(path) is None:
            raise exception.VolumeBackendAPIException(data='%s is missing' % path)
        return image_data.read_volume(path, volume.size * GiB)

    def get_volume_stats(self, refresh=False):
        return self._stats.get(refresh)

    def _compute_stats(self):
        conf = self.configuration
        used = provisioned = 0
        with _backend_errors('reading capacity of %s' % self._dir):
            for entry in os.scandir(self._dir):
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted while scanning
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                used += st.st_blocks * 512
                if entry.name.startswith('volume-'):
                    provisioned += st.st_size
            vfs = os.statvfs(self._dir)
        fs_room = vfs.f_bavail * vfs.f_frsize + used
        total = fs_room if not conf.file_capacity_gb else min(conf.file_capacity_gb * GiB, fs_room)
        free = max(0, total - used)
        backend_name = conf.volume_backend_name or type(self).__name__
        return {
            'volume_backend_name': backend_name,
            'vendor_name': 'blockstore',
            'driver_version': self.VERSION,
            'storage_protocol': 'file',
            'pools': [{
                'pool_name': backend_name,
                'total_capacity_gb': round(total / GiB, 2),
                'free_capacity_gb': round(free / GiB, 2),
                'allocated_capacity_gb': round(provisioned / GiB, 2),
                'provisioned_capacity_gb': round(provisioned / GiB, 2),
                'reserved_percentage': conf.reserved_percentage,
                'max_over_subscription_ratio': conf.max_over_subscription_ratio,
                'thin_provisioning_support': True,
                'thick_provisioning_support': False,
                'multiattach': False,
                'QoS_support': False,
            }],
        }

    # -- SnapshotOps -------------------------------------------------------

    def create_snapshot(self, snapshot):
        path = self._path(snapshot.name)
        self._copy_to(self._path(snapshot.volume.name), path, None,
                      'snapshot %s' % snapshot.name)
        return self._model_update(path)

    def delete_snapshot(self, snapshot):
        self._remove(self._path(snapshot.name))

    def create_volume_from_snapshot(self, volume, snapshot):
        path = self._path(volume.name)
        self._copy_to(self._path(snapshot.name), path, volume.size * GiB,
                      'creating %s from %s' % (volume.name, snapshot.name))
        return self._model_update(path)

    # -- CloneOps ----------------------------------------------------------

    def create_cloned_volume(self, volume, src_vref):
        path = self._path(volume.name)
        self._copy_to(self._path(src_vref.name), path, volume.size * GiB,
                      'cloning %s to %s' % (src_vref.name, volume.name))
        return self._model_update(path)

    # -- RevertOps ---------------------------------------------------------

    def revert_to_snapshot(self, context, volume, snapshot):
        """Replace the volume's file by a copy of the snapshot's, atomically.

        The copy is written under a temporary name and renamed over the volume
        file, so a crash leaves either the old or the reverted content, and a
        re-run copies again.
        """
        if snapshot.volume_id != volume.id:
            raise exception.InvalidVolume(
                reason='snapshot %s does not belong to volume %s' % (snapshot.id, volume.id))
        src_path = self._path(snapshot.name)
        dst_path = self._path(volume.name)
        what = 'reverting %s to %s' % (volume.name, snapshot.name)
        with _backend_errors(what):
            try:
                src_fd = os.open(src_path, os.O_RDONLY)
            except FileNotFoundError as e:
                raise exception.VolumeBackendAPIException(
                    data='%s failed: %s is missing' % (what, src_path)) from e
            try:
                src_size = os.fstat(src_fd).st_size
                size = max(src_size, volume.size * GiB)

                def fill(fd):
                    _sparse_copy(src_fd, fd, src_size)
                    if size > src_size:
                        os.ftruncate(fd, size)

                self._publish(dst_path, fill)
            finally:
                os.close(src_fd)

    # -- ManageOps and ManageSnapshotOps -----------------------------------

    def _source(self, existing_ref, error):
        name = existing_ref.get('source-name') if isinstance(existing_ref, dict) else None
        if not isinstance(name, str) or not name:
            raise error(reason='the reference needs "source-name": the name of a file in %s'
                        % self._dir)
        if name.endswith(_TMP_SUFFIX) and name.startswith('.'):
            raise error(reason='%s is a file being written' % name)
        try:
            return self._path(name)
        except exception.InvalidInput as e:
            raise error(reason=e.msg) from None

    def _existing_size(self, path, target, error):
        """GiB (rounded up, at least 1) of ``path``, or of ``target`` if already renamed."""
        for candidate in (path, target):
            try:
                st = os.stat(candidate)
            except FileNotFoundError:
                continue
            if not os.path.isfile(candidate):
                raise error(reason='%s is not a regular file' % os.path.basename(candidate))
            return max(1, int(math.ceil(st.st_size / GiB)))
        raise error(reason='%s not found in %s' % (os.path.basename(path), self._dir))

    def _adopt(self, path, target, error):
        """Grow ``path`` to whole GiB and rename it to ``target``; re-runnable.

        Under the source file's lock: two nodes never adopt one file at once.
        """
        with self._file_lock(os.path.basename(path)), _backend_errors('managing %s' % path):
            if path != target:
                have_src = os.path.exists(path)
                have_dst = os.path.exists(target)
                if not have_src and have_dst:
                    return  # renamed by an earlier run
                if not have_src:
                    raise error(reason='%s not found in %s' % (os.path.basename(path),
                                                               self._dir))
                if have_dst:
                    if os.path.samefile(path, target):   # crashed between link and unlink
                        os.unlink(path)
                        return
                    raise error(reason='%s already exists' % os.path.basename(target))
            size = os.stat(path).st_size
            want = max(1, int(math.ceil(size / GiB))) * GiB
            if want > size:
                os.truncate(path, want)
            if path != target:
                os.link(path, target)   # refuses to replace an existing file
                os.unlink(path)
            dir_fd = os.open(self._dir, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def manage_existing_get_size(self, volume, existing_ref):
        path = self._source(existing_ref, exception.InvalidVolume)
        return self._existing_size(path, self._path(volume.name), exception.InvalidVolume)

    def manage_existing(self, volume, existing_ref):
        path = self._source(existing_ref, exception.InvalidVolume)
        target = self._path(volume.name)
        self._adopt(path, target, exception.InvalidVolume)
        return self._model_update(target)

    def unmanage(self, volume):
        """The file stays, under the volume's name (it can be managed again)."""

    def manage_existing_snapshot_get_size(self, snapshot, existing_ref):
        path = self._source(existing_ref, exception.InvalidSnapshot)
        return self._existing_size(path, self._path(snapshot.name), exception.InvalidSnapshot)

    def manage_existing_snapshot(self, snapshot, existing_ref):
        path = self._source(existing_ref, exception.InvalidSnapshot)
        target = self._path(snapshot.name)
        self._adopt(path, target, exception.InvalidSnapshot)
        return self._model_update(target)

    def unmanage_snapshot(self, snapshot):
        """The file stays, under the snapshot's name."""

    # -- ManageableListOps -------------------------------------------------

    _NAMED = re.compile(r'^(volume|snapshot)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-'
                        r'[0-9a-f]{4}-[0-9a-f]{12})$')

    def _listing(self, known_ids, snapshots):
        entries = []
        known = set(known_ids)
        with _backend_errors('listing %s' % self._dir):
            for entry in os.scandir(self._dir):
                if entry.name.startswith('.') or not entry.is_file(follow_symlinks=False):
                    continue
                m = self._NAMED.match(entry.name)
                is_snapshot = bool(m) and m.group(1) == 'snapshot'
                if is_snapshot != snapshots:
                    continue
                try:
                    size = entry.stat(follow_symlinks=False).st_size
                except FileNotFoundError:
                    continue
                cinder_id = m.group(2) if m and m.group(2) in known else None
                item = {'reference': {'source-name': entry.name},
                        'size': max(1, int(math.ceil(size / GiB))),
                        'safe_to_manage': cinder_id is None,
                        'reason_not_safe': 'already managed' if cinder_id else None,
                        'cinder_id': cinder_id, 'extra_info': None}
                if snapshots:
                    item['source_reference'] = None
                entries.append(item)
        return sorted(entries, key=lambda e: e['reference']['source-name'])

    def get_manageable_volumes(self, known_ids):
        return self._listing(known_ids, snapshots=False)

    def get_manageable_snapshots(self, known_ids):
        return self._listing(known_ids, snapshots=True)

    # -- LocalPathOps: the file itself -----------------------------------------

    def local_path(self, volume):
        path = self._path(volume.name)
        if self._size_if_exists(path) is None:
            raise exception.VolumeBackendAPIException(
                data='volume %s has no file %s' % (volume.id, path))
        return path

    # -- BackupDeviceOps: a snapshot is a file too --------------------------------

    def snapshot_local_path(self, snapshot):
        path = self._path(snapshot.name)
        if self._size_if_exists(path) is None:
            raise exception.VolumeBackendAPIException(
                data='snapshot %s has no file %s' % (snapshot.id, path))
        return path

    # -- BackupExportOps: the file itself, for backup services that see this directory --

    def export_backup_device(self, context, volume, name, path, connector):
        return {'driver_volume_type': 'local',
                'data': {'device_path': path, 'volume_id': volume.id, 'access_mode': 'rw',
                         'discard': False, 'qos_specs': None, 'encrypted': False}}

    def remove_backup_export(self, context, volume, name):
        return None

    # -- exports: the file itself, for hosts that see this directory -------------

    def create_export(self, context, volume, connector):
        if self._size_if_exists(self._path(volume.name)) is None:
            raise exception.VolumeBackendAPIException(
                data='volume %s has no file to export' % volume.id)
        return None

    def ensure_export(self, context, volume):
        return None

    def remove_export(self, context, volume):
        return None

    def initialize_connection(self, volume, connector):
        path = self._path(volume.name)
        if self._size_if_exists(path) is None:
            raise exception.VolumeBackendAPIException(
                data='volume %s has no file to connect' % volume.id)
        return {'driver_volume_type': 'local',
                'data': {'device_path': path, 'volume_id': volume.id, 'access_mode': 'rw',
                         'discard': False, 'qos_specs': None, 'encrypted': False}}

    def terminate_connection(self, volume, connector, **kwargs):
        return None
