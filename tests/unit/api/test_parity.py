"""Cinder parity through the API: cascade delete, request ids on every response, noauth admins."""

import pytest

from blockstore.api import common as api_common
from blockstore.api import middleware
from blockstore.common import context
from blockstore.db import api as db
from blockstore.objects import states
from tests.unit.api.conftest import Client, fault_of, make_available


def _volume_with_snapshots(client, n=2):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    snaps = [client.create_snapshot(vol['id'])['id'] for _ in range(n)]
    return vol['id'], snaps


def _status(resource, rid):
    get = db.volume_get if resource == 'volume' else db.snapshot_get
    return get(context.get_admin_context(), rid, read_deleted=True).status


# -- cascade delete -------------------------------------------------------------------

def test_cascade_deletes_the_snapshots_too(client):
    vid, snaps = _volume_with_snapshots(client)
    for sid in snaps:
        make_available('snapshot', sid)
    # Without cascade the snapshots still refuse it, as before.
    resp = client.delete('/v3/volumes/%s' % vid)
    assert resp.status_int == 400 and 'the volume has snapshots' in fault_of(resp)[2]
    resp = client.delete('/v3/volumes/%s?cascade=true' % vid)
    assert resp.status_int == 202, resp.body
    # Never placed on a backend: the service layer finished volume and snapshots at once.
    assert client.get('/v3/volumes/%s' % vid).status_int == 404
    for sid in snaps:
        assert client.get('/v3/snapshots/%s' % sid).status_int == 404
        assert _status('snapshot', sid) == 'deleted'
    assert db.worker_get_all(context.get_admin_context(), resource_id=vid,
                             operation='delete') == []


def test_cascade_refuses_a_snapshot_that_is_not_deletable(client):
    vid, (ready, busy) = _volume_with_snapshots(client)
    make_available('snapshot', ready)       # the other one is still creating
    resp = client.delete('/v3/volumes/%s?cascade=true' % vid)
    assert resp.status_int == 400
    message = fault_of(resp)[2]
    assert busy in message and 'status must be available or error, but is creating' in message
    assert ready not in message
    # Nothing changed: not the volume, not the deletable snapshot, no work record.
    assert _status('volume', vid) == 'available'
    assert (_status('snapshot', ready), _status('snapshot', busy)) == ('available', 'creating')
    assert db.worker_get_all(context.get_admin_context(), resource_id=vid,
                             operation='delete') == []


def test_cascade_keeps_the_volume_preconditions(client):
    vol = client.create_volume()        # creating: not deletable by its owner
    resp = client.delete('/v3/volumes/%s?cascade=true' % vol['id'])
    assert resp.status_int == 400
    assert 'status must be' in fault_of(resp)[2]
    assert _status('volume', vol['id']) == 'creating'
    resp = client.delete('/v3/volumes/%s?cascade=perhaps' % vol['id'])
    assert resp.status_int == 400


def test_cascade_refuses_another_projects_snapshot_to_a_member(client, admin):
    vid, (own,) = _volume_with_snapshots(client, 1)
    make_available('snapshot', own)
    ctx = context.get_admin_context()
    db.snapshot_update(ctx, own, {'project_id': 'someone-else'})   # as after a transfer
    resp = client.delete('/v3/volumes/%s?cascade=true' % vid)
    assert resp.status_int == 400
    assert '%s cannot be deleted: it belongs to another project' % own in fault_of(resp)[2]
    assert _status('snapshot', own) == 'available'
    # An administrator may.
    assert admin.delete('/v3/volumes/%s?cascade=true' % vid).status_int == 202
    assert _status('snapshot', own) == 'deleted'


def test_force_cascade_takes_snapshots_left_in_error_deleting(client, admin):
    vid, (sid,) = _volume_with_snapshots(client, 1)
    ctx = context.get_admin_context()
    assert states.transition(ctx, 'snapshot', sid, 'reset', target='error_deleting')
    resp = admin.delete('/v3/volumes/%s?cascade=true' % vid)
    assert resp.status_int == 400 and sid in fault_of(resp)[2]
    assert states.transition(ctx, 'volume', vid, 'reset', target='error_deleting')
    resp = admin.delete('/v3/volumes/%s?force=true' % vid, version='3.23')
    assert resp.status_int == 400 and 'the volume has snapshots' in fault_of(resp)[2]
    resp = admin.delete('/v3/volumes/%s?force=true&cascade=true' % vid, version='3.23')
    assert resp.status_int == 202, resp.body
    assert (_status('volume', vid), _status('snapshot', sid)) == ('deleted', 'deleted')


# -- request ids ----------------------------------------------------------------------

@pytest.mark.parametrize('path, token, code', [
    ('/v3/volumes/00000000-0000-0000-0000-000000000000', 'u:p', 404),
    ('/v3/volumes', None, 401),
    ('/v3/volumes', 'u:p', 200),
    ('/', None, 300),
])
def test_both_request_id_headers_on_every_response(app, path, token, code):
    resp = Client(app, token).get(path)
    assert resp.status_int == code
    rid = resp.headers['x-openstack-request-id']
    assert rid.startswith('req-') and resp.headers['x-compute-request-id'] == rid
    assert resp.headers.getall('x-openstack-request-id') == [rid]
    again = Client(app, token).get(path)
    assert again.headers['x-compute-request-id'] != rid


def test_request_id_is_the_contexts(app):
    seen = []

    def inner(environ, start_response):
        seen.append(environ[api_common.CONTEXT_KEY].request_id)
        start_response('404 Not Found', [('Content-Type', 'application/json'),
                                         ('x-openstack-request-id', 'req-stale')])
        return [b'{}']
    stack = middleware.RequestIdMiddleware(middleware.NoAuthMiddleware(inner))
    resp = Client(stack, 'u:p').get('/v3/volumes/x')
    assert seen == [resp.headers['x-openstack-request-id']]
    assert resp.headers.getall('x-openstack-request-id') == seen
    assert resp.headers.getall('x-compute-request-id') == seen


# -- noauth callers -------------------------------------------------------------------

def test_noauth_without_roles_is_an_admin_like_cinder(app, project):
    plain = Client(app, 'user1:%s' % project, roles=None)
    member = Client(app, 'user1:%s' % project, roles='member')
    body = {'volume_type': {'name': 'noauth-%s' % project}}
    resp = member.post('/v3/types', body)
    assert resp.status_int == 403 and fault_of(resp)[0] == 'forbidden'
    resp = plain.post('/v3/types', body)
    assert resp.status_int == 200, resp.body
    vol = plain.create_volume()
    resp = member.delete('/v3/volumes/%s?force=true' % vol['id'], version='3.23')
    assert resp.status_int == 403
    resp = member.post('/v3/volumes/%s/action' % vol['id'], {'os-force_delete': {}})
    assert resp.status_int == 403
    resp = plain.post('/v3/volumes/%s/action' % vol['id'], {'os-force_delete': {}})
    assert resp.status_int == 202, resp.body
    # Its own project still scopes what it lists (all_tenants shows the rest).
    elsewhere = Client(app, 'user2:other-%s' % project).create_volume()
    mine = plain.create_volume()
    assert [v['id'] for v in plain.get('/v3/volumes').json['volumes']] == [mine['id']]
    listed = plain.get('/v3/volumes?all_tenants=1').json['volumes']
    assert elsewhere['id'] in [v['id'] for v in listed]


@pytest.mark.parametrize('roles, is_admin', [
    (None, True), ('member', False), ('reader', False), ('', False), ('member,admin', True)])
def test_noauth_roles_header_decides(app, project, roles, is_admin):
    c = Client(app, 'bob:%s' % project, roles=roles)
    vol = c.create_volume() if roles != 'reader' else Client(
        app, 'bob:%s' % project).create_volume()
    shown = c.get('/v3/volumes/%s' % vol['id']).json['volume']
    assert ('os-vol-host-attr:host' in shown) is is_admin
