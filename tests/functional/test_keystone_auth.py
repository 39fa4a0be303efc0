"""``auth_strategy = keystone``: the API behind real keystonemiddleware.

A tiny in-test HTTP server plays Keystone: version discovery, issuing the
service's own token (POST /v3/auth/tokens) and validating users' tokens
(GET /v3/auth/tokens with X-Subject-Token). Proved: a valid token reaches
the handlers as its user, project and roles (a member creates a volume owned
by its project and user, a reader may list but not create, only the admin
role may use admin APIs); an unknown token, or none, is a 401; version
discovery needs no token.
"""

import http.server
import json
import threading
import uuid

from oslo_config import cfg
import pytest
import webob

from blockstore.api import app as api_app
from blockstore.common import conf as bs_conf
from blockstore.common import context
from blockstore.db import api as db
from blockstore.volume import api as volume_api
from blockstore.volume import volume_types
from tests.fixtures.database import database_fixture

# One backend is enough: this is about authentication, not SQL.
database = database_fixture(backends=('sqlite',))

SERVICE_TOKEN = 'service-' + uuid.uuid4().hex
EXPIRES = '2099-01-01T00:00:00.000000Z'


class _Recorder:
    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return lambda *a, **kw: None


def _token_body(user, project, roles, base):
    return {'token': {
        'methods': ['password'], 'expires_at': EXPIRES, 'issued_at': '2026-01-01T00:00:00Z',
        'audit_ids': [uuid.uuid4().hex[:22]],
        'user': {'id': user, 'name': user, 'domain': {'id': 'default', 'name': 'Default'}},
        'project': {'id': project, 'name': project,
                    'domain': {'id': 'default', 'name': 'Default'}},
        'roles': [{'id': 'r-' + r, 'name': r} for r in roles],
        'catalog': [{'type': 'identity', 'name': 'keystone', 'id': 'ks', 'endpoints': [
            {'id': 'e-' + i, 'interface': i, 'region': 'RegionOne', 'region_id': 'RegionOne',
             'url': base + '/v3'} for i in ('public', 'internal', 'admin')]}],
    }}


class FakeKeystone:
    """Keystone's discovery and token API, enough for keystonemiddleware."""

    def __init__(self):
        self.tokens = {}   # token -> (user, project, roles)
        self.validations = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split('?')[0].rstrip('/')
                v3 = {'id': 'v3.14', 'status': 'stable', 'updated': '2020-01-01T00:00:00Z',
                      'links': [{'rel': 'self', 'href': owner.base + '/v3/'}],
                      'media-types': [{'base': 'application/json',
                                       'type': 'application/vnd.openstack.identity-v3+json'}]}
                if path == '':
                    return self._send(300, {'versions': {'values': [v3]}})
                if path == '/v3':
                    return self._send(200, {'version': v3})
                if path == '/v3/auth/tokens':
                    if self.headers.get('X-Auth-Token') != SERVICE_TOKEN:
                        return self._send(401, {'error': {'code': 401, 'message': 'no',
                                                          'title': 'Unauthorized'}})
                    subject = self.headers.get('X-Subject-Token')
                    owner.validations.append(subject)
                    found = owner.tokens.get(subject)
                    if found is None:
                        return self._send(404, {'error': {'code': 404, 'title': 'Not Found',
                                                          'message': 'token not found'}})
                    return self._send(200, _token_body(*found, owner.base),
                                      {'X-Subject-Token': subject})
                return self._send(404, {'error': {'code': 404, 'message': path,
                                                  'title': 'Not Found'}})

            def do_POST(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = json.loads(self.rfile.read(length) or b'{}')
                if self.path.rstrip('/') != '/v3/auth/tokens':
                    return self._send(404, {'error': {'code': 404, 'message': self.path,
                                                      'title': 'Not Found'}})
                pw = body['auth']['identity']['password']['user']
                if (pw.get('name'), pw.get('password')) != ('blockstore', 'secret'):
                    return self._send(401, {'error': {'code': 401, 'message': 'bad password',
                                                      'title': 'Unauthorized'}})
                return self._send(201, _token_body('blockstore', 'service', ['service',
                                                                              'admin'],
                                                   owner.base),
                                  {'X-Subject-Token': SERVICE_TOKEN})

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.base = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def issue(self, user, project, roles):
        token = 'tok-' + uuid.uuid4().hex
        self.tokens[token] = (user, project, roles)
        return token

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture(scope='module')
def keystone():
    with FakeKeystone() as ks:
        yield ks


@pytest.fixture
def app(database, keystone, tmp_path):
    conf = cfg.ConfigOpts()
    bs_conf.register_opts(conf)
    path = tmp_path / 'blockstore.conf'
    path.write_text('\n'.join([
        '[DEFAULT]', 'auth_strategy = keystone',
        '[keystone_authtoken]',
        'www_authenticate_uri = %s/v3' % keystone.base,
        'auth_type = password', 'auth_url = %s/v3' % keystone.base,
        'username = blockstore', 'password = secret', 'user_domain_id = default',
        'project_name = service', 'project_domain_id = default',
        'interface = public', 'http_connect_timeout = 5', '']))
    conf(['--config-file', str(path)], project='blockstore', default_config_files=[])
    volume_types.get_default(context.get_admin_context())
    api = volume_api.API(volume_rpcapi=_Recorder(), scheduler_rpcapi=_Recorder())
    application = api_app.make_app(conf, volume_api=api)
    yield application
    conf.reset()


def _call(app, method, path, token=None, body=None):
    req = webob.Request.blank(path, method=method)
    if token:
        req.headers['X-Auth-Token'] = token
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = 'application/json'
    return req.get_response(app)


def test_valid_tokens_reach_handlers_with_their_identity(app, keystone):
    project = 'ks-' + uuid.uuid4().hex[:10]
    member = keystone.issue('alice', project, ['member', 'reader'])
    reader = keystone.issue('bob', project, ['reader'])
    admin = keystone.issue('root', 'admin-project', ['admin'])
    resp = _call(app, 'POST', '/v3/volumes', member, {'volume': {'size': 1, 'name': 'kv'}})
    assert resp.status_int == 202, resp.body
    row = db.volume_get(context.get_admin_context(), resp.json['volume']['id'])
    assert (row.project_id, row.user_id) == (project, 'alice')
    assert member in keystone.validations
    # The project in the URL must be the token's.
    assert _call(app, 'GET', '/v3/%s/volumes' % project, member).status_int == 200
    assert _call(app, 'GET', '/v3/other-project/volumes', member).status_int == 400
    # A reader sees the project's volumes but may not create one.
    listed = _call(app, 'GET', '/v3/volumes', reader)
    assert [v['name'] for v in listed.json['volumes']] == ['kv']
    resp = _call(app, 'POST', '/v3/volumes', reader, {'volume': {'size': 1}})
    assert resp.status_int == 403 and 'forbidden' in resp.json
    # Only the admin role may use admin APIs, and sees every project.
    assert _call(app, 'GET', '/v3/os-services', member).status_int == 403
    assert _call(app, 'GET', '/v3/os-services', admin).status_int == 200
    every = _call(app, 'GET', '/v3/volumes?all_tenants=1', admin).json['volumes']
    assert row.id in [v['id'] for v in every]


def test_invalid_or_missing_token_is_401(app, keystone):
    for token in ('tok-unknown', None):
        resp = _call(app, 'GET', '/v3/volumes', token)
        assert resp.status_int == 401, (token, resp.body)
        assert keystone.base in resp.headers.get('WWW-Authenticate', '')
    assert 'tok-unknown' in keystone.validations


def test_version_discovery_needs_no_token(app):
    resp = _call(app, 'GET', '/')
    assert resp.status_int in (200, 300) and 'versions' in resp.json
    assert _call(app, 'GET', '/v3').status_int == 200
