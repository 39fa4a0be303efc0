"""The machinery under the chunked format (blockstore.backup.chunked): per-thread
codecs, hole punching, region arithmetic, progress reports, and the bounded pool
of workers that hash, compress and move chunks while at most ``max_inflight``
are held.
"""

import concurrent.futures
import ctypes
import errno
import os
import queue
import threading
import time
import zlib

from oslo_log import log as logging
import zstandard

from blockstore.backup.drivers import base
from blockstore.volume.drivers import lvm_datapath

LOG = logging.getLogger(__name__)

ZSTD_LEVEL = 1          # fast; on volume data barely worse than level 3
ZLIB_LEVEL = 1
PROGRESS_INTERVAL = 0.25  # seconds between progress calls
DIGEST = 32
_POLL = 0.1


class BackupCancelled(Exception):
    """The backup or restore was cancelled (``cancelled()`` returned True)."""


# ---------------------------------------------------------------------------
# Compression (compressor objects are per thread: zstandard's are not shared)
# ---------------------------------------------------------------------------

class Codecs(threading.local):
    def __init__(self):
        self.zc = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        self.zd = zstandard.ZstdDecompressor()

    def compress(self, kind, data):
        if kind == 'zstd':
            return self.zc.compress(data)
        if kind == 'zlib':
            return zlib.compress(data, ZLIB_LEVEL)
        raise ValueError(kind)

    def decompress(self, kind, data, length):
        if kind == 'none':
            return data
        if kind == 'zstd':
            return self.zd.decompress(data, max_output_size=length)
        if kind == 'zlib':
            return zlib.decompress(data)
        raise base.BackupStoreError(reason='unknown compression %r' % (kind,))


codecs = Codecs()


# ---------------------------------------------------------------------------
# Holes on the destination
# ---------------------------------------------------------------------------

_FALLOC_FL_KEEP_SIZE = 0x01
_FALLOC_FL_PUNCH_HOLE = 0x02
_libc = None


def _fallocate():
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int,
                                        ctypes.c_int64, ctypes.c_int64]
        except (OSError, AttributeError):
            _libc = False
    return _libc.fallocate if _libc else None


def punch_hole(fd, offset, length):
    """Deallocate a range of a regular file (it reads as zeros, size kept);
    falls back to writing zeros where the file system cannot punch."""
    if length <= 0:
        return
    fallocate = _fallocate()
    if fallocate is not None:
        if fallocate(fd, _FALLOC_FL_PUNCH_HOLE | _FALLOC_FL_KEEP_SIZE, offset, length) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err))
    lvm_datapath.zero_fd(fd, offset, length)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def normalize_regions(regions, length):
    """Sorted, merged ``(start, end)`` of ``regions`` clipped to [0, length)."""
    out = []
    for start, size in sorted(regions):
        start, end = max(0, start), min(length, start + size)
        if end <= start:
            continue
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out


def inherit_unchanged(changed_regions, length, block_size, parent_digests, parent_present,
                       digests, present):
    """Fill ``digests``/``present`` with the parent's entries of the blocks outside
    ``changed_regions``; return those regions widened to whole blocks (what to read).

    A changed block starts as a hole: reading it records its data, or leaves it a
    hole when it reads as zeros (a range that was unmapped since the parent).
    """
    shared = min(len(parent_present), len(present))
    present[:shared] = parent_present[:shared]
    digests[:shared * DIGEST] = parent_digests[:shared * DIGEST]
    widened = []
    for start, end in normalize_regions(changed_regions, length):
        lo = start - start % block_size
        hi = min(-(-end // block_size) * block_size, length)
        for b in range(lo // block_size, -(-hi // block_size)):
            present[b] = 0
        widened.append((lo, hi - lo))
    return widened


def merge_runs(flags_or_indexes):
    """Merge sorted integers into ``[first, last + 1)`` runs."""
    runs = []
    for i in flags_or_indexes:
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return runs


class Progress:
    def __init__(self, callback, total):
        self.callback, self.total = callback, total
        self.done = 0
        self._last = 0.0

    def add(self, n, force=False):
        self.done += n
        if self.callback is None:
            return
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_INTERVAL:
            self._last = now
            try:
                self.callback(self.done, self.total)
            except Exception:  # a progress report never fails the work
                LOG.exception('backup progress callback failed')


class Pipeline:
    """A thread pool with at most ``max_inflight`` tasks submitted and not yet
    finished; the first failure stops it."""

    def __init__(self, workers, max_inflight):
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix='backup-worker')
        self.slots = threading.Semaphore(max_inflight)
        self.finished = queue.Queue()
        self.pending = 0
        self.results = []
        self.error = None

    def acquire(self, cancelled):
        """Wait for a free slot; collects finished tasks meanwhile."""
        while not self.slots.acquire(timeout=_POLL):
            self._gather()
            if cancelled is not None and cancelled():
                raise BackupCancelled()
        self._gather()

    def _gather(self):
        found = self.collect()
        self.results.extend(found)

    def submit(self, fn, *args):
        self.pending += 1
        try:
            future = self.pool.submit(fn, *args)
        except BaseException:
            self.pending -= 1
            self.slots.release()
            raise
        future.add_done_callback(self._done)

    def _done(self, future):
        self.slots.release()
        self.finished.put(future)

    def collect(self, block=False):
        """Results of the tasks finished so far (``block``: wait for one, if any
        is pending); raises the first task failure."""
        while self.pending:
            try:
                future = self.finished.get(block=block, timeout=_POLL if block else None)
            except queue.Empty:
                if block:
                    continue
                break
            self.pending -= 1
            if future.cancelled():
                continue
            err = future.exception()
            if err is not None:
                if self.error is None:
                    self.error = err
                continue
            self.results.append(future.result())
            if block:
                break
        if self.error is not None:
            raise self.error
        results, self.results = self.results, []
        return results

    def drain(self):
        results = self.collect()
        while self.pending:
            results.extend(self.collect(block=True))
        return results

    def stop(self):
        """Cancel what has not started and wait for what has."""
        self.pool.shutdown(wait=True, cancel_futures=True)
