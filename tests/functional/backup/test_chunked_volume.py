"""A 256 MiB sparse volume through the chunked pipeline with the shipped defaults.

Real [backup] options (32 MiB chunks, 1 MiB blocks, zstd, workers = CPUs),
the posix store under state_path, full and incremental backups, restores by
blockstore and by tools/restore-backup.py, all byte-exact and sparse.
"""

import hashlib
import os
import pathlib
import subprocess
import sys
import time

from oslo_config import cfg

from blockstore.backup import chunked
from blockstore.backup.drivers import base
from blockstore.common import conf as bs_conf

MiB = 1024 * 1024
SIZE = 256 * MiB
TOOL = str(pathlib.Path(__file__).resolve().parents[3] / 'tools' / 'restore-backup.py')


def digest(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            buf = f.read(8 * MiB)
            if not buf:
                return h.hexdigest()
            h.update(buf)


def allocated(path):
    return os.stat(path).st_blocks * 512


def test_sparse_volume_full_incremental_restore(tmp_path):
    conf = cfg.ConfigOpts()
    bs_conf.register_opts(conf)
    conf([], project='blockstore', default_config_files=[])
    conf.set_override('state_path', str(tmp_path / 'state'))
    store = base.load_store(conf)
    store.check()
    engine = chunked.ChunkedBackup.from_conf(store, conf)
    assert (engine.chunk_size, engine.block_size, engine.compression) == (32 * MiB, MiB, 'zstd')

    src = str(tmp_path / 'volume')
    with open(src, 'wb') as f:
        f.truncate(SIZE)
        for i, off in enumerate(range(0, SIZE, 24 * MiB)):   # 11 extents of 2 MiB
            f.seek(off + 300 * 1024)
            f.write((b'extent %d ' % i) * (2 * MiB // 10) + os.urandom(64 * 1024))
    original = digest(src)
    container = store.default_container

    t0 = time.monotonic()
    full = engine.backup(src, SIZE, container, 'volume_v/backup_full',
                         volume_meta={'volume_id': 'v'})
    elapsed = time.monotonic() - t0
    assert full['object_count'] == 8          # every 32 MiB chunk holds an extent
    assert full['bytes_read'] < 30 * MiB
    assert full['bytes_stored'] < 10 * MiB     # the text compresses
    assert elapsed < 15

    with open(src, 'r+b') as f:                # change one block, zero another
        f.seek(100 * MiB)
        f.write(b'new data')
        f.seek(24 * MiB + 300 * 1024)
        f.write(bytes(2 * MiB))
    changed = digest(src)
    inc = engine.backup(src, SIZE, container, 'volume_v/backup_inc', parent=full)
    assert inc['object_count'] == 1 and inc['stored_blocks'] == 1

    for chain, want in (([full], original), ([full, inc], changed)):
        dest = str(tmp_path / ('restored-%d' % len(chain)))
        engine.restore(chain, dest, SIZE, dest_reads_zeros=True)
        assert digest(dest) == want
        assert allocated(dest) < 40 * MiB

        out = dest + '.tool'
        res = subprocess.run([sys.executable, TOOL, store.root, chain[-1]['prefix'], out,
                              '--container', container],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert digest(out) == want
        assert allocated(out) < 40 * MiB

    engine.delete(container, 'volume_v/backup_inc')
    engine.delete(container, 'volume_v/backup_full')
    assert store.list(container, 'volume_v/') == []
