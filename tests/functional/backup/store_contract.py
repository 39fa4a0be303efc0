"""The contract of a backup store (blockstore/backup/drivers/base.py), as tests for every store.

``StoreContract`` holds the tests; its ``env`` fixture is parametrised over
``KINDS``: every store whose module exists ('swift' always, 'posix' once
blockstore/backup/drivers/posix.py is there). A test module runs them with::

    from tests.functional.backup.store_contract import StoreContract

    class TestStoreContract(StoreContract):
        pass

(tests/functional/backup/test_store_contract.py does exactly this); the
'swift' kind uses the ``swift_server`` fixture of
tests/functional/backup/conftest.py (elsewhere: ``swift_server =
tests.fixtures.swift.swift_fixture(listing_limit=10)`` in the module). A new
store adds a builder to ``BUILDERS``: it returns a ``StoreEnv`` with a working
store and a factory of one that cannot reach its backend.
"""

import importlib.util
import os
import secrets
import threading
import time

import pytest

from blockstore.backup.drivers import base


class StoreEnv:
    """One store kind under test.

    ``make_store()`` a working store; ``make_unreachable()`` (store, where): a
    store of the same kind whose backend cannot be reached, and the text its
    errors must name.
    """

    def __init__(self, kind, make_store, make_unreachable):
        self.kind = kind
        self.make_store = make_store
        self.make_unreachable = make_unreachable


def _conf(**backup):
    from oslo_config import cfg

    from blockstore.common import conf as bs_conf
    conf = cfg.ConfigOpts()
    bs_conf.register_opts(conf)
    conf([], project='blockstore', default_config_files=[])
    for name, value in backup.items():
        conf.set_override(name, value, group='backup')
    return conf


def swift_env(request, tmp_path_factory):
    from blockstore.backup.drivers.swift import SwiftStore
    from tests.fixtures.deployment import free_port
    server = request.getfixturevalue('swift_server')

    def unreachable():
        url = 'http://127.0.0.1:%d/auth/v1.0' % free_port()     # nothing listens there
        conf = server.store_conf(backup_swift_auth_url=url, backup_swift_retries=0,
                                 backup_swift_timeout=2)
        return SwiftStore(conf), url

    return StoreEnv('swift', lambda: SwiftStore(server.store_conf()), unreachable)


def posix_env(request, tmp_path_factory):
    from blockstore.backup.drivers.posix import PosixStore
    root = tmp_path_factory.mktemp('posix-store')

    def unreachable():
        blocker = root / ('file-%s' % secrets.token_hex(4))
        blocker.write_bytes(b'not a directory')
        path = str(blocker / 'backups')     # under a regular file: even root cannot make it
        return PosixStore(_conf(backup_driver='posix', backup_posix_path=path)), path

    return StoreEnv('posix', lambda: PosixStore(_conf(backup_driver='posix',
                                                      backup_posix_path=str(root / 'store'))),
                    unreachable)


BUILDERS = {'swift': swift_env, 'posix': posix_env}


def _exists(kind):
    return importlib.util.find_spec('blockstore.backup.drivers.%s' % kind) is not None


KINDS = [kind for kind in BUILDERS if _exists(kind)]


def _unique(what):
    return '%s-%s' % (what, secrets.token_hex(4))


class StoreContract:
    """The store contract; subclass it in a test module (see the module docstring)."""

    @pytest.fixture(scope='class', params=KINDS)
    @classmethod
    def env(cls, request, tmp_path_factory):
        return BUILDERS[request.param](request, tmp_path_factory)

    @pytest.fixture
    def store(self, env):
        store = env.make_store()
        yield store
        close = getattr(store, 'close', None)
        if close:
            close()

    @pytest.fixture
    def container(self, store):
        name = _unique('c')
        store.ensure_container(name)
        return name

    # -- availability -------------------------------------------------------

    def test_check_passes(self, store):
        store.check()
        assert store.name in ('posix', 'swift')
        assert store.default_container

    def test_unreachable_check_and_put_fail_quickly_naming_where(self, env):
        store, where = env.make_unreachable()
        began = time.monotonic()
        with pytest.raises(base.BackupStoreUnavailable) as err:
            store.check()
        assert where in str(err.value)
        with pytest.raises(base.BackupStoreUnavailable) as err:
            store.ensure_container('c')
            store.put('c', 'o', b'data')
        assert where in str(err.value)
        assert time.monotonic() - began < 10

    # -- containers and objects -------------------------------------------------

    def test_ensure_container_is_idempotent(self, store):
        name = _unique('c')
        store.ensure_container(name)
        store.ensure_container(name)
        store.put(name, 'o', b'x')
        store.ensure_container(name)        # a container with objects stays as it is
        assert store.get(name, 'o') == b'x'
        assert store.list(name) == ['o']

    @pytest.mark.parametrize('size', [0, 1, 65536 + 7, 8 * 1024 * 1024])
    def test_put_get_round_trip(self, store, container, size):
        data = os.urandom(size)
        store.put(container, 'obj-%d' % size, data)
        assert store.get(container, 'obj-%d' % size) == data

    def test_put_of_a_buffer(self, store, container):
        """Stores that say ``accepts_buffers`` take a memoryview (the pipeline's buffers)."""
        if not getattr(store, 'accepts_buffers', False):
            pytest.skip('%s takes bytes only' % store.name)
        buf = bytearray(os.urandom(3 * 65536 + 11))
        store.put(container, 'view', memoryview(buf)[5:-5])
        expected = bytes(buf[5:-5])
        buf[:] = bytes(len(buf))            # the caller reuses its buffer after put
        assert store.get(container, 'view') == expected

    def test_names_with_slashes(self, store, container):
        names = ['volume_1/20261204/backup_a-00001', 'volume_1/20261204/backup_a_metadata',
                 'volume_1/x']
        for i, name in enumerate(names):
            store.put(container, name, b'%d' % i)
        for i, name in enumerate(names):
            assert store.get(container, name) == b'%d' % i
        assert store.list(container, 'volume_1/20261204/') == sorted(names[:2])

    def test_put_replaces_whole_object(self, store, container):
        store.put(container, 'o', b'a' * 100000)
        store.put(container, 'o', b'b' * 10)
        assert store.get(container, 'o') == b'b' * 10
        assert store.list(container) == ['o']

    def test_get_absent_raises_not_found(self, store, container):
        with pytest.raises(base.BackupObjectNotFound):
            store.get(container, 'absent')
        with pytest.raises(base.BackupObjectNotFound):
            store.get(_unique('no-such-container'), 'absent')

    def test_delete(self, store, container):
        store.put(container, 'o', b'x')
        store.delete(container, 'o')
        with pytest.raises(base.BackupObjectNotFound):
            store.get(container, 'o')
        store.delete(container, 'o')            # absent: fine (deletes are retried)
        store.delete(container, 'never-was/x')
        assert store.list(container) == []

    def test_list_prefix_sorted_and_complete(self, store, container):
        # More names than the test Swift lists per request (listing_limit 10).
        names = ['backup_a-%05d' % i for i in range(30)] + ['backup_a_metadata',
                                                             'backup_a_sha256file']
        others = ['backup_b-%05d' % i for i in range(5)] + ['backup', 'a']
        for name in reversed(names + others):
            store.put(container, name, b'')
        assert store.list(container, 'backup_a') == sorted(names)
        assert store.list(container, 'backup_a-') == sorted(names[:30])
        assert store.list(container) == sorted(names + others)
        assert store.list(container, 'zzz') == []
        assert store.list(_unique('no-such-container'), 'x') == []

    def test_concurrent_puts_and_gets(self, store, container):
        assert store.thread_safe
        blobs = {'t%d/o%d' % (t, i): os.urandom(256 * 1024 + t * 1000 + i)
                 for t in range(8) for i in range(4)}
        errors = []

        def work(t):
            try:
                mine = sorted(n for n in blobs if n.startswith('t%d/' % t))
                for name in mine:
                    store.put(container, name, blobs[name])
                for name in mine:
                    if store.get(container, name) != blobs[name]:
                        errors.append('%s read back wrong' % name)
            except Exception as e:     # collected: an exception in a thread is lost
                errors.append(repr(e))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert errors == []
        assert store.list(container) == sorted(blobs)
