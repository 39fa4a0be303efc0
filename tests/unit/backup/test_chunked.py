"""The chunked backup format and pipeline against a real POSIX store on tmp files."""

import hashlib
import os
import threading
import time

import pytest

from blockstore.backup import chunked
from blockstore.backup.drivers import base
from blockstore.backup.drivers import posix
from blockstore.common import exception
from tests.unit.backup.test_posix import make_conf

KiB, MiB = 1024, 1024 * 1024
CHUNK, BLOCK = 256 * KiB, 64 * KiB
SIZE = 4 * MiB


@pytest.fixture
def store(tmp_path):
    return posix.PosixStore(make_conf(str(tmp_path / 'store')))


def engine(store, compression='zstd', workers=2, max_inflight=None):
    return chunked.ChunkedBackup(store, CHUNK, BLOCK, compression, workers, max_inflight)


def text(n, seed=0):
    """Compressible, non-repeating bytes."""
    out = bytearray()
    i = seed
    while len(out) < n:
        out += b'line %08d of a volume %s\n' % (i, hashlib.md5(b'%d' % i).hexdigest()[:8].encode())
        i += 1
    return bytes(out[:n])


def sparse(path, size=SIZE, writes=None):
    """A sparse file of ``size`` with data at the start, the middle and the end."""
    if writes is None:
        writes = [(0, text(100 * KiB)), (size // 2 + 10 * KiB, os.urandom(30 * KiB)),
                  (size - 50 * KiB, text(50 * KiB, 7))]
    with open(path, 'wb') as f:
        f.truncate(size)
        for off, data in writes:
            f.seek(off)
            f.write(data)
    return path


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def allocated(path):
    return os.stat(path).st_blocks * 512


def data_names(store, container, prefix):
    return [n for n in store.list(container, prefix) if n[len(prefix):].startswith('-')]


def test_round_trip_byte_exact_and_holes_not_stored(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    meta = cb.backup(src, SIZE, 'c', 'vol/b1')
    # Data at start (1 chunk), middle (1 chunk), end (1 chunk): 3 objects.
    assert meta['object_count'] == 3 == len(data_names(store, 'c', 'vol/b1'))
    assert meta['size'] == SIZE
    assert meta['bytes_read'] < SIZE / 4
    # Only the blocks holding data: 2 + 1 + 1 blocks of 64 KiB.
    assert meta['stored_blocks'] == 4 and meta['data_blocks'] == 4
    assert meta['bytes_stored'] < 4 * BLOCK
    assert cb.read_metadata('c', 'vol/b1') == meta
    dest = str(tmp_path / 'restored')
    cb.restore([meta], dest, SIZE, dest_reads_zeros=True)
    assert read(dest) == read(src)
    assert allocated(dest) <= 4 * BLOCK + 64 * KiB


def test_written_zeros_are_holes(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'), writes=[(0, bytes(SIZE)), (MiB, b'x' * 10)])
    assert allocated(src) >= SIZE  # really written
    meta = engine(store).backup(src, SIZE, 'c', 'b')
    assert meta['object_count'] == 1 and meta['stored_blocks'] == 1
    assert meta['bytes_read'] == SIZE
    dest = str(tmp_path / 'restored')
    engine(store).restore([meta], dest, SIZE)
    assert read(dest) == read(src)
    assert allocated(dest) <= 2 * BLOCK


def test_short_zero_last_block_is_a_hole(store, tmp_path):
    size = SIZE - BLOCK + 100           # the last block is 100 bytes, written as zeros
    src = sparse(str(tmp_path / 'vol'), size, writes=[(0, b'a'), (size - 100, bytes(100))])
    meta = engine(store).backup(src, size, 'c', 'b')
    assert meta['data_blocks'] == 1 and meta['object_count'] == 1
    engine(store).restore([meta], str(tmp_path / 'r'), size)
    assert read(str(tmp_path / 'r')) == read(src)


def test_restore_onto_garbage_punches_holes(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    meta = cb.backup(src, SIZE, 'c', 'b')
    dest = str(tmp_path / 'dest')
    with open(dest, 'wb') as f:
        f.write(b'\xff' * (SIZE + MiB))
    cb.restore([meta], dest, SIZE + MiB)
    data = read(dest)
    assert data[:SIZE] == read(src) and data[SIZE:] == bytes(MiB)
    assert allocated(dest) <= 4 * BLOCK + 64 * KiB


def test_incremental_stores_only_the_change(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    original = read(src)
    cb = engine(store)
    full = cb.backup(src, SIZE, 'c', 'full')
    with open(src, 'r+b') as f:
        f.seek(SIZE // 2 + 20 * KiB)
        f.write(b'changed!' * 100)
    inc = cb.backup(src, SIZE, 'c', 'inc', parent=full)
    assert inc['parent'] == {'container': 'c', 'prefix': 'full'}
    assert inc['object_count'] == 1 and inc['stored_blocks'] == 1
    assert inc['objects'][0]['extents'] == [[SIZE // 2, BLOCK]]
    cb.restore([full, inc], str(tmp_path / 'r-inc'), SIZE)
    assert read(str(tmp_path / 'r-inc')) == read(src)
    cb.restore([full], str(tmp_path / 'r-full'), SIZE)
    assert read(str(tmp_path / 'r-full')) == original


def test_incremental_block_that_became_zeros(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    full = cb.backup(src, SIZE, 'c', 'full')
    with open(src, 'r+b') as f:   # the middle block becomes zeros (still allocated)
        f.seek(SIZE // 2)
        f.write(bytes(BLOCK))
        f.seek(3 * MiB)           # and a new block appears
        f.write(b'new')
    inc = cb.backup(src, SIZE, 'c', 'inc', parent=full)
    assert inc['object_count'] == 1 and inc['stored_blocks'] == 1
    assert inc['data_blocks'] == full['data_blocks']
    dest = str(tmp_path / 'r')
    with open(dest, 'wb') as f:
        f.write(b'\x01' * SIZE)
    cb.restore([full, inc], dest, SIZE)
    assert read(dest) == read(src)
    # A second incremental with no change stores nothing.
    inc2 = cb.backup(src, SIZE, 'c', 'inc2', parent=inc)
    assert inc2['object_count'] == 0 and inc2['bytes_stored'] == 0
    cb.restore([full, inc, inc2], str(tmp_path / 'r2'), SIZE)
    assert read(str(tmp_path / 'r2')) == read(src)


def test_incremental_of_a_grown_volume(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    full = cb.backup(src, SIZE, 'c', 'full')
    with open(src, 'r+b') as f:
        f.truncate(SIZE + MiB)
        f.seek(SIZE + 100)
        f.write(b'tail')
    inc = cb.backup(src, SIZE + MiB, 'c', 'inc', parent=full)
    assert inc['size'] == SIZE + MiB and inc['object_count'] == 1
    cb.restore([full, inc], str(tmp_path / 'r'), SIZE + MiB)
    assert read(str(tmp_path / 'r')) == read(src)


@pytest.mark.parametrize('compression', ['zstd', 'zlib', 'none'])
def test_compressions(store, tmp_path, compression):
    src = sparse(str(tmp_path / 'vol'), writes=[(0, text(CHUNK)), (CHUNK, os.urandom(CHUNK))])
    cb = engine(store, compression)
    meta = cb.backup(src, SIZE, 'c', 'b')
    kinds = [o['compression'] for o in meta['objects']]
    if compression == 'none':
        assert kinds == ['none', 'none']
        assert meta['bytes_stored'] == 2 * CHUNK
    else:
        assert kinds == [compression, 'none']   # random data is stored raw
        assert meta['objects'][0]['compressed_length'] < CHUNK / 2
    assert meta['compression'] == compression
    cb.restore([meta], str(tmp_path / 'r'), SIZE)
    assert read(str(tmp_path / 'r')) == read(src)


def test_workers_give_the_same_backup(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'), writes=[(0, os.urandom(SIZE))])
    one = engine(store, workers=1).backup(src, SIZE, 'c', 'one')
    four = engine(store, workers=4).backup(src, SIZE, 'c', 'four')
    strip = lambda m: [(o['index'], o['extents']) for o in m['objects']]  # noqa
    assert strip(one) == strip(four) and len(one['objects']) == SIZE // CHUNK
    assert store.get('c', 'one_sha256file') == store.get('c', 'four_sha256file')
    assert store.get('c', 'one-00007') == store.get('c', 'four-00007')


def test_explicit_data_regions(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'), writes=[(0, os.urandom(SIZE))])
    meta = engine(store).backup(src, SIZE, 'c', 'b', data_regions=[(CHUNK, 10 * KiB)])
    assert meta['bytes_read'] == 10 * KiB and meta['object_count'] == 1
    cb = engine(store)
    cb.restore([meta], str(tmp_path / 'r'), SIZE)
    data = read(str(tmp_path / 'r'))
    assert data[CHUNK:CHUNK + 10 * KiB] == read(src)[CHUNK:CHUNK + 10 * KiB]
    assert data[:CHUNK] + data[CHUNK + 10 * KiB:] == bytes(SIZE - 10 * KiB)


def test_unaligned_regions_read_only_what_they_name(store, tmp_path):
    """Pieces inside one block, in adjacent blocks and across a chunk boundary."""
    src = sparse(str(tmp_path / 'vol'), writes=[(0, os.urandom(SIZE))])
    regions = [(100, 200), (1000, 50), (BLOCK - 10, 20), (3 * BLOCK + 5, 7),
               (CHUNK - 30, 60), (SIZE - 3, 3)]
    cb = engine(store)
    meta = cb.backup(src, SIZE, 'c', 'b', data_regions=regions)
    assert meta['bytes_read'] == sum(n for _o, n in regions)
    # blocks 0, 1, 3 and 4 (across chunks 1 and 2) and the last one
    assert meta['data_blocks'] == 5 and meta['object_count'] == 3
    cb.restore([meta], str(tmp_path / 'r'), SIZE)
    want = bytearray(SIZE)
    original = read(src)
    for off, n in regions:
        want[off:off + n] = original[off:off + n]
    assert read(str(tmp_path / 'r')) == bytes(want)


def test_progress_and_volume_meta(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    calls = []
    meta = engine(store).backup(src, SIZE, 'c', 'b', volume_meta={'volume_id': 'v1'},
                                progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (SIZE, SIZE)
    assert all(t == SIZE for _d, t in calls) and [d for d, _t in calls] == sorted(
        d for d, _t in calls)
    assert meta['volume_meta'] == {'volume_id': 'v1'}
    calls.clear()
    engine(store).restore([meta], str(tmp_path / 'r'), SIZE,
                          progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (SIZE, SIZE)


def test_cancel_then_delete(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'), writes=[(0, os.urandom(SIZE))])
    polls = []

    def cancelled():
        polls.append(1)
        return len(polls) > 3

    with pytest.raises(chunked.BackupCancelled):
        engine(store).backup(src, SIZE, 'c', 'b', cancelled=cancelled)
    left = store.list('c', 'b')
    assert left and 'b_metadata' not in left
    with pytest.raises(base.BackupObjectNotFound):
        engine(store).read_metadata('c', 'b')
    engine(store).delete('c', 'b')
    assert store.list('c', 'b') == []


def test_delete_keeps_other_backups(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    cb.backup(src, SIZE, 'c', 'v/b1')
    cb.backup(src, SIZE, 'c', 'v/b10')
    store.put('c', 'v/b1-notes', b'not ours')
    cb.delete('c', 'v/b1')
    assert store.list('c', 'v/b1-') == ['v/b1-notes']
    assert cb.read_metadata('c', 'v/b10')['object_count'] == 3
    cb.delete('c', 'v/b1')   # again: nothing left is fine


def test_corrupt_object_is_a_clear_error(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    meta = cb.backup(src, SIZE, 'c', 'b')
    name = meta['objects'][1]['name']
    data = bytearray(store.get('c', name))
    data[len(data) // 2] ^= 0xFF
    store.put('c', name, bytes(data))
    with pytest.raises(base.BackupStoreError) as e:
        cb.restore([meta], str(tmp_path / 'r'), SIZE)
    assert 'corrupt' in str(e.value) and name in str(e.value)
    store.delete('c', name)
    with pytest.raises(base.BackupObjectNotFound):
        cb.restore([meta], str(tmp_path / 'r'), SIZE)


def test_bad_chain_and_too_small_destination(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    full = cb.backup(src, SIZE, 'c', 'full')
    inc = cb.backup(src, SIZE, 'c', 'inc', parent=full)
    other = cb.backup(src, SIZE, 'c', 'other')
    with pytest.raises(exception.InvalidInput):
        cb.restore([inc], str(tmp_path / 'r'), SIZE)
    with pytest.raises(exception.InvalidInput):
        cb.restore([other, inc], str(tmp_path / 'r'), SIZE)
    with pytest.raises(exception.InvalidInput):
        cb.restore([full], str(tmp_path / 'r'), SIZE - 1)


def test_bad_geometry_refused(store):
    with pytest.raises(exception.InvalidInput):
        chunked.ChunkedBackup(store, 100 * KiB, 64 * KiB, 'zstd', 1, 1)
    with pytest.raises(exception.InvalidInput):
        chunked.ChunkedBackup(store, CHUNK, BLOCK, 'lz4', 1, 1)


class SlowStore(posix.PosixStore):
    """Puts and gets take a while; counts what is in flight."""

    def __init__(self, conf):
        super().__init__(conf)
        self.lock = threading.Lock()
        self.active = self.max_active = 0

    def _slow(self):
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(0.01)
        with self.lock:
            self.active -= 1

    def put(self, container, name, data):
        self._slow()
        super().put(container, name, data)

    def get(self, container, name):
        self._slow()
        return super().get(container, name)


def test_inflight_is_bounded(tmp_path):
    store = SlowStore(make_conf(str(tmp_path / 'store')))
    src = sparse(str(tmp_path / 'vol'), writes=[(0, os.urandom(SIZE))])
    cb = engine(store, workers=4, max_inflight=3)
    held = {'now': 0, 'max': 0}
    lock = threading.Lock()
    read_chunk = cb._read_chunk

    def counting_read(*args):
        with lock:
            held['now'] += 1
            held['max'] = max(held['max'], held['now'])
        return read_chunk(*args)

    real_put = store.put

    def counting_put(container, name, data):
        real_put(container, name, data)
        if name[-6:-5] == '-':
            with lock:
                held['now'] -= 1

    cb._read_chunk = counting_read
    store.put = counting_put
    meta = cb.backup(src, SIZE, 'c', 'b')
    assert meta['object_count'] == SIZE // CHUNK
    assert held['max'] == 3          # filled, never more
    assert store.max_active <= 3
    store.max_active = 0
    cb.restore([meta], str(tmp_path / 'r'), SIZE)
    assert read(str(tmp_path / 'r')) == read(src)
    assert 2 <= store.max_active <= 3


def test_store_failure_stops_the_backup(tmp_path):
    class Failing(posix.PosixStore):
        def put(self, container, name, data):
            if name.endswith('-00003'):
                raise base.BackupStoreUnavailable(reason='disk gone')
            super().put(container, name, data)

    store = Failing(make_conf(str(tmp_path / 'store')))
    src = sparse(str(tmp_path / 'vol'), writes=[(0, os.urandom(SIZE))])
    with pytest.raises(base.BackupStoreUnavailable):
        engine(store).backup(src, SIZE, 'c', 'b')
    assert 'b_metadata' not in store.list('c', 'b')


def test_missing_source_is_an_io_error(store, tmp_path):
    with pytest.raises(chunked.BackupIOError):
        engine(store).backup(str(tmp_path / 'absent'), SIZE, 'c', 'b')


# -- changed regions (thin_delta): an incremental reads only what changed -------------

def test_incremental_with_changed_regions_reads_only_them(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    cb = engine(store)
    full = cb.backup(src, SIZE, 'c', 'full')
    with open(src, 'r+b') as f:
        f.seek(MiB + 100)             # inside block 16: an unaligned change
        f.write(b'thin changed' * 10)
        f.seek(SIZE // 2 + 10 * KiB)  # the middle data becomes zeros
        f.write(bytes(30 * KiB))
    changed = [(MiB + 100, 120), (SIZE // 2, BLOCK)]
    inc = cb.backup(src, SIZE, 'c', 'inc', parent=full, changed_regions=changed)
    # Two whole blocks read, not the 200 KiB of data of the volume.
    assert inc['bytes_read'] == 2 * BLOCK
    assert inc['stored_blocks'] == 1
    # The unchanged blocks keep the full's entries; the zeroed one is a hole now.
    assert inc['data_blocks'] == full['data_blocks']
    dest = str(tmp_path / 'r')
    cb.restore([full, inc], dest, SIZE, dest_reads_zeros=True)
    assert read(dest) == read(src)


def test_changed_regions_that_miss_a_change_are_trusted(store, tmp_path):
    """The regions are the source's word (the pool's metadata): what lies outside
    them is the parent's, even when the file says otherwise -- which is why only
    a snapshot-backed source may pass them."""
    src = sparse(str(tmp_path / 'vol'))
    original = read(src)
    cb = engine(store)
    full = cb.backup(src, SIZE, 'c', 'full')
    with open(src, 'r+b') as f:
        f.seek(0)
        f.write(b'unreported')
    inc = cb.backup(src, SIZE, 'c', 'inc', parent=full, changed_regions=[])
    assert inc['bytes_read'] == 0 and inc['object_count'] == 0
    cb.restore([full, inc], str(tmp_path / 'r'), SIZE, dest_reads_zeros=True)
    assert read(str(tmp_path / 'r')) == original


def test_changed_regions_without_a_parent_are_refused(store, tmp_path):
    src = sparse(str(tmp_path / 'vol'))
    with pytest.raises(exception.InvalidInput, match='parent'):
        engine(store).backup(src, SIZE, 'c', 'b', changed_regions=[(0, BLOCK)])
