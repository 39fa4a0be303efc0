"""tools/restore-backup.py restores a chain from a posix directory without blockstore."""

import os
import pathlib
import subprocess
import sys

import pytest

from blockstore.backup import chunked
from blockstore.backup.drivers import posix
from tests.unit.backup.test_chunked import (BLOCK, CHUNK, KiB, MiB, SIZE, allocated, read,
                                            sparse, text)
from tests.unit.backup.test_posix import make_conf

TOOL = str(pathlib.Path(__file__).resolve().parents[3] / 'tools' / 'restore-backup.py')
# blockstore made unimportable: the tool must not need it.
RUN = ("import runpy, sys; sys.modules['blockstore'] = None; sys.argv = sys.argv[1:]; "
       "runpy.run_path(sys.argv[0], run_name='__main__')")


def run_tool(*args):
    return subprocess.run([sys.executable, '-c', RUN, TOOL] + list(args),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def backups(tmp_path):
    """A full backup (zstd), an incremental (zlib) and one more (none) in 'vols'."""
    root = str(tmp_path / 'store')
    store = posix.PosixStore(make_conf(root))
    src = sparse(str(tmp_path / 'vol'), writes=[(0, text(CHUNK + 5 * KiB)),
                                                (2 * MiB, os.urandom(70 * KiB)),
                                                (SIZE - 1, b'z')])
    states = [read(src)]
    full = chunked.ChunkedBackup(store, CHUNK, BLOCK, 'zstd', 2).backup(src, SIZE, 'vols', 'v/full')
    with open(src, 'r+b') as f:
        f.seek(CHUNK // 2)
        f.write(text(3 * BLOCK, 99))
        f.seek(2 * MiB)
        f.write(bytes(BLOCK))           # becomes a hole
    states.append(read(src))
    inc = chunked.ChunkedBackup(store, CHUNK, BLOCK, 'zlib', 2).backup(
        src, SIZE, 'vols', 'v/inc', parent=full)
    with open(src, 'r+b') as f:
        f.seek(3 * MiB)
        f.write(os.urandom(10))
    states.append(read(src))
    chunked.ChunkedBackup(store, CHUNK, BLOCK, 'none', 2).backup(
        src, SIZE, 'vols', 'v/inc2', parent=inc)
    return root, states


def test_tool_restores_each_backup_of_the_chain(backups, tmp_path):
    root, states = backups
    for prefix, want in zip(['v/full', 'v/inc', 'v/inc2'], states):
        out = str(tmp_path / ('out-' + prefix.replace('/', '_')))
        res = run_tool(root, prefix, out, '--container', 'vols')
        assert res.returncode == 0, res.stderr
        assert 'restored %s' % prefix in res.stdout
        assert read(out) == want
        assert allocated(out) < SIZE / 2      # holes stay holes


def test_tool_reports_corruption(backups, tmp_path):
    root, _states = backups
    path = pathlib.Path(root, 'vols', 'v', 'inc2-00013')
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    res = run_tool(root, 'v/inc2', str(tmp_path / 'out'), '--container', 'vols')
    assert res.returncode == 1
    assert 'SHA-256 mismatch' in res.stderr and 'inc2-00013' in res.stderr


def test_tool_reports_a_missing_backup(tmp_path):
    res = run_tool(str(tmp_path), 'nothing', str(tmp_path / 'out'))
    assert res.returncode == 1 and 'nothing_metadata' in res.stderr
