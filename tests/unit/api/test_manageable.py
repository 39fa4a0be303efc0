"""Managing existing storage through the API (3.8 and the legacy paths)."""

import uuid

import pytest

from blockstore.common import context
from blockstore.db import api as db
from tests.unit.api.conftest import fault_of, make_available

ENTRIES = [
    {'reference': {'source-name': 'b.img'}, 'size': 2, 'safe_to_manage': True,
     'reason_not_safe': None, 'cinder_id': None, 'extra_info': None},
    {'reference': {'source-name': 'a.img'}, 'size': 1, 'safe_to_manage': False,
     'reason_not_safe': 'already managed', 'cinder_id': 'x', 'extra_info': None},
]


@pytest.fixture
def backend(app):
    ctx = context.get_admin_context()
    host = 'node-%s@file1' % uuid.uuid4().hex[:6]
    svc = db.service_create(ctx, {'host': host, 'binary': 'blockstore-volume',
                                  'topic': 't', 'availability_zone': 'nova'})
    db.service_heartbeat(ctx, svc.id, {})
    app.volume_api.scheduler_rpcapi.find_backend_pool = (
        lambda ctx, h, spec: h if '#' in h else h + '#file1')
    app.volume_api.volume_rpcapi.get_manageable_volumes = lambda ctx, h: list(ENTRIES)
    app.volume_api.volume_rpcapi.get_manageable_snapshots = lambda ctx, h: [
        dict(e, source_reference=None) for e in ENTRIES]
    return host


def test_listing(admin, client, backend):
    resp = admin.get('/v3/manageable_volumes?host=%s' % backend, version='3.8')
    assert resp.status_int == 200
    assert resp.json == {'manageable-volumes': [
        {'reference': {'source-name': 'b.img'}, 'size': 2, 'safe_to_manage': True},
        {'reference': {'source-name': 'a.img'}, 'size': 1, 'safe_to_manage': False}]}
    detail = admin.get('/v3/manageable_volumes/detail?host=%s&sort=size:asc' % backend,
                       version='3.8').json['manageable-volumes']
    assert [e['size'] for e in detail] == [1, 2] and detail[0]['cinder_id'] == 'x'
    assert admin.get('/v3/manageable_volumes/detail?host=%s&limit=1&offset=1' % backend,
                     version='3.8').json['manageable-volumes'][0]['size'] == 1
    snaps = admin.get('/v3/os-snapshot-manage?host=%s' % backend).json['manageable-snapshots']
    assert snaps[0] == {'reference': {'source-name': 'b.img'}, 'size': 2,
                        'safe_to_manage': True, 'source_reference': None}
    assert admin.get('/v3/manageable_volumes?host=%s' % backend).status_int == 404  # < 3.8
    assert admin.get('/v3/manageable_volumes', version='3.8').status_int == 400
    assert admin.get('/v3/manageable_volumes?host=nowhere@x', version='3.8').status_int == 400
    assert admin.get('/v3/manageable_volumes?host=%s&sort=color' % backend,
                     version='3.8').status_int == 400
    assert client.get('/v3/manageable_volumes?host=%s' % backend,
                      version='3.8').status_int == 403


def test_manage_volume(app, admin, backend):
    body = {'volume': {'host': backend, 'ref': {'source-name': 'b.img'}, 'name': 'adopted',
                       'metadata': {'k': 'v'}, 'bootable': True}}
    resp = admin.post('/v3/manageable_volumes', body, version='3.8')
    assert resp.status_int == 202, resp.body
    vol = resp.json['volume']
    assert (vol['status'], vol['name'], vol['bootable']) == ('creating', 'adopted', 'true')
    row = db.volume_get(context.get_admin_context(), vol['id'])
    assert (row.status, row.host) == ('managing', backend + '#file1')
    call = app.volume_api.volume_rpcapi.calls[-1]
    assert call[0] == 'manage_existing' and call[1][2] == {'source-name': 'b.img'}
    # Legacy path, and an already managed name is refused.
    legacy = admin.post('/v3/os-volume-manage', {'volume': {
        'host': backend, 'ref': {'source-name': 'volume-%s' % vol['id']}}})
    assert legacy.status_int == 400 and 'already managed' in fault_of(legacy)[2]


def test_manage_refusals(app, admin, client, backend):
    ok = {'host': backend, 'ref': {'source-name': 'x'}}
    assert client.post('/v3/manageable_volumes', {'volume': ok},
                       version='3.8').status_int == 403
    for bad in ({'ref': {'source-name': 'x'}}, {'host': backend}, {'host': backend, 'ref': {}},
                {'host': 'nowhere@b', 'ref': {'source-name': 'x'}},
                dict(ok, bootable='perhaps'), dict(ok, extra=1)):
        resp = admin.post('/v3/manageable_volumes', {'volume': bad}, version='3.71')
        assert resp.status_int == 400, bad
        fault_of(resp)
    assert admin.post('/v3/manageable_volumes', {'volume': dict(ok, volume_type='nope')},
                      version='3.8').status_int == 404
    app.volume_api.scheduler_rpcapi.find_backend_pool = lambda ctx, h, spec: None
    resp = admin.post('/v3/manageable_volumes', {'volume': ok}, version='3.8')
    assert resp.status_int == 400 and 'does not suit' in fault_of(resp)[2]


def test_unmanage_volume(app, admin, client):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    path = '/v3/volumes/%s/action' % vol['id']
    assert client.post(path, {'os-unmanage': None}).status_int == 403
    assert admin.post(path, {'os-unmanage': None}).status_int == 202
    # No host: finished at once.
    assert client.get('/v3/volumes/%s' % vol['id']).status_int == 404


def test_manage_and_unmanage_snapshot(app, admin, client, backend):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    db.volume_update(context.get_admin_context(), vol['id'], {'host': backend + '#file1'})
    body = {'snapshot': {'volume_id': vol['id'], 'ref': {'source-name': 's.img'},
                         'name': 'adopted'}}
    resp = admin.post('/v3/manageable_snapshots', body, version='3.8')
    assert resp.status_int == 202, resp.body
    snap = resp.json['snapshot']
    assert snap['status'] == 'creating' and snap['name'] == 'adopted'
    assert app.volume_api.volume_rpcapi.calls[-1][0] == 'manage_existing_snapshot'
    make_available('snapshot', snap['id'])
    path = '/v3/snapshots/%s/action' % snap['id']
    assert admin.post(path, {'os-unmanage': {}}).status_int == 202
    assert db.snapshot_get(context.get_admin_context(), snap['id']).status == 'unmanaging'
    assert admin.post('/v3/manageable_snapshots', {'snapshot': {
        'volume_id': str(uuid.uuid4()), 'ref': {'source-name': 'x'}}},
        version='3.8').status_int == 404
