"""The chunked backup format, and the parallel pipeline that writes and reads it.

A backup of a volume of ``size`` bytes is a set of objects in one container
of a :class:`~blockstore.backup.drivers.base.BackupStore`, all named after the
backup's ``prefix`` (doc/backup-format.rst documents it for readers without
blockstore; tools/restore-backup.py is such a reader):

* ``<prefix>-NNNNN``: data objects, one per chunk (``chunk_size`` bytes of
  the volume; NNNNN is the chunk's index, five digits or more) that holds
  something to store. Its uncompressed bytes are the concatenation of its
  ``extents`` (volume ranges, whole blocks); all-zero blocks and holes are
  never stored, and an incremental stores only the blocks whose SHA-256
  differs from its parent's.
* ``<prefix>_sha256file``: the block map, the SHA-256 of every
  ``block_size`` block of the volume (null for a hole or all-zero block).
* ``<prefix>_metadata``: JSON describing the backup and listing its data
  objects; written last, so a backup whose metadata exists is complete.

Backup pipeline: the calling thread walks the chunks in order, skips those
with no data region, asks the kernel to read ahead the others and hands each
to a pool of ``workers`` threads; a worker reads the chunk's data regions
(large ``preadv`` into a reused buffer, packed by whole blocks), detects zero
blocks, hashes, compresses and puts it. Reading, hashing, compression and
I/O release the GIL on these buffer sizes, so the workers run in parallel,
the copy out of the page cache included. At most ``max_inflight`` chunks are
submitted and not yet stored (a semaphore), and only running workers hold a
chunk's bytes, so memory stays flat whatever the volume size. Restore works
the same way backwards: fetch + decompress + verify in the pool, ``pwrite``
of the blocks each backup of the chain owns, holes punched (files) or
zeroed (devices).
"""

import concurrent.futures
import datetime
import hashlib
import json
import mmap
import os
import re
import stat
import threading
import zlib

from oslo_log import log as logging
import zstandard

from blockstore.backup.drivers import base
from blockstore.backup.pipeline import (  # noqa: F401  (BackupCancelled, DIGEST re-exported)
    DIGEST, BackupCancelled, Pipeline, Progress, codecs, inherit_unchanged,
    normalize_regions, merge_runs, punch_hole)
from blockstore.common import exception
from blockstore.volume.drivers import lvm_datapath

LOG = logging.getLogger(__name__)

FORMAT = 'blockstore-chunked'
FORMAT_VERSION = 1
COMPRESSIONS = ('zstd', 'zlib', 'none')
#: A chunk whose first block compresses to more than this ratio is stored raw.
INCOMPRESSIBLE_RATIO = 0.95
_PEEK = 256   # bytes looked at first when telling whether a block is all zeros

METADATA_SUFFIX = '_metadata'
SHA256FILE_SUFFIX = '_sha256file'
_OBJECT_RE = re.compile(r'^(-\d{5,}|%s|%s)$' % (METADATA_SUFFIX, SHA256FILE_SUFFIX))


class BackupIOError(exception.BlockstoreException):
    msg_fmt = 'Backup I/O error: %(reason)s'
    safe = True


def object_name(prefix, index):
    return '%s-%05d' % (prefix, index)


def metadata_name(prefix):
    return prefix + METADATA_SUFFIX


def sha256file_name(prefix):
    return prefix + SHA256FILE_SUFFIX


# ---------------------------------------------------------------------------
# The format
# ---------------------------------------------------------------------------

class ChunkedBackup:
    """Backs a volume up to a store as chunked objects, and restores it.

    :param store: a BackupStore.
    :param chunk_size: bytes of volume per data object (before compression).
    :param block_size: granularity of the hash map and of hole detection;
        divides ``chunk_size``.
    :param compression: 'zstd', 'zlib' or 'none' (per object: an
        incompressible chunk is stored raw and recorded 'none').
    :param workers: threads hashing/compressing/storing (None: CPUs).
    :param max_inflight: chunks held in memory at once (None: 2 * workers).
    """

    def __init__(self, store, chunk_size, block_size, compression='zstd', workers=None,
                 max_inflight=None):
        if compression not in COMPRESSIONS:
            raise exception.InvalidInput(reason='unknown backup compression %r' % (compression,))
        if block_size <= 0 or chunk_size <= 0 or chunk_size % block_size:
            raise exception.InvalidInput(
                reason='backup block size %s must divide chunk size %s' % (block_size, chunk_size))
        self.store = store
        self.chunk_size = chunk_size
        self.block_size = block_size
        self.compression = compression
        self.workers = workers or os.cpu_count() or 1
        self.max_inflight = max_inflight or 2 * self.workers
        # Stores that declare it take memoryviews in put (no copy of raw chunks).
        self._views_ok = getattr(store, 'accepts_buffers', False)

    @classmethod
    def from_conf(cls, store, conf):
        """A ChunkedBackup configured by the [backup] options of ``conf``."""
        b = conf.backup
        return cls(store, b.backup_chunk_size, b.backup_block_size, b.backup_compression,
                   b.backup_workers, b.backup_max_inflight)

    # -- metadata ---------------------------------------------------------

    def read_metadata(self, container, prefix):
        """The metadata dict of a backup; BackupObjectNotFound if it has none."""
        raw = self.store.get(container, metadata_name(prefix))
        try:
            meta = json.loads(raw)
        except ValueError as e:
            raise base.BackupStoreError(
                reason='metadata of backup %s in %s is not JSON: %s' % (prefix, container, e))
        if not isinstance(meta, dict) or meta.get('format') != FORMAT:
            raise base.BackupStoreError(
                reason='%s in %s is not a %s backup' % (prefix, container, FORMAT))
        if meta.get('version', 0) > FORMAT_VERSION:
            raise base.BackupStoreError(
                reason='backup %s has format version %s; this reader knows up to %s'
                % (prefix, meta.get('version'), FORMAT_VERSION))
        return meta

    def read_block_map(self, meta):
        """``(digests, present)``: 32 bytes per block, and 1 where a block holds data."""
        entry = meta['sha256file']
        raw = self.store.get(meta['container'], entry['name'])
        data = self._unpack(raw, entry, 'block map of backup %s' % meta['prefix'])
        try:
            hexes = json.loads(data)['sha256']
        except (ValueError, KeyError, TypeError) as e:
            raise base.BackupStoreError(
                reason='block map of backup %s is unreadable: %s' % (meta['prefix'], e))
        digests = bytearray(DIGEST * len(hexes))
        present = bytearray(len(hexes))
        for i, h in enumerate(hexes):
            if h is not None:
                digests[i * DIGEST:(i + 1) * DIGEST] = bytes.fromhex(h)
                present[i] = 1
        return digests, present

    @staticmethod
    def _unpack(raw, entry, what, verify=True):
        """Decompress a stored object and verify its length (and SHA-256: the
        block map has one; data objects are verified block by block)."""
        if len(raw) != entry['compressed_length']:
            raise base.BackupStoreError(
                reason='%s (%s) is corrupt: %d bytes stored, %d expected'
                % (what, entry['name'], len(raw), entry['compressed_length']))
        try:
            data = codecs.decompress(entry['compression'], raw, entry['length'])
        except (zstandard.ZstdError, zlib.error) as e:
            raise base.BackupStoreError(
                reason='%s (%s) is corrupt: cannot decompress: %s' % (what, entry['name'], e))
        if len(data) != entry['length']:
            raise base.BackupStoreError(
                reason='%s (%s) is corrupt: %d bytes once decompressed, %d expected'
                % (what, entry['name'], len(data), entry['length']))
        if verify and hashlib.sha256(data).hexdigest() != entry['sha256']:
            raise base.BackupStoreError(
                reason='%s (%s) is corrupt: SHA-256 mismatch' % (what, entry['name']))
        return data

    def _pack(self, data):
        """``(stored bytes, compression)`` of an object's data."""
        kind = self.compression
        if kind != 'none':
            sample = data[:self.block_size]
            if len(codecs.compress(kind, sample)) > INCOMPRESSIBLE_RATIO * len(sample):
                kind = 'none'
            else:
                out = codecs.compress(kind, data)
                if len(out) < len(data):
                    return out, kind
                kind = 'none'
        if isinstance(data, memoryview) and not self._views_ok:
            data = data.tobytes()
        return data, kind

    # -- backup -----------------------------------------------------------

    def backup(self, source_path, length, container, prefix, parent=None, volume_meta=None,
               data_regions=None, progress=None, cancelled=None, changed_regions=None):
        """Back up ``length`` bytes of ``source_path``; returns (and stores) the metadata.

        :param parent: the parent's metadata (:meth:`read_metadata`): an
            incremental stores only the blocks that differ from it.
        :param data_regions: ``[(offset, length)]`` outside which the source
            reads as zeros; None: SEEK_DATA/SEEK_HOLE of a regular file, or
            everything of a device.
        :param progress: ``progress(bytes_done, total)``, at most ~4 times a second.
        :param cancelled: ``cancelled()`` polled between chunks; True raises
            BackupCancelled (the objects stored so far stay: delete() them).
        :param changed_regions: with ``parent``: ``[(offset, length)]`` outside
            which the source holds exactly what the parent backed up (e.g.
            ``thin_delta`` between the parent's snapshot and this one). Only
            these regions (widened to whole blocks) are read; every other
            block keeps the parent's entry in the block map, so an
            incremental after a 1 % change reads about 1 % of the volume.
        """
        if changed_regions is not None and parent is None:
            raise exception.InvalidInput(reason='changed regions need a parent backup')
        chunk_size, block_size = self.chunk_size, self.block_size
        parent_digests = parent_present = None
        if parent is not None:
            # Blocks are compared with the parent's: same geometry as the chain.
            chunk_size, block_size = parent['chunk_size'], parent['block_size']
            parent_digests, parent_present = self.read_block_map(parent)
        n_blocks = -(-length // block_size)
        digests = bytearray(DIGEST * n_blocks)
        present = bytearray(n_blocks)
        if changed_regions is not None:
            data_regions = inherit_unchanged(changed_regions, length, block_size,
                                              parent_digests, parent_present, digests, present)
        zeros = bytes(block_size)
        self.store.ensure_container(container)

        try:
            fd = os.open(source_path, os.O_RDONLY)
        except OSError as e:
            raise BackupIOError(reason='cannot open %s: %s' % (source_path, e.strerror))
        pipeline = Pipeline(self.workers, self.max_inflight)
        report = Progress(progress, length)
        buffers = []           # free chunk buffers, reused
        buffers_lock = threading.Lock()
        bytes_read = 0

        def give_back(buf):
            with buffers_lock:
                buffers.append(buf)

        def work(index, start, end, pieces):
            """Read, hash, compare, compress and store one chunk (in a worker).

            Reading here rather than in the calling thread lets the copy out
            of the page cache run in parallel too (it costs about as much as
            hashing). ``pieces``: the data regions within [start, end).
            """
            size = end - start
            with buffers_lock:
                buf = buffers.pop() if buffers else None
            if buf is None:
                # Anonymous memory: pages a sparse chunk never uses stay unallocated.
                buf = mmap.mmap(-1, chunk_size)
            try:
                segments, n_read = self._read_chunk(fd, source_path, buf, end, pieces,
                                                    block_size, zeros)
            except BaseException:
                give_back(buf)
                raise
            view = memoryview(buf)
            runs = []          # [buffer lo, buffer hi, volume offset] to store
            for vol, seg_len, pos in segments:
                for lo in range(pos, pos + seg_len, block_size):
                    hi = min(lo + block_size, pos + seg_len)
                    # A non-zero first few bytes settle most blocks without
                    # comparing (and holding the GIL over) the whole block.
                    if (buf[lo:min(lo + _PEEK, hi)] == zeros[:min(_PEEK, hi - lo)]
                            and buf[lo:hi] == (zeros if hi - lo == block_size
                                               else zeros[:hi - lo])):
                        continue
                    voff = vol + lo - pos
                    b = voff // block_size
                    d = hashlib.sha256(view[lo:hi]).digest()
                    digests[b * DIGEST:(b + 1) * DIGEST] = d
                    present[b] = 1
                    if (parent_present is not None and b < len(parent_present)
                            and parent_present[b]
                            and parent_digests[b * DIGEST:(b + 1) * DIGEST] == d):
                        continue
                    if runs and runs[-1][1] == lo and runs[-1][2] + lo - runs[-1][0] == voff:
                        runs[-1][1] = hi
                    else:
                        runs.append([lo, hi, voff])
            if not runs:
                give_back(buf)
                return size, n_read, None
            if len(runs) == 1:
                data = view[runs[0][0]:runs[0][1]]
            else:
                data = b''.join(view[lo:hi] for lo, hi, _v in runs)
            stored, kind = self._pack(data)
            raw_view = isinstance(stored, memoryview)
            if not raw_view:
                give_back(buf)  # compressed or copied: the chunk's buffer is free
            name = object_name(prefix, index)
            try:
                self.store.put(container, name, stored)
            finally:
                if raw_view:
                    give_back(buf)
            record = {'name': name, 'index': index, 'offset': runs[0][2],
                      'length': sum(hi - lo for lo, hi, _v in runs),
                      'compressed_length': len(stored), 'compression': kind,
                      'extents': [[v, hi - lo] for lo, hi, v in runs]}
            return size, n_read, record

        objects = []
        try:
            if data_regions is None:
                if stat.S_ISREG(os.fstat(fd).st_mode):
                    data_regions = lvm_datapath.file_data_regions(source_path, 0, length)
                else:
                    data_regions = [(0, length)]
            regions = normalize_regions(data_regions, length)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except (AttributeError, OSError):
                pass
            r = 0
            for index in range(-(-length // chunk_size)):
                if cancelled is not None and cancelled():
                    raise BackupCancelled()
                start = index * chunk_size
                end = min(start + chunk_size, length)
                while r < len(regions) and regions[r][1] <= start:
                    r += 1
                pieces = []
                k = r
                while k < len(regions) and regions[k][0] < end:
                    pieces.append((max(regions[k][0], start), min(regions[k][1], end)))
                    k += 1
                if not pieces:
                    report.add(end - start)
                    for result in pipeline.collect():
                        bytes_read += self._finished(objects, report, *result)
                    continue
                pipeline.acquire(cancelled)
                for lo, hi in pieces:   # start the kernel's readahead of what comes
                    try:
                        os.posix_fadvise(fd, lo, hi - lo, os.POSIX_FADV_WILLNEED)
                    except (AttributeError, OSError):
                        break
                pipeline.submit(work, index + 1, start, end, pieces)
                for result in pipeline.collect():
                    bytes_read += self._finished(objects, report, *result)
            for result in pipeline.drain():
                bytes_read += self._finished(objects, report, *result)
            if cancelled is not None and cancelled():   # also after the last chunk
                raise BackupCancelled()
        finally:
            pipeline.stop()
            os.close(fd)
            del buffers[:]

        objects.sort(key=lambda o: o['index'])
        hexes = [digests[i * DIGEST:(i + 1) * DIGEST].hex() if present[i] else None
                 for i in range(n_blocks)]
        map_data = json.dumps({'format': FORMAT, 'block_size': block_size, 'size': length,
                               'sha256': hexes}, separators=(',', ':')).encode()
        map_stored, map_kind = self._pack(map_data)
        map_entry = {'name': sha256file_name(prefix), 'length': len(map_data),
                     'compressed_length': len(map_stored), 'compression': map_kind,
                     'sha256': hashlib.sha256(map_data).hexdigest()}
        self.store.put(container, map_entry['name'], map_stored)
        meta = {
            'format': FORMAT, 'version': FORMAT_VERSION,
            'container': container, 'prefix': prefix,
            'size': length, 'chunk_size': chunk_size, 'block_size': block_size,
            'compression': self.compression,
            'parent': ({'container': parent['container'], 'prefix': parent['prefix']}
                       if parent is not None else None),
            'created_at': datetime.datetime.now(datetime.timezone.utc).isoformat(),
            'volume_meta': volume_meta or {},
            'object_count': len(objects),
            'bytes_read': bytes_read,
            'bytes_stored': sum(o['compressed_length'] for o in objects),
            'data_blocks': sum(present),
            'stored_blocks': sum(-(-e[1] // block_size) for o in objects for e in o['extents']),
            'sha256file': map_entry,
            'objects': objects,
        }
        self.store.put(container, metadata_name(prefix),
                       json.dumps(meta, indent=1, sort_keys=True).encode())
        report.add(0, force=True)
        LOG.info('backup %s: %d bytes read, %d objects, %d bytes stored', prefix, bytes_read,
                 len(objects), meta['bytes_stored'])
        return meta

    @staticmethod
    def _finished(objects, report, size, n_read, record):
        if record is not None:
            objects.append(record)
        report.add(size)
        return n_read

    @staticmethod
    def _read_chunk(fd, path, buf, end, pieces, block_size, zeros):
        """Read ``pieces`` (volume ranges of one chunk, ending by ``end``) into
        ``buf``, packed by whole blocks: the blocks a piece touches, in order,
        their bytes outside the pieces zeroed. Returns the segments
        ``[(volume offset, length, buffer offset)]`` and the bytes read."""
        view = memoryview(buf)
        segments = []
        for lo, hi in pieces:
            b_lo = lo - lo % block_size
            b_hi = min(-(-hi // block_size) * block_size, end)
            if segments and segments[-1][0] + segments[-1][1] >= b_lo:
                seg = segments[-1]
                seg[1] = max(seg[1], b_hi - seg[0])
                seg[3].append((lo, hi))
            else:
                pos = segments[-1][2] + segments[-1][1] if segments else 0
                segments.append([b_lo, b_hi - b_lo, pos, [(lo, hi)]])
        done = 0
        for vol, seg_len, pos, seg_pieces in segments:
            at = vol   # volume offset up to which the segment is filled

            def zero(lo, hi):
                while lo < hi:
                    n = min(len(zeros), hi - lo)
                    view[pos + lo - vol:pos + lo - vol + n] = zeros[:n]
                    lo += n

            for lo, hi in seg_pieces:
                zero(at, lo)
                off = lo
                while off < hi:
                    try:
                        n = os.preadv(fd, [view[pos + off - vol:pos + hi - vol]], off)
                    except OSError as e:
                        raise BackupIOError(reason='reading %s at offset %d failed: %s'
                                            % (path, off, e.strerror))
                    if n == 0:      # past the end of a short file: zeros
                        zero(off, hi)
                        break
                    off += n
                done += hi - lo
                at = hi
            zero(at, vol + seg_len)
        return [(vol, seg_len, pos) for vol, seg_len, pos, _p in segments], done

    # -- restore ----------------------------------------------------------

    def restore(self, chain, dest_path, length, dest_reads_zeros=False, progress=None,
                cancelled=None, discard_zeroes=False):
        """Write the backup ``chain[-1]`` onto ``dest_path`` (``length`` bytes).

        :param chain: metadata dicts, the full backup first, each next one an
            incremental of the previous.
        :param dest_reads_zeros: the destination reads as zeros already (a new
            file or volume): holes are left alone.
        :param discard_zeroes: on a block device, discarding a range makes it read
            as zeros (a thin LV, a loop over a file): holes are discarded, not
            written, so they stay unallocated.
        """
        if not chain:
            raise exception.InvalidInput(reason='empty backup chain')
        newest = chain[-1]
        self._check_chain(chain)
        size = newest['size']
        if size > length:
            raise exception.InvalidInput(
                reason='backup of %d bytes does not fit in %d bytes' % (size, length))
        block_size = newest['block_size']
        # Every backup's block map: the digests verify the blocks its objects hold.
        maps = [self.read_block_map(meta) for meta in chain]
        present = maps[-1][1]
        n_blocks = len(present)
        claimed = bytearray(n_blocks)
        tasks = []
        # Newest first: each block comes from the newest backup that stored it.
        for level in range(len(chain) - 1, -1, -1):
            meta = chain[level]
            for obj in meta['objects']:
                writes = []   # (position in object, volume offset, length, block)
                pos = 0
                for off, ln in obj['extents']:
                    for b in range(off // block_size, -(-(off + ln) // block_size)):
                        if b < n_blocks and present[b] and not claimed[b]:
                            claimed[b] = 1
                            lo = b * block_size
                            writes.append((pos + lo - off, lo,
                                           min(lo + block_size, off + ln, size) - lo, b))
                    pos += ln
                if writes:
                    tasks.append((meta, maps[level][0], obj, writes))
        missing = [b for b in range(n_blocks) if present[b] and not claimed[b]]
        if missing:
            raise base.BackupStoreError(
                reason='backup %s: block %d (and %d more) is stored in no object of its chain'
                % (newest['prefix'], missing[0], len(missing) - 1))
        holes = [[lo * block_size, min(hi * block_size, size)]
                 for lo, hi in merge_runs(b for b in range(n_blocks) if not present[b])]
        if length > size:
            if holes and holes[-1][1] == size:
                holes[-1][1] = length
            else:
                holes.append([size, length])
        del claimed, present

        try:
            fd = os.open(dest_path, os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError as e:
            raise BackupIOError(reason='cannot open %s: %s' % (dest_path, e.strerror))
        report = Progress(progress, length)
        pipeline = Pipeline(self.workers, self.max_inflight)

        def work(meta, digests, obj, writes):
            what = 'object of backup %s' % meta['prefix']
            raw = self.store.get(meta['container'], obj['name'])
            data = memoryview(self._unpack(raw, obj, what, verify=False))
            del raw
            total = 0
            for p, off, n, b in writes:
                block = data[p:p + n]
                if hashlib.sha256(block).digest() != digests[b * DIGEST:(b + 1) * DIGEST]:
                    raise base.BackupStoreError(
                        reason='%s (%s) is corrupt: SHA-256 mismatch of the block at offset %d'
                        % (what, obj['name'], off))
                done = 0
                while done < n:
                    try:
                        done += os.pwrite(fd, block[done:], off + done)
                    except OSError as e:
                        raise BackupIOError(reason='writing %s at offset %d failed: %s'
                                            % (dest_path, off + done, e.strerror))
                total += n
            return total

        try:
            st = os.fstat(fd)
            regular = stat.S_ISREG(st.st_mode)
            if regular and st.st_size < length:
                os.ftruncate(fd, length)
            for task in tasks:
                if cancelled is not None and cancelled():
                    raise BackupCancelled()
                pipeline.acquire(cancelled)
                pipeline.submit(work, *task)
                for n in pipeline.collect():
                    report.add(n)
            for n in pipeline.drain():
                report.add(n)
            if cancelled is not None and cancelled():   # also after the last object
                raise BackupCancelled()
            for lo, hi in holes:
                if not dest_reads_zeros:
                    try:
                        if regular:
                            punch_hole(fd, lo, hi - lo)
                        else:
                            lvm_datapath.zero_fd(fd, lo, hi - lo,
                                                 discard_zeroes=discard_zeroes)
                    except OSError as e:
                        raise BackupIOError(reason='zeroing %s at offset %d failed: %s'
                                            % (dest_path, lo, e.strerror))
                report.add(hi - lo)
            os.fsync(fd)
        finally:
            pipeline.stop()
            os.close(fd)
        report.add(0, force=True)

    @staticmethod
    def _check_chain(chain):
        if chain[0].get('parent') is not None:
            raise exception.InvalidInput(
                reason='backup chain starts with %s, an incremental' % chain[0]['prefix'])
        for older, newer in zip(chain, chain[1:]):
            p = newer.get('parent') or {}
            if (p.get('prefix'), p.get('container')) != (older['prefix'], older['container']):
                raise exception.InvalidInput(
                    reason='backup %s is not an incremental of %s'
                    % (newer['prefix'], older['prefix']))
            if newer['block_size'] != older['block_size']:
                raise exception.InvalidInput(reason='block sizes differ along the chain')

    # -- delete -----------------------------------------------------------

    def delete(self, container, prefix):
        """Remove every object of the backup (the metadata first); absent is fine."""
        names = [n for n in self.store.list(container, prefix)
                 if _OBJECT_RE.match(n[len(prefix):])]
        meta = metadata_name(prefix)
        self.store.delete(container, meta)
        rest = [n for n in names if n != meta]
        if not rest:
            return
        with concurrent.futures.ThreadPoolExecutor(
                max_workers=min(self.workers * 2, len(rest)),
                thread_name_prefix='backup-delete') as pool:
            for _ in pool.map(lambda n: self.store.delete(container, n), rest):
                pass
