"""The POSIX backup store: objects as files, atomic puts, thread safety."""

import os
import threading
import types

import pytest

from blockstore.backup.drivers import base
from blockstore.backup.drivers import posix


def make_conf(path=None, state_path='/nonexistent'):
    return types.SimpleNamespace(state_path=state_path,
                                 backup=types.SimpleNamespace(backup_posix_path=path,
                                                              backup_container='backups'))


@pytest.fixture
def store(tmp_path):
    s = posix.PosixStore(make_conf(str(tmp_path / 'store')))
    s.ensure_container('c')
    return s


def test_load_store_picks_posix(tmp_path):
    s = base.load_store(make_conf(str(tmp_path)), 'posix')
    assert isinstance(s, posix.PosixStore) and s.name == 'posix'
    assert s.default_container == 'backups'


def test_default_path_is_under_state_path(tmp_path):
    s = posix.PosixStore(make_conf(None, state_path=str(tmp_path)))
    assert s.root == str(tmp_path / 'backups')
    s.check()
    assert os.path.isdir(tmp_path / 'backups')


def test_put_get_round_trip_with_slashes(store, tmp_path):
    store.put('c', 'vol/a/b-00001', b'x' * 1000)
    store.put('c', 'top', memoryview(b'hello'))
    assert store.get('c', 'vol/a/b-00001') == b'x' * 1000
    assert store.get('c', 'top') == b'hello'
    assert (tmp_path / 'store' / 'c' / 'vol' / 'a' / 'b-00001').is_file()


def test_put_replaces_and_leaves_no_temp_file(store, tmp_path):
    store.put('c', 'a/o', b'1')
    store.put('c', 'a/o', b'22')
    assert store.get('c', 'a/o') == b'22'
    assert os.listdir(tmp_path / 'store' / 'c' / 'a') == ['o']


def test_get_absent_raises_not_found(store):
    with pytest.raises(base.BackupObjectNotFound):
        store.get('c', 'missing')
    with pytest.raises(base.BackupObjectNotFound):
        store.get('c', 'no/such/dir')


def test_delete_absent_is_fine(store):
    store.delete('c', 'missing')
    store.delete('c', 'no/such/dir')
    store.put('c', 'x', b'1')
    store.delete('c', 'x')
    with pytest.raises(base.BackupObjectNotFound):
        store.get('c', 'x')


def test_list_sorted_with_prefix(store):
    for name in ['p/b_2', 'p/b-00002', 'p/b-00001', 'p/b_metadata', 'q/x', 'pz']:
        store.put('c', name, b'.')
    assert store.list('c', 'p/b') == ['p/b-00001', 'p/b-00002', 'p/b_2', 'p/b_metadata']
    assert store.list('c', 'p') == ['p/b-00001', 'p/b-00002', 'p/b_2', 'p/b_metadata', 'pz']
    assert store.list('c') == ['p/b-00001', 'p/b-00002', 'p/b_2', 'p/b_metadata', 'pz', 'q/x']
    assert store.list('c', 'nothing/here') == []
    assert store.list('other') == []


def test_temp_files_are_not_listed(store, tmp_path):
    store.put('c', 'a', b'1')
    (tmp_path / 'store' / 'c' / '.tmp-crashed').write_bytes(b'partial')
    assert store.list('c') == ['a']


@pytest.mark.parametrize('name', ['../escape', '/abs', 'a//b', 'a/./b', '', '.tmp-x'])
def test_bad_names_refused(store, name):
    with pytest.raises(base.BackupStoreError):
        store.put('c', name, b'1')


def test_bad_container_refused(store):
    with pytest.raises(base.BackupStoreError):
        store.ensure_container('../x')
    with pytest.raises(base.BackupStoreError):
        store.put('a/b', 'o', b'1')


def test_check_unwritable_is_unavailable(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_bytes(b'')
    s = posix.PosixStore(make_conf(str(blocker / 'sub')))
    with pytest.raises(base.BackupStoreUnavailable) as e:
        s.check()
    assert str(blocker / 'sub') in str(e.value)


def test_concurrent_puts(store):
    errors = []

    def put(t):
        try:
            for i in range(20):
                store.put('c', 'd/t%d/o%02d' % (t, i), bytes([t]) * 4096)
                store.put('c', 'shared', bytes([t]) * 4096)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=put, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(store.list('c', 'd/')) == 160
    data = store.get('c', 'shared')
    assert len(data) == 4096 and len(set(data)) == 1


def test_check_removes_what_a_check_killed_midway_left(store, tmp_path):
    """A service SIGKILLed inside check() leaves its probe file; a later check removes it
    once it is stale, and leaves a fresh one (another node may be checking now) alone."""
    root = tmp_path / 'store'
    stale = root / '.tmp-check-killed'
    fresh = root / '.tmp-check-running'
    stale.write_bytes(b'ok')
    fresh.write_bytes(b'ok')
    old = os.stat(stale).st_mtime - 3600
    os.utime(stale, (old, old))
    store.check()
    assert not stale.exists() and fresh.exists()
    assert sorted(os.listdir(root)) == ['.tmp-check-running', 'c']
