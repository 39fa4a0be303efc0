"""How the LVM driver reaches and moves a volume's bytes.

* :class:`LoopDevices` wraps ``losetup``. On kernels without device-mapper
  an LV has no ``/dev/VG/LV``; a loop device over the byte range of its
  (contiguous) extents on the PV stands in for it.
* :func:`zero_range` and :func:`copy_range` move bytes between block devices
  (or files, in tests): zeroing uses the kernel's BLKZEROOUT (or BLKDISCARD
  on a loop device over a regular file, which punches holes) and falls back
  to writing zeros; copying writes data chunks, zeroes all-zero chunks and,
  given a map of where the source may hold data, skips its holes unread.
"""

import collections
import errno
import fcntl
import json
import os
import re
import stat
import struct

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import processutils

LOG = logging.getLogger(__name__)

BLKDISCARD = 0x1277   # _IO(0x12, 119)
BLKZEROOUT = 0x127F   # _IO(0x12, 127)
CHUNK = 4 * 1024 * 1024
_ZEROS = bytes(CHUNK)

#: One attached loop device: ``name`` (/dev/loopN), ``back_file``, the backing
#: file's identity ``back_dev`` ('major:minor') and ``back_ino``, ``offset``
#: and ``sizelimit`` in bytes (0: to the end of the file).
LoopInfo = collections.namedtuple('LoopInfo', ['name', 'back_file', 'back_dev', 'back_ino',
                                               'offset', 'sizelimit'])

_LOOP_NAME_RE = re.compile(r'^/dev/loop\d+$')


def file_identity(path):
    """``('major:minor', inode)`` of ``path``, as losetup reports a backing file."""
    st = os.stat(path)
    return '%d:%d' % (os.major(st.st_dev), os.minor(st.st_dev)), st.st_ino


class LoopDevices:
    """``losetup`` commands: list, find, attach and detach loop devices."""

    LIST_COLUMNS = 'NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN,OFFSET,SIZELIMIT'

    def __init__(self, execute=processutils.execute, timeout=processutils.DEFAULT_TIMEOUT):
        self._execute = execute
        self.timeout = timeout

    def list(self, device=None):
        """Every attached loop device (or just ``device``) as LoopInfo."""
        argv = ['losetup', '--json', '--list', '-O', self.LIST_COLUMNS]
        if device:
            argv.append(device)
        out = self._execute(*argv, timeout=self.timeout).stdout
        return self.parse_list(out)

    @staticmethod
    def parse_list(text):
        """Parse ``losetup --json --list`` output (empty output: no devices)."""
        if not text.strip():
            return []
        try:
            data = json.loads(text)
        except ValueError as e:
            raise exception.VolumeBackendAPIException(
                data='cannot parse losetup output: %s' % e) from e
        result = []
        for item in data.get('loopdevices', []):
            back = item.get('back-file') or ''
            if back.endswith(' (deleted)'):
                back = back[:-len(' (deleted)')]
            ino = item.get('back-ino')
            result.append(LoopInfo(item['name'], back,
                                   (item.get('back-maj:min') or '').strip() or None,
                                   int(ino) if ino not in (None, '') else None,
                                   int(item.get('offset') or 0),
                                   int(item.get('sizelimit') or 0)))
        return result

    def find(self, back_file, offset=0, sizelimit=0):
        """Names of the loop devices over exactly that range of ``back_file``.

        Matched by the file's device and inode, so a loop device left over a
        deleted file of the same name never matches.
        """
        try:
            dev, ino = file_identity(back_file)
        except OSError:
            return []
        return [info.name for info in self.list()
                if info.offset == offset and info.sizelimit == sizelimit
                and info.back_ino == ino and info.back_dev == dev]

    def attach(self, back_file, offset=0, sizelimit=0):
        """Attach a new loop device over a range of ``back_file``; returns its name."""
        argv = ['losetup', '--show', '-f']
        if offset:
            argv += ['-o', str(offset)]
        if sizelimit:
            argv += ['--sizelimit', str(sizelimit)]
        argv.append(back_file)
        name = self._execute(*argv, timeout=self.timeout).stdout.strip()
        if not _LOOP_NAME_RE.match(name):
            raise exception.VolumeBackendAPIException(
                data='losetup returned an unexpected device name %r' % name)
        return name

    def detach(self, device):
        """Detach ``device``; already detached is fine.

        A device still open elsewhere (e.g. by tgtd) is detached by the kernel
        when its last user closes it.
        """
        if not _LOOP_NAME_RE.match(device or ''):
            raise exception.InvalidInput(reason='not a loop device: %r' % (device,))
        try:
            self._execute('losetup', '-d', device, timeout=self.timeout, log_errors=False)
        except exception.ProcessExecutionError as e:
            if 'No such device' in (e.stderr or ''):
                return
            raise

    def backing_of(self, device):
        """``(file, offset)`` under ``device``: its backing file if it is a loop
        device, else the device itself at offset 0."""
        if _LOOP_NAME_RE.match(device):
            for info in self.list(device):
                if info.name == device and info.back_file:
                    return info.back_file, info.offset
        return device, 0


def _is_block_device(fd):
    return stat.S_ISBLK(os.fstat(fd).st_mode)


def is_regular_file(path):
    """Whether ``path`` is a regular file (a loop device over it discards by
    punching holes, so discarded ranges read back as zeros)."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def flush_device(path):
    """Write a device's cached writes through to what is behind it (a loop device:
    into its backing file, where SEEK_DATA and other loop devices see them)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise exception.VolumeBackendAPIException(
            data='flushing %s failed: %s' % (path, e)) from e


def file_data_regions(path, offset, length):
    """``(start, size)`` of the ranges of ``path`` within ``[offset, offset +
    length)`` that may hold data, relative to ``offset``; holes are skipped.

    Without SEEK_DATA support the whole range is one region.
    """
    regions = []
    end = offset + length
    fd = os.open(path, os.O_RDONLY)
    try:
        pos = offset
        while pos < end:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # only holes up to EOF
                    break
                if e.errno == errno.EINVAL and pos == offset:
                    return [(0, length)]
                raise
            if start >= end:
                break
            stop = min(os.lseek(fd, start, os.SEEK_HOLE), end)
            regions.append((start - offset, stop - start))
            pos = stop
    finally:
        os.close(fd)
    return regions


def _write_zeros(fd, offset, length):
    end = offset + length
    while offset < end:
        n = os.pwrite(fd, _ZEROS[:min(CHUNK, end - offset)], offset)
        offset += n


def _zero_fd(fd, offset, length, block_device, discard_zeroes=False):
    """Zero a range: BLKDISCARD when the caller knows discarded blocks read as
    zeros (loop over a file), else BLKZEROOUT, else writing zeros."""
    if length <= 0:
        return
    if block_device:
        ranges = struct.pack('QQ', offset, length)
        for request in ((BLKDISCARD, BLKZEROOUT) if discard_zeroes else (BLKZEROOUT,)):
            try:
                fcntl.ioctl(fd, request, ranges)
                return
            except OSError as e:
                if e.errno not in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL):
                    raise
                LOG.debug('ioctl %#x unsupported (%s)', request, e)
    _write_zeros(fd, offset, length)


def zero_fd(fd, offset, length, discard_zeroes=False):
    """Zero a range of an open file or block device (see :func:`zero_range`)."""
    _zero_fd(fd, offset, length, _is_block_device(fd), discard_zeroes)


def discard_range(path, offset, length):
    """Discard (unmap) ``length`` bytes of block device ``path`` at ``offset``.

    Best effort: returns False when the device does not support discard.
    """
    try:
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.ioctl(fd, BLKDISCARD, struct.pack('QQ', offset, length))
        finally:
            os.close(fd)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.ENOTTY, errno.EINVAL):
            LOG.debug('discard unsupported on %s (%s)', path, e)
            return False
        raise exception.VolumeBackendAPIException(
            data='discarding %d bytes of %s failed: %s' % (length, path, e)) from e
    return True


def zero_range(path, offset, length, discard_zeroes=False):
    """Make ``length`` bytes of ``path`` at ``offset`` read as zeros, durably.

    :param discard_zeroes: ``path`` is a loop device over a regular file, so
        discarding (punching holes) zeroes and keeps the file sparse.
    """
    try:
        fd = os.open(path, os.O_RDWR)
        try:
            _zero_fd(fd, offset, length, _is_block_device(fd), discard_zeroes)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise exception.VolumeBackendAPIException(
            data='zeroing %d bytes of %s failed: %s' % (length, path, e)) from e


def _copy_region(sfd, dfd, start, length, zero):
    """Copy one region chunk by chunk; all-zero chunks go through ``zero``."""
    pos, end, zero_start = start, start + length, None
    while pos < end:
        n = min(CHUNK, end - pos)
        buf = os.pread(sfd, n, pos)
        if len(buf) != n:
            raise exception.VolumeBackendAPIException(
                data='short read at %d (%d of %d bytes)' % (pos, len(buf), n))
        if buf == _ZEROS[:n]:
            if zero_start is None:
                zero_start = pos
        else:
            if zero_start is not None:
                zero(zero_start, pos - zero_start)
                zero_start = None
            view = memoryview(buf)
            written = 0
            while written < n:
                written += os.pwrite(dfd, view[written:], pos + written)
        pos += n
    if zero_start is not None:
        zero(zero_start, pos - zero_start)


def copy_range(src, dst, length, data_regions=None, discard_zeroes=False,
               dst_reads_zeros=False):
    """Make the first ``length`` bytes of ``dst`` equal to ``src``'s, durably.

    :param data_regions: ``(start, size)`` ranges outside which ``src`` is
        known to read as zeros (e.g. :func:`file_data_regions` of its backing
        file); those gaps are zeroed on ``dst`` without reading. None: read
        everything.
    :param discard_zeroes: see :func:`zero_range`, for ``dst``.
    :param dst_reads_zeros: ``dst`` is known to read as zeros already (a file
        just created): gaps and all-zero chunks are left alone, so a sparse
        source stays sparse.
    """
    if data_regions is None:
        data_regions = [(0, length)]
    try:
        sfd = os.open(src, os.O_RDONLY)
        try:
            dfd = os.open(dst, os.O_RDWR)
            try:
                block = _is_block_device(dfd)

                def zero(offset, size):
                    if not dst_reads_zeros:
                        _zero_fd(dfd, offset, size, block, discard_zeroes)

                pos = 0
                for start, size in sorted(data_regions):
                    start, stop = max(start, pos), min(start + size, length)
                    if stop <= start:
                        continue
                    zero(pos, start - pos)
                    _copy_region(sfd, dfd, start, stop - start, zero)
                    pos = stop
                zero(pos, length - pos)
                os.fsync(dfd)
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
    except OSError as e:
        raise exception.VolumeBackendAPIException(
            data='copying %d bytes from %s to %s failed: %s' % (length, src, dst, e)) from e
