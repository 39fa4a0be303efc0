"""SwiftStore's error mapping and connection handling, with a stand-in swiftclient Connection.

What Swift itself does (ETag checks, listing pages, a server going away) is
tested against a real Swift in tests/functional/backup/.
"""

import threading

import pytest
import requests
from oslo_config import cfg
from swiftclient import exceptions as swift_exc

from blockstore.backup.drivers import base
from blockstore.backup.drivers import swift as swift_store
from blockstore.common import conf as bs_conf

AUTH_URL = 'http://127.0.0.1:1/auth/v1.0'
STORAGE_URL = 'http://127.0.0.1:1/v1/AUTH_test'


def _conf(**backup):
    conf = cfg.ConfigOpts()
    bs_conf.register_opts(conf)
    conf([], project='blockstore', default_config_files=[])
    values = dict(backup_driver='swift', backup_swift_auth_url=AUTH_URL,
                  backup_swift_user='test:tester', backup_swift_key='s3cret')
    values.update(backup)
    for name, value in values.items():
        conf.set_override(name, value, group='backup')
    return conf


class FakeConnection:
    """Records calls; ``behaviour[method]`` is an exception to raise or a function to call."""

    behaviour = {}
    made = []
    auths = 0

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.closed = False
        FakeConnection.made.append(self)

    def get_auth(self):
        FakeConnection.auths += 1
        return self._do('get_auth', (STORAGE_URL, 'token'))

    def _do(self, method, default, *args):
        what = self.behaviour.get(method)
        if isinstance(what, BaseException):
            raise what
        if callable(what):
            return what(*args)
        return default

    def head_account(self):
        return self._do('head_account', {})

    def put_container(self, container):
        return self._do('put_container', None, container)

    def put_object(self, container, name, contents, **kwargs):
        return self._do('put_object', kwargs['etag'], container, name, contents, kwargs)

    def get_object(self, container, name):
        return self._do('get_object', ({}, b''), container, name)

    def delete_object(self, container, name):
        return self._do('delete_object', None, container, name)

    def get_container(self, container, **kwargs):
        return self._do('get_container', ({}, []), container, kwargs)

    def close(self):
        self.closed = True


@pytest.fixture
def fake(monkeypatch):
    FakeConnection.behaviour = {}
    FakeConnection.made = []
    FakeConnection.auths = 0
    monkeypatch.setattr(swift_store.swift_client, 'Connection', FakeConnection)
    return FakeConnection


def client_error(status, reason='Reason'):
    return swift_exc.ClientException('boom', http_status=status, http_reason=reason)


def test_connection_options_come_from_conf(fake):
    store = swift_store.SwiftStore(_conf(backup_swift_retries=5, backup_swift_timeout=7.5))
    store.check()
    kwargs = fake.made[-1].kwargs
    assert kwargs['authurl'] == AUTH_URL and kwargs['auth_version'] == '1'
    assert kwargs['retries'] == 5 and kwargs['timeout'] == 7.5
    assert kwargs['preauthurl'] == STORAGE_URL and kwargs['preauthtoken'] == 'token'


def test_keystone_v3_options(fake):
    store = swift_store.SwiftStore(_conf(backup_swift_auth_version='3',
                                         backup_swift_project='demo'))
    store.check()
    assert fake.made[-1].kwargs['os_options'] == {
        'project_name': 'demo', 'project_domain_name': 'default',
        'user_domain_name': 'default'}


def test_storage_url_option_overrides(fake):
    store = swift_store.SwiftStore(_conf(backup_swift_url='http://swift.example/v1/AUTH_x'))
    store.check()
    assert fake.made[0].kwargs['preauthurl'] == 'http://swift.example/v1/AUTH_x'
    fake.behaviour['head_account'] = client_error(503, 'Service Unavailable')
    with pytest.raises(base.BackupStoreUnavailable) as err:
        store.check()
    assert AUTH_URL in str(err.value) and 'swift.example' in str(err.value)


@pytest.mark.parametrize('error', [
    requests.exceptions.ConnectionError('Connection refused'),
    requests.exceptions.Timeout('read timed out'),
    ConnectionRefusedError(111, 'Connection refused'),
    client_error(401, 'Unauthorized'),
    swift_exc.ClientException('Unknown auth_version'),
])
def test_auth_failures_are_unavailable_naming_the_url(fake, error):
    fake.behaviour['get_auth'] = error
    store = swift_store.SwiftStore(_conf())
    with pytest.raises(base.BackupStoreUnavailable) as err:
        store.check()
    assert AUTH_URL in str(err.value)
    assert 's3cret' not in str(err.value)


@pytest.mark.parametrize('status,unavailable', [(503, True), (502, True), (504, True),
                                                (500, False), (507, False), (400, False)])
def test_put_statuses(fake, status, unavailable):
    fake.behaviour['put_object'] = client_error(status)
    store = swift_store.SwiftStore(_conf())
    with pytest.raises(base.BackupStoreError) as err:
        store.put('c', 'o', b'x')
    assert isinstance(err.value, base.BackupStoreUnavailable) is unavailable
    assert str(status) in str(err.value) and 'c/o' in str(err.value)


def test_put_sends_md5_and_a_rewindable_body(fake):
    seen = {}

    def put(container, name, contents, kwargs):
        seen.update(kwargs, body=contents.read(), seekable=contents.seekable())
        return kwargs['etag']

    fake.behaviour['put_object'] = put
    swift_store.SwiftStore(_conf()).put('c', 'o', b'payload')
    assert seen['etag'] == '321c3cf486ed509164edec1e1981fec8'   # md5(b'payload')
    assert seen['body'] == b'payload' and seen['seekable']
    assert seen['content_length'] == 7


def test_put_of_a_memoryview_rewinds_for_a_retry(fake):
    reads = []

    def put(container, name, contents, kwargs):
        reads.append(contents.read(4) + contents.read())
        contents.seek(0)                    # what swiftclient does before a retry
        reads.append(contents.read())
        return kwargs['etag']

    fake.behaviour['put_object'] = put
    store = swift_store.SwiftStore(_conf())
    assert store.accepts_buffers
    data = bytearray(b'0123456789')
    store.put('c', 'o', memoryview(data)[2:8])
    assert reads == [b'234567', b'234567']


def test_put_422_names_the_checksum(fake):
    fake.behaviour['put_object'] = client_error(422, 'Unprocessable Entity')
    with pytest.raises(base.BackupStoreError) as err:
        swift_store.SwiftStore(_conf()).put('c', 'o', b'x')
    assert 'MD5' in str(err.value) and '422' in str(err.value)


def test_put_wrong_returned_etag(fake):
    fake.behaviour['put_object'] = lambda *a: 'f' * 32
    with pytest.raises(base.BackupStoreError) as err:
        swift_store.SwiftStore(_conf()).put('c', 'o', b'x')
    assert 'ETag' in str(err.value)


def test_put_into_a_missing_container_creates_it_once(fake):
    calls = []

    def put(container, name, contents, kwargs):
        calls.append('put')
        if calls.count('put') == 1:
            raise client_error(404, 'Not Found')
        return kwargs['etag']

    fake.behaviour['put_object'] = put
    fake.behaviour['put_container'] = lambda c: calls.append('container %s' % c)
    swift_store.SwiftStore(_conf()).put('c', 'o', b'x')
    assert calls == ['put', 'container c', 'put']


def test_get_not_found_and_corrupt(fake):
    store = swift_store.SwiftStore(_conf())
    fake.behaviour['get_object'] = client_error(404, 'Not Found')
    with pytest.raises(base.BackupObjectNotFound):
        store.get('c', 'o')
    fake.behaviour['get_object'] = lambda c, n: ({'etag': '"%s"' % ('0' * 32)}, b'data')
    with pytest.raises(base.BackupStoreError) as err:
        store.get('c', 'o')
    assert 'corrupt' in str(err.value)
    fake.behaviour['get_object'] = lambda c, n: ({'etag': swift_store._md5(b'data')}, b'data')
    assert store.get('c', 'o') == b'data'
    fake.behaviour['get_object'] = requests.exceptions.ConnectionError('reset')
    with pytest.raises(base.BackupStoreUnavailable):
        store.get('c', 'o')


def test_delete_and_list_of_absent_things(fake):
    store = swift_store.SwiftStore(_conf())
    fake.behaviour['delete_object'] = client_error(404, 'Not Found')
    store.delete('c', 'o')
    fake.behaviour['get_container'] = client_error(404, 'Not Found')
    assert store.list('c', 'p') == []
    fake.behaviour['delete_object'] = client_error(409, 'Conflict')
    with pytest.raises(base.BackupStoreError) as err:
        store.delete('c', 'o')
    assert '409' in str(err.value)


def test_list_asks_every_page_and_sorts(fake):
    seen = {}

    def listing(container, kwargs):
        seen.update(kwargs)
        return {}, [{'name': 'p-2'}, {'name': 'p-10'}, {'name': 'p-1'}]

    fake.behaviour['get_container'] = listing
    assert swift_store.SwiftStore(_conf()).list('c', 'p-') == ['p-1', 'p-10', 'p-2']
    assert seen == {'prefix': 'p-', 'full_listing': True}


def test_one_connection_per_thread_one_authentication(fake):
    store = swift_store.SwiftStore(_conf())
    store.check()
    threads = [threading.Thread(target=store.check) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.check()
    # One connection made to authenticate, then one for each of the 4 threads.
    assert fake.auths == 1 and len(fake.made) == 5
    store.close()
    assert all(c.closed for c in fake.made[1:2])


def test_invalid_container_and_missing_auth_url(fake):
    store = swift_store.SwiftStore(_conf())
    with pytest.raises(base.BackupStoreError):
        store.ensure_container('a/b')
    with pytest.raises(base.BackupStoreError):
        store.get('', 'o')
    store = swift_store.SwiftStore(_conf(backup_swift_auth_url=None))
    with pytest.raises(base.BackupStoreUnavailable) as err:
        store.put('c', 'o', b'x')
    assert 'backup_swift_auth_url' in str(err.value)


def test_default_container(fake):
    assert swift_store.SwiftStore(_conf()).default_container == 'backups'
    assert swift_store.SwiftStore(_conf(backup_container='b2')).default_container == 'b2'
    assert swift_store.SwiftStore(
        _conf(backup_container='b2', backup_swift_container='s')).default_container == 's'
