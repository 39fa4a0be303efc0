"""SwiftStore with Keystone v3 authentication (``backup_swift_auth_version = 3``).

A tiny in-test HTTP server plays Keystone: it checks the v3 password request
(user, domains, project scope) and answers with a catalog whose object-store
endpoint is the real test Swift, and, as the token, a tempauth token of that
Swift, so every request after authentication goes to the real server.
"""

import http.server
import json
import threading

import pytest
from swiftclient import client as swift_client

from blockstore.backup.drivers import base
from blockstore.backup.drivers import swift as swift_store

USER, PASSWORD, PROJECT = 'backup-user', 'backup-password', 'backup-project'
USER_DOMAIN, PROJECT_DOMAIN = 'users-domain', 'projects-domain'


class FakeKeystone:
    def __init__(self, storage_url, swift_token):
        self.requests = []
        keystone = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                keystone.requests.append(('GET', self.path, None))
                self._reply(200, {'version': {
                    'id': 'v3.14', 'status': 'stable', 'updated': '2020-01-01T00:00:00Z',
                    'links': [{'rel': 'self', 'href': keystone.url}],
                    'media-types': [{'base': 'application/json',
                                     'type': 'application/vnd.openstack.identity-v3+json'}]}})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
                keystone.requests.append(('POST', self.path, body))
                user = body['auth']['identity']['password']['user']
                scope = body['auth'].get('scope', {}).get('project', {})
                if (self.path.rstrip('/') != '/v3/auth/tokens' or user.get('password') != PASSWORD
                        or user.get('name') != USER
                        or user.get('domain', {}).get('name') != USER_DOMAIN
                        or scope.get('name') != PROJECT
                        or scope.get('domain', {}).get('name') != PROJECT_DOMAIN):
                    self._reply(401, {'error': {'code': 401, 'title': 'Unauthorized',
                                                'message': 'The request you have made '
                                                           'requires authentication.'}})
                    return
                self._reply(201, {'token': {
                    'methods': ['password'], 'expires_at': '2099-01-01T00:00:00.000000Z',
                    'issued_at': '2026-01-01T00:00:00.000000Z',
                    'user': {'id': 'u1', 'name': USER,
                             'domain': {'id': 'd1', 'name': USER_DOMAIN}},
                    'project': {'id': 'p1', 'name': PROJECT,
                                'domain': {'id': 'd2', 'name': PROJECT_DOMAIN}},
                    'roles': [{'id': 'r1', 'name': 'member'}],
                    'catalog': [{'type': 'object-store', 'name': 'swift', 'id': 's1',
                                 'endpoints': [{'id': 'e1', 'interface': 'public',
                                                'region': 'RegionOne',
                                                'region_id': 'RegionOne',
                                                'url': storage_url}]}]}},
                    headers=[('X-Subject-Token', swift_token)])

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d/v3' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def keystone(swift_server):
    url, token = swift_client.get_auth(swift_server.auth_url, swift_server.user,
                                       swift_server.key)
    keystone = FakeKeystone(url, token)
    yield keystone
    keystone.stop()


def v3_conf(swift_server, keystone, **overrides):
    values = dict(backup_swift_auth_version='3', backup_swift_auth_url=keystone.url,
                  backup_swift_user=USER, backup_swift_key=PASSWORD,
                  backup_swift_project=PROJECT, backup_swift_user_domain=USER_DOMAIN,
                  backup_swift_project_domain=PROJECT_DOMAIN)
    values.update(overrides)
    return swift_server.store_conf(**values)


def test_keystone_v3_round_trip(swift_server, keystone):
    store = swift_store.SwiftStore(v3_conf(swift_server, keystone))
    store.check()
    store.ensure_container('ks-backups')
    store.put('ks-backups', 'vol/obj', b'through keystone')
    assert store.get('ks-backups', 'vol/obj') == b'through keystone'
    assert store.list('ks-backups', 'vol/') == ['vol/obj']
    posts = [r for r in keystone.requests if r[0] == 'POST']
    assert len(posts) == 1          # one token for every connection of the store
    store.close()


def test_keystone_v3_wrong_password_is_unavailable(swift_server, keystone):
    store = swift_store.SwiftStore(v3_conf(swift_server, keystone, backup_swift_key='nope'))
    with pytest.raises(base.BackupStoreUnavailable) as err:
        store.check()
    assert keystone.url in str(err.value) and 'Unauthorized' in str(err.value)
    assert 'nope' not in str(err.value)
