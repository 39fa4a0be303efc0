"""The API stack itself: discovery, microversion negotiation, routing, auth, faults."""

import json
import types

import pytest
import webob

from blockstore.api import microversion
from blockstore.api import routes
from blockstore.api.handlers import volumes as volume_handlers
from blockstore.common import exception
from tests.unit.api.conftest import Client, fault_of


# -- discovery ----------------------------------------------------------------------

@pytest.mark.parametrize('token', [None, 'user1:proj1'])
def test_root_lists_versions_with_300(app, token):
    resp = Client(app, token).get('/')
    assert resp.status_int == 300
    (entry,) = resp.json['versions']
    assert entry['id'] == 'v3.0'
    assert entry['status'] == 'CURRENT'
    assert entry['version'] == '3.71'
    assert entry['min_version'] == '3.0'
    assert entry['updated'].endswith('Z')
    assert entry['media-types'] == [{'base': 'application/json',
                                     'type': 'application/vnd.openstack.volume+json;version=3'}]
    rels = {link['rel']: link['href'] for link in entry['links']}
    assert rels['self'] == 'http://localhost/v3/'
    assert 'describedby' in rels


@pytest.mark.parametrize('path', ['/v3', '/v3/'])
@pytest.mark.parametrize('token', [None, 'user1:proj1'])
def test_v3_document_without_token(app, path, token):
    resp = Client(app, token).get(path)
    assert resp.status_int == 200
    assert resp.json['version']['version'] == '3.71'
    assert resp.json['versions'] == [resp.json['version']]


class _FakeSession:
    """Enough of a keystoneauth Session for discovery: GETs go to the app."""

    def __init__(self, app):
        self.app = app

    def get(self, url, headers=None, authenticated=None, **kwargs):
        req = webob.Request.blank(url)
        for k, v in (headers or {}).items():
            req.headers[k] = v
        resp = req.get_response(self.app)
        body = json.loads(resp.body)
        return types.SimpleNamespace(status_code=resp.status_int, json=lambda: body)


@pytest.mark.parametrize('url', ['http://localhost/', 'http://localhost/v3/'])
def test_keystoneauth_discovery_reads_our_documents(app, url):
    from keystoneauth1 import discover
    disc = discover.Discover(_FakeSession(app), url)
    data = disc.versioned_data_for(min_version='3.0', max_version='3.latest')
    assert data['url'] == 'http://localhost/v3/'
    assert data['max_microversion'] == (3, 71)
    assert data['min_microversion'] == (3, 0)


# -- microversions ------------------------------------------------------------------

def test_history_is_one_line_per_version_3_0_to_3_71():
    numbers = [v for v, _ in microversion.VERSIONS]
    assert numbers == [microversion.Version(3, n) for n in range(0, 72)]
    assert all(what for _, what in microversion.VERSIONS)
    assert str(microversion.MIN) == '3.0' and str(microversion.MAX) == '3.71'


@pytest.mark.parametrize('sent, echoed', [
    (None, '3.0'), ('latest', '3.71'), ('3.71', '3.71'), ('3.0', '3.0'), ('3.45', '3.45')])
def test_negotiated_version_is_echoed(client, sent, echoed):
    resp = client.get('/v3/volumes', version=sent)
    assert resp.status_int == 200
    assert resp.headers['OpenStack-API-Version'] == 'volume ' + echoed
    assert resp.headers['Vary'] == 'OpenStack-API-Version'


def test_legacy_header_accepted(client):
    resp = client.get('/v3/volumes', headers={'OpenStack-Volume-microversion': '3.12'})
    assert resp.headers['OpenStack-API-Version'] == 'volume 3.12'


@pytest.mark.parametrize('sent', ['3.72', '4.0', '2.0'])
def test_out_of_range_version_is_406(client, sent):
    resp = client.get('/v3/volumes', version=sent)
    assert resp.status_int == 406
    key, _, message = fault_of(resp)
    assert key == 'computeFault'
    assert 'Minimum is 3.0 and maximum is 3.71' in message


@pytest.mark.parametrize('sent', ['3.x', 'abc', '3.01', '3', '3.1.1'])
def test_malformed_version_is_400(client, sent):
    resp = client.get('/v3/volumes', version=sent)
    assert resp.status_int == 400
    key, _, message = fault_of(resp)
    assert key == 'badRequest'
    assert 'invalid format' in message


def test_handler_outside_its_range_is_404(client):
    resp = client.get('/v3/volumes/summary', version='3.11')
    assert resp.status_int == 404
    assert fault_of(resp)[0] == 'itemNotFound'
    assert client.get('/v3/volumes/summary', version='3.12').status_int == 200


def test_version_range_decorator_picks_handler(app, client, monkeypatch):
    @microversion.version_range('3.0', '3.39')
    def old(req):
        return webob.Response(body=b'old')

    @microversion.version_range('3.40')
    def new(req):
        return webob.Response(body=b'new')

    table = dict(routes.ROUTES)
    table['/v3/probe'] = {'GET': (old, new)}
    from blockstore.api import router
    monkeypatch.setattr(app.router, '_by_length', router.Router(table)._by_length)
    assert client.get('/v3/probe', version='3.39').body == b'old'
    assert client.get('/v3/probe', version='3.40').body == b'new'


# -- routing ------------------------------------------------------------------------

def test_unknown_url_is_404(client):
    resp = client.get('/v3/nothing-here/at/all')
    assert resp.status_int == 404
    assert fault_of(resp)[0] == 'itemNotFound'
    assert client.get('/v4/volumes').status_int == 404


def test_unknown_method_is_405_with_allow(client):
    resp = client.request('PATCH', '/v3/volumes')
    assert resp.status_int == 405
    assert resp.headers['Allow'] == 'GET, POST'
    assert fault_of(resp)[0] == 'badMethod'
    resp = client.request('POST', '/v3/volumes/detail')
    assert resp.status_int == 405 and resp.headers['Allow'] == 'GET'


def test_routes_served_with_and_without_project_id(client, project):
    vol = client.create_volume()
    for path in ('/v3/volumes/%s' % vol['id'], '/v3/%s/volumes/%s' % (project, vol['id'])):
        resp = client.get(path)
        assert resp.status_int == 200, path
    with_project = client.get('/v3/%s/volumes/%s' % (project, vol['id'])).json['volume']
    assert with_project['links'] == [
        {'rel': 'self', 'href': 'http://localhost/v3/%s/volumes/%s' % (project, vol['id'])},
        {'rel': 'bookmark', 'href': 'http://localhost/%s/volumes/%s' % (project, vol['id'])}]
    without = client.get('/v3/volumes/%s' % vol['id']).json['volume']
    assert without['links'][0]['href'] == 'http://localhost/v3/volumes/%s' % vol['id']
    assert without['links'][1]['href'] == 'http://localhost/volumes/%s' % vol['id']


def test_project_in_url_must_be_callers(client):
    resp = client.get('/v3/someone-else/volumes')
    assert resp.status_int == 400
    assert fault_of(resp) == ('badRequest', 400, 'Malformed request url')


# -- auth ---------------------------------------------------------------------------

def test_missing_token_is_401(anon):
    resp = anon.get('/v3/volumes')
    assert resp.status_int == 401
    assert fault_of(resp)[0] == 'unauthorized'


def test_token_without_project_uses_user_as_project(app):
    c = Client(app, 'solo')
    vol = c.create_volume()
    assert c.get('/v3/solo/volumes/%s' % vol['id']).status_int == 200


@pytest.mark.parametrize('token, headers, is_admin', [
    ('admin:admin', {}, True), ('admin', {}, True), ('bob:admin', {}, True),
    ('admin:proj', {}, True), ('bob:proj', {}, False),
    ('bob:proj', {'X-Roles': 'member,admin'}, True), ('bob:proj', {'X-Roles': 'reader'}, False)])
def test_admin_detection(app, token, headers, is_admin):
    resp = Client(app, token).get('/v3/volumes/detail', version='3.21', headers=headers)
    assert resp.status_int == 200
    c = Client(app, token)
    vol = c.create_volume()
    shown = c.get('/v3/volumes/%s' % vol['id'], headers=headers).json['volume']
    assert ('os-vol-host-attr:host' in shown) is is_admin


def test_request_id_header(client):
    resp = client.get('/v3/volumes')
    assert resp.headers['x-openstack-request-id'].startswith('req-')


# -- faults -------------------------------------------------------------------------

def test_unexpected_error_is_generic_500(client, monkeypatch):
    monkeypatch.setattr(volume_handlers.common, 'volume_api',
                        lambda req: (_ for _ in ()).throw(RuntimeError('secret db path')))
    resp = client.get('/v3/volumes')
    assert resp.status_int == 500
    key, _, message = fault_of(resp)
    assert key == 'computeFault'
    assert 'secret' not in message
    assert resp.headers['OpenStack-API-Version'] == 'volume 3.0'


@pytest.mark.parametrize('exc, code, key', [
    (exception.InvalidInput(reason='x'), 400, 'badRequest'),
    (exception.PolicyNotAuthorized(action='a'), 403, 'forbidden'),
    (exception.VolumeNotFound(volume_id='v'), 404, 'itemNotFound'),
    (exception.VolumeTypeExists(name='n'), 409, 'conflictingRequest'),
    (exception.OverQuota(overs='gigabytes'), 413, 'overLimit'),
    (exception.NoValidBackend(reason='none'), 500, 'computeFault'),
    (exception.ServiceTooOld(reason='old'), 400, 'badRequest'),
])
def test_service_exceptions_map_to_cinder_faults(client, monkeypatch, exc, code, key):
    def raise_it(*args, **kwargs):
        raise exc
    monkeypatch.setattr(client.app.volume_api, 'get_all', raise_it)
    resp = client.get('/v3/volumes')
    assert resp.status_int == code
    got_key, _, message = fault_of(resp)
    assert got_key == key
    if code < 500:
        assert message == exc.msg
    else:
        assert exc.msg not in message


def test_not_implemented_maps_to_501():
    from blockstore.api import middleware

    class NotImpl(exception.BlockstoreException):
        code = 501
        safe = True
    resp = middleware.fault_from_exception(NotImpl('later'))
    assert resp.status_int == 501
    assert resp.json == {'notImplemented': {'code': 501, 'message': 'later'}}


def test_malformed_json_is_400(client):
    resp = client.post('/v3/volumes', raw=b'{"volume": {"size": 1')
    assert resp.status_int == 400
    assert fault_of(resp)[0] == 'badRequest'
    resp = client.post('/v3/volumes', raw=b'\xff\xfe')
    assert resp.status_int == 400


# -- keystone strategy (wired, not exercised against a keystone) -------------------------

def test_keystone_strategy_wiring(database):
    from oslo_config import cfg
    from blockstore.api import app as api_app
    from blockstore.api import middleware
    conf = cfg.CONF
    conf.set_override('auth_strategy', 'keystone')
    try:
        application = api_app.make_app(conf)
    finally:
        conf.clear_override('auth_strategy')
    # Discovery bypasses auth_token; everything else goes through it.
    assert Client(application, None).get('/').status_int == 300
    assert Client(application, None).get('/v3/').status_int == 200

    seen = {}

    def inner(environ, start_response):
        seen['ctx'] = environ['blockstore.context']
        start_response('200 OK', [])
        return [b'']
    ctx_mw = middleware.KeystoneContextMiddleware(inner)
    req = webob.Request.blank('/v3/volumes', headers={
        'X-Identity-Status': 'Confirmed', 'X-User-Id': 'u1', 'X-Project-Id': 'p1',
        'X-Roles': 'reader,admin'})
    assert req.get_response(ctx_mw).status_int == 200
    ctx = seen['ctx']
    assert (ctx.user_id, ctx.project_id, ctx.is_admin) == ('u1', 'p1', True)
    req = webob.Request.blank('/v3/volumes', headers={
        'X-Identity-Status': 'Confirmed', 'X-User-Id': 'u1', 'X-Project-Id': 'p1',
        'X-Roles': 'member'})
    req.get_response(ctx_mw)
    assert seen['ctx'].is_admin is False
    resp = webob.Request.blank('/v3/volumes', headers={'X-Identity-Status': 'Invalid'}
                               ).get_response(ctx_mw)
    assert resp.status_int == 401
