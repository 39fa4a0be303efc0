"""API unit-test fixtures: the full WSGI stack on a throw-away SQLite database.

Only the RPC clients of the service layers are replaced (by recorders: the
``volume_rpcapi``, ``scheduler_rpcapi`` and ``backup_rpcapi`` fixtures, which a
module overrides to answer with in-process managers); everything else —
service layer, objects, transitions, DB — is real. The RPC clients are given
to ``volume.api.API`` at construction (its collaborators keep them), so a test
that needs others builds another API rather than swapping attributes.
"""

import json
import uuid

import pytest
import webob

from blockstore.api import app as api_app
from blockstore.backup import api as backup_api
from blockstore.common import context
from blockstore.objects import states
from blockstore.volume import api as volume_api


class RPCRecorder:
    """Stands in for an rpcapi client: records every cast instead of sending it."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)

        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
        return record

    def names(self):
        return [c[0] for c in self.calls]


class Client:
    """Drives the app with webob's Request.blank, as one caller (token) would.

    ``roles``: its ``X-Roles`` header (None: no header, which noauth takes for
    an administrator, as Cinder does); by default an ordinary project member.
    """

    def __init__(self, app, token, version=None, roles='member,reader'):
        self.app = app
        self.token = token
        self.version = version
        self.roles = roles

    def request(self, method, path, body=None, version=None, headers=None, raw=None):
        req = webob.Request.blank(path, method=method)
        if self.token is not None:
            req.headers['X-Auth-Token'] = self.token
            if self.roles is not None:
                req.headers['X-Roles'] = self.roles
        version = version or self.version
        if version:
            req.headers['OpenStack-API-Version'] = 'volume %s' % version
        if raw is not None:
            req.body = raw
            req.content_type = 'application/json'
        elif body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = 'application/json'
        for k, v in (headers or {}).items():
            req.headers[k] = v
        resp = req.get_response(self.app)
        return resp

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post(self, path, body=None, **kw):
        return self.request('POST', path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request('PUT', path, body, **kw)

    def delete(self, path, **kw):
        return self.request('DELETE', path, **kw)

    # -- shortcuts -------------------------------------------------------

    def create_volume(self, size=1, **fields):
        body = {'volume': dict(size=size, **fields)}
        resp = self.post('/v3/volumes', body)
        assert resp.status_int == 202, resp.body
        return resp.json['volume']

    def create_snapshot(self, volume_id, **fields):
        resp = self.post('/v3/snapshots', {'snapshot': dict(volume_id=volume_id, **fields)})
        assert resp.status_int == 202, resp.body
        return resp.json['snapshot']


def fault_of(resp):
    """(key, code, message) of a Cinder-format error body."""
    body = resp.json
    assert len(body) == 1, body
    (key, value), = body.items()
    assert set(value) == {'code', 'message'}, value
    assert value['code'] == resp.status_int
    return key, value['code'], value['message']


def make_available(resource, resource_id):
    """Finish a create the way the manager would (what the recorded cast asked for)."""
    assert states.transition(context.get_admin_context(), resource, resource_id, 'create_done')


@pytest.fixture
def volume_rpcapi():
    return RPCRecorder()


@pytest.fixture
def scheduler_rpcapi():
    return RPCRecorder()


@pytest.fixture
def backup_rpcapi():
    return RPCRecorder()


@pytest.fixture
def app(database, volume_rpcapi, scheduler_rpcapi, backup_rpcapi):
    vapi = volume_api.API(volume_rpcapi=volume_rpcapi, scheduler_rpcapi=scheduler_rpcapi)
    return api_app.make_app(volume_api=vapi, backup_api=backup_api.API(
        volume_api=vapi, backup_rpcapi=backup_rpcapi, volume_rpcapi=volume_rpcapi))


@pytest.fixture
def project():
    """A project id no other test uses (the database is shared by a module's tests)."""
    return 'p-' + uuid.uuid4().hex[:12]


@pytest.fixture
def client(app, project):
    return Client(app, 'user1:%s' % project)


@pytest.fixture
def admin(app):
    return Client(app, 'admin:admin')


@pytest.fixture
def anon(app):
    return Client(app, None)
