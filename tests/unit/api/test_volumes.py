"""Volume endpoints: wire format, status codes, gating, isolation, bad input."""

import json
import re
import urllib.parse
import uuid

import pytest

from tests.unit.api.conftest import Client, fault_of, make_available

TIME_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$')

BASE_DETAIL_KEYS = {
    'id', 'name', 'links', 'status', 'size', 'availability_zone', 'created_at', 'updated_at',
    'description', 'volume_type', 'snapshot_id', 'source_volid', 'metadata', 'user_id',
    'bootable', 'encrypted', 'replication_status', 'consistencygroup_id', 'multiattach',
    'attachments'}


# -- create ---------------------------------------------------------------------------

def test_create_returns_202_and_detail_view(client, app, project):
    resp = client.post('/v3/volumes', {'volume': {
        'size': 2, 'name': 'vol-a', 'description': 'first', 'metadata': {'k': 'v'},
        'availability_zone': 'nova', 'imageRef': None, 'consistencygroup_id': None}})
    assert resp.status_int == 202
    vol = resp.json['volume']
    assert set(vol) == BASE_DETAIL_KEYS
    assert vol['size'] == 2
    assert vol['name'] == 'vol-a'
    assert vol['description'] == 'first'
    assert vol['metadata'] == {'k': 'v'}
    assert vol['status'] == 'creating'
    assert vol['bootable'] == 'false'
    assert vol['encrypted'] is False
    assert vol['multiattach'] is False
    assert vol['attachments'] == []
    assert vol['consistencygroup_id'] is None
    assert vol['volume_type'] == '__DEFAULT__'
    assert vol['user_id'] == 'user1'
    assert vol['availability_zone'] == 'nova'
    assert TIME_RE.match(vol['created_at'])
    uuid.UUID(vol['id'])
    assert vol['links'][0] == {'rel': 'self',
                               'href': 'http://localhost/v3/volumes/%s' % vol['id']}
    # The service layer cast the create to the scheduler.
    assert app.volume_api.scheduler_rpcapi.names() == ['create_volume']


def test_create_accepts_digit_string_size_and_display_name(client):
    resp = client.post('/v3/volumes', {'volume': {'size': '3', 'display_name': 'legacy',
                                                  'display_description': 'd'}})
    assert resp.status_int == 202
    vol = resp.json['volume']
    assert (vol['size'], vol['name'], vol['description']) == (3, 'legacy', 'd')


def test_create_with_type_by_name_and_by_id(client, admin):
    vt = admin.post('/v3/types', {'volume_type': {'name': 'gold-%s' % uuid.uuid4().hex[:6]}})
    vt = vt.json['volume_type']
    by_name = client.create_volume(volume_type=vt['name'])
    by_id = client.create_volume(volume_type=vt['id'])
    assert by_name['volume_type'] == by_id['volume_type'] == vt['name']
    resp = client.post('/v3/volumes', {'volume': {'size': 1, 'volume_type': 'no-such-type'}})
    assert resp.status_int == 404
    assert fault_of(resp)[0] == 'itemNotFound'


def test_create_from_snapshot_and_clone(client):
    src = client.create_volume(size=2)
    make_available('volume', src['id'])
    snap = client.create_snapshot(src['id'])
    make_available('snapshot', snap['id'])
    from_snap = client.create_volume(size=None, snapshot_id=snap['id'])
    assert (from_snap['size'], from_snap['snapshot_id']) == (2, snap['id'])
    clone = client.create_volume(size=3, source_volid=src['id'])
    assert (clone['size'], clone['source_volid']) == (3, src['id'])
    missing = client.post('/v3/volumes', {'volume': {'size': 1,
                                                     'snapshot_id': str(uuid.uuid4())}})
    assert missing.status_int == 404


@pytest.mark.parametrize('volume, needle', [
    ({'size': 'abc'}, 'size'),
    ({'size': 0}, 'size'),
    ({'size': '0'}, 'size'),
    ({'size': -1}, 'size'),
    ({'size': 1.5}, 'size'),
    ({'size': True}, 'size'),
    ({'size': 1, 'name': 'x' * 256}, 'name'),
    ({'size': 1, 'description': 'x' * 256}, 'description'),
    ({'size': 1, 'metadata': {'k': 1}}, 'k'),
    ({'size': 1, 'metadata': {'k': None}}, 'k'),
    ({'size': 1, 'metadata': {'': 'v'}}, 'metadata'),
    ({'size': 1, 'metadata': {'k' * 256: 'v'}}, 'metadata'),
    ({'size': 1, 'metadata': {'k': 'v' * 256}}, 'k'),
    ({'size': 1, 'metadata': 'k=v'}, 'metadata'),
    ({'size': 1, 'snapshot_id': 'not-a-uuid'}, 'snapshot_id'),
    ({'size': 1, 'source_volid': 'nope'}, 'source_volid'),
    ({'size': 1, 'multiattach': 'maybe'}, 'multiattach'),
    ({'size': 1, 'group_id': str(uuid.uuid4())}, 'group_id'),
    ({}, 'size'),
])
def test_create_bad_input_is_400(client, volume, needle):
    for version in ('3.0', '3.53', 'latest'):
        resp = client.post('/v3/volumes', {'volume': volume}, version=version)
        assert resp.status_int == 400, (volume, version, resp.body)
        key, _, message = fault_of(resp)
        assert key == 'badRequest'
        assert needle in message, message


def test_create_body_shape_errors(client):
    assert client.post('/v3/volumes', {'size': 1}).status_int == 400
    assert client.post('/v3/volumes', {'volume': 'big'}).status_int == 400
    assert client.post('/v3/volumes', [1, 2]).status_int == 400
    assert client.post('/v3/volumes', raw=b'').status_int == 400


def test_unknown_top_level_key_rejected_from_3_53(client):
    body = {'volume': {'size': 1}, 'bogus': 1}
    assert client.post('/v3/volumes', body, version='3.52').status_int == 202
    resp = client.post('/v3/volumes', body, version='3.53')
    assert resp.status_int == 400
    assert 'bogus' in fault_of(resp)[2]
    # As in Cinder, unknown keys inside "volume" are tolerated.
    assert client.post('/v3/volumes', {'volume': {'size': 1, 'extra': 1}},
                       version='3.71').status_int == 202


def test_size_over_limit_is_400(client):
    resp = client.post('/v3/volumes', {'volume': {'size': 10 ** 6}})
    assert resp.status_int == 400


# -- show and field gating ----------------------------------------------------------------

def _show(c, vol_id, version=None):
    resp = c.get('/v3/volumes/%s' % vol_id, version=version)
    assert resp.status_int == 200, resp.body
    return resp.json['volume']


def test_show_fields_by_version_for_owner(client):
    vol = client.create_volume()
    base = BASE_DETAIL_KEYS | {'os-vol-tenant-attr:tenant_id'}
    assert set(_show(client, vol['id'], '3.0')) == base
    assert set(_show(client, vol['id'], '3.13')) == base | {'group_id'}
    assert set(_show(client, vol['id'], '3.48')) == base | {'group_id', 'shared_targets',
                                                            'service_uuid'}
    latest = _show(client, vol['id'], 'latest')
    assert set(latest) == base | {'group_id', 'shared_targets', 'service_uuid',
                                  'volume_type_id', 'consumes_quota'}
    assert latest['consumes_quota'] is True
    assert latest['shared_targets'] is None          # tristate since 3.69
    assert _show(client, vol['id'], '3.68')['shared_targets'] is True


def test_show_admin_fields(client, admin, project):
    vol = client.create_volume()
    admin_only = {'migration_status', 'os-vol-host-attr:host',
                  'os-vol-mig-status-attr:migstat', 'os-vol-mig-status-attr:name_id'}
    shown = _show(admin, vol['id'], '3.0')
    assert admin_only <= set(shown)
    assert shown['os-vol-tenant-attr:tenant_id'] == project
    assert not admin_only & set(_show(client, vol['id'], '3.0'))
    at_321 = _show(admin, vol['id'], '3.21')
    assert 'provider_id' in at_321 and 'provider_id' not in _show(client, vol['id'], '3.21')
    assert 'cluster_name' in _show(admin, vol['id'], '3.61')
    assert 'cluster_name' not in _show(admin, vol['id'], '3.60')
    assert 'cluster_name' not in _show(client, vol['id'], '3.61')


def test_encryption_key_id_only_when_set(client):
    vol = client.create_volume()
    assert 'encryption_key_id' not in _show(client, vol['id'], '3.64')


def test_project_isolation(app, client):
    vol = client.create_volume()
    other = Client(app, 'mallory:other-%s' % uuid.uuid4().hex[:6])
    for method, path, body in [
            ('GET', '/v3/volumes/%s' % vol['id'], None),
            ('PUT', '/v3/volumes/%s' % vol['id'], {'volume': {'name': 'x'}}),
            ('DELETE', '/v3/volumes/%s' % vol['id'], None),
            ('GET', '/v3/volumes/%s/metadata' % vol['id'], None),
            ('POST', '/v3/volumes/%s/action' % vol['id'], {'os-extend': {'new_size': 5}})]:
        resp = other.request(method, path, body)
        assert resp.status_int == 404, (method, path)
        assert fault_of(resp)[0] == 'itemNotFound'
    assert other.get('/v3/volumes').json['volumes'] == []
    assert other.get('/v3/volumes?all_tenants=1').json['volumes'] == []


def test_show_missing_is_404(client):
    resp = client.get('/v3/volumes/%s' % uuid.uuid4())
    assert resp.status_int == 404
    assert 'could not be found' in fault_of(resp)[2]


# -- lists --------------------------------------------------------------------------------

def test_summary_and_detail_lists(client):
    a = client.create_volume(name='a')
    b = client.create_volume(name='b')
    summary = client.get('/v3/volumes').json
    assert [set(v) for v in summary['volumes']] == [{'id', 'name', 'links'}] * 2
    assert [v['id'] for v in summary['volumes']] == [b['id'], a['id']]  # newest first
    assert 'volumes_links' not in summary
    detail = client.get('/v3/volumes/detail').json['volumes']
    assert set(detail[0]) == BASE_DETAIL_KEYS | {'os-vol-tenant-attr:tenant_id'}


def test_list_filters(client):
    client.create_volume(name='alpha', metadata={'tier': 'gold', 'x': 'y'})
    client.create_volume(name='beta', metadata={'tier': 'silver'})
    names = lambda q: sorted(v['name'] for v in client.get('/v3/volumes' + q).json['volumes'])
    assert names('?name=alpha') == ['alpha']
    assert names('?status=creating') == ['alpha', 'beta']
    assert names('?status=available') == []
    md = urllib.parse.quote(str({'tier': 'gold'}))        # how cinderclient sends it
    assert names('?metadata=' + md) == ['alpha']
    assert names('?metadata=' + urllib.parse.quote(json.dumps({'tier': 'silver'}))) == ['beta']
    assert names('?bootable=false') == ['alpha', 'beta']
    assert names('?bootable=true') == []
    assert names('?availability_zone=nova') == ['alpha', 'beta']
    assert client.get('/v3/volumes?metadata=notadict').status_int == 400
    assert client.get('/v3/volumes?bootable=maybe', version='3.2').status_int == 400


def test_unknown_filters_ignored_before_3_31_rejected_after(client):
    assert client.get('/v3/volumes?host=x', version='3.30').status_int == 200
    resp = client.get('/v3/volumes?host=x', version='3.31')
    assert resp.status_int == 400
    assert 'host' in fault_of(resp)[2]


def test_sort_limit_marker_and_next_link(client, project):
    ids = [client.create_volume(name='v%d' % i)['id'] for i in range(5)]
    page = client.get('/v3/volumes/detail?limit=2&sort=name:asc').json
    assert [v['name'] for v in page['volumes']] == ['v0', 'v1']
    (link,) = page['volumes_links']
    assert link['rel'] == 'next'
    parsed = urllib.parse.urlsplit(link['href'])
    assert parsed.path == '/v3/volumes/detail'
    query = dict(urllib.parse.parse_qsl(parsed.query))
    assert query == {'limit': '2', 'sort': 'name:asc', 'marker': ids[1]}
    page2 = client.get('/v3/volumes/detail?' + parsed.query).json
    assert [v['name'] for v in page2['volumes']] == ['v2', 'v3']
    asc = client.get('/v3/volumes?sort_key=name&sort_dir=asc').json['volumes']
    assert [v['name'] for v in asc] == ['v0', 'v1', 'v2', 'v3', 'v4']
    off = client.get('/v3/volumes?sort=name:asc&offset=3').json['volumes']
    assert [v['name'] for v in off] == ['v3', 'v4']
    # The project id of the URL is kept in the next link.
    link = client.get('/v3/%s/volumes?limit=1' % project).json['volumes_links'][0]['href']
    assert urllib.parse.urlsplit(link).path == '/v3/%s/volumes' % project


@pytest.mark.parametrize('query', ['limit=abc', 'limit=-1', 'offset=-2', 'sort_dir=up',
                                   'sort=name&sort_key=id', 'sort=bogus'])
def test_bad_list_params_are_400(client, query):
    resp = client.get('/v3/volumes?' + query)
    assert resp.status_int == 400, query
    assert fault_of(resp)[0] == 'badRequest'


def test_unknown_marker_is_404(client):
    # Cinder's MarkerNotFound is a NotFound.
    resp = client.get('/v3/volumes?marker=nope')
    assert resp.status_int == 404
    assert fault_of(resp) == ('itemNotFound', 404, 'Marker nope could not be found.')


def test_with_count(client):
    for i in range(3):
        client.create_volume()
    body = client.get('/v3/volumes?with_count=true&limit=1', version='3.45').json
    assert body['count'] == 3 and len(body['volumes']) == 1
    assert 'count' not in client.get('/v3/volumes?with_count=true', version='3.44').json
    # count honours filters, not only the page
    client.create_volume(name='only-me')
    body = client.get('/v3/volumes?with_count=true&name=only-me', version='3.45').json
    assert body['count'] == 1


def test_type_can_be_deleted_after_its_volumes_and_name_reused(client):
    from blockstore.common import context
    from blockstore.common import exception
    from blockstore.db import api as db
    from blockstore.volume import volume_types
    ctx = context.get_admin_context()
    vt = volume_types.create(ctx, 'short-lived')
    vid = client.create_volume(volume_type='short-lived')['id']
    with pytest.raises(exception.InvalidVolumeType):
        volume_types.delete(ctx, vt.id)          # in use by a live volume
    db.conditional_update(ctx, 'volume', vid, {'status': 'deleted', 'deleted': True})
    volume_types.delete(ctx, vt.id)              # only a deleted volume refers to it
    with pytest.raises(exception.VolumeTypeNotFound):
        volume_types.get(ctx, vt.id)
    again = volume_types.create(ctx, 'short-lived')   # the name is free again
    assert again.id != vt.id


def test_all_tenants_for_admin_only(client, admin, project):
    vol = client.create_volume()
    all_ids = [v['id'] for v in admin.get('/v3/volumes?all_tenants=1').json['volumes']]
    assert vol['id'] in all_ids
    mine = admin.get('/v3/volumes?all_tenants=1&project_id=%s' % project).json['volumes']
    assert [v['id'] for v in mine] == [vol['id']]


def test_volume_summary(client):
    client.create_volume(size=2, metadata={'a': '1'})
    client.create_volume(size=3, metadata={'a': '2', 'b': '1'})
    body = client.get('/v3/volumes/summary', version='3.12').json
    assert body == {'volume-summary': {'total_count': 2, 'total_size': 5}}
    body = client.get('/v3/volumes/summary', version='3.36').json['volume-summary']
    assert {k: sorted(v) for k, v in body['metadata'].items()} == {'a': ['1', '2'], 'b': ['1']}


# -- update, delete --------------------------------------------------------------------------

def test_update(client):
    vol = client.create_volume(name='old', metadata={'a': '1'})
    resp = client.put('/v3/volumes/%s' % vol['id'],
                      {'volume': {'name': 'new', 'description': 'desc', 'metadata': {'b': '2'}}})
    assert resp.status_int == 200
    out = resp.json['volume']
    assert (out['name'], out['description'], out['metadata']) == ('new', 'desc', {'b': '2'})
    assert 'os-vol-tenant-attr:tenant_id' not in out
    resp = client.put('/v3/volumes/%s' % vol['id'], {'volume': {'display_name': 'legacy'}})
    assert resp.json['volume']['name'] == 'legacy'
    bad = client.put('/v3/volumes/%s' % vol['id'], {'volume': {'name': 'x' * 256}})
    assert bad.status_int == 400
    strict = client.put('/v3/volumes/%s' % vol['id'], {'volume': {'size': 5}}, version='3.53')
    assert strict.status_int == 400


def test_delete(client, app):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    resp = client.delete('/v3/volumes/%s' % vol['id'])
    assert resp.status_int == 202 and resp.body == b''
    # Never scheduled (no host): the service layer finished it at once.
    assert client.get('/v3/volumes/%s' % vol['id']).status_int == 404


def test_delete_refusals(client, admin):
    vol = client.create_volume()
    assert client.delete('/v3/volumes/%s?cascade=true' % vol['id']).status_int == 400
    resp = client.delete('/v3/volumes/%s?force=true' % vol['id'], version='3.23')
    assert resp.status_int == 403
    assert fault_of(resp)[0] == 'forbidden'
    # 'creating' may not be deleted by its owner ...
    resp = client.delete('/v3/volumes/%s' % vol['id'])
    assert resp.status_int == 400
    assert 'status must be' in fault_of(resp)[2]
    # ... but an admin may force it.
    assert admin.delete('/v3/volumes/%s?force=true' % vol['id'],
                        version='3.23').status_int == 202


def test_delete_with_snapshot_is_400(client, app):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    client.create_snapshot(vol['id'])
    resp = client.delete('/v3/volumes/%s' % vol['id'])
    assert resp.status_int == 400
    assert 'snapshots' in fault_of(resp)[2]


# -- metadata --------------------------------------------------------------------------------

def test_metadata_endpoints(client):
    vol = client.create_volume(metadata={'a': '1'})
    base = '/v3/volumes/%s/metadata' % vol['id']
    assert client.get(base).json == {'metadata': {'a': '1'}}
    resp = client.post(base, {'metadata': {'b': '2'}})
    assert (resp.status_int, resp.json) == (200, {'metadata': {'a': '1', 'b': '2'}})
    resp = client.put(base, {'metadata': {'c': '3'}})
    assert (resp.status_int, resp.json) == (200, {'metadata': {'c': '3'}})
    assert client.get(base + '/c').json == {'meta': {'c': '3'}}
    resp = client.put(base + '/c', {'meta': {'c': '4'}})
    assert (resp.status_int, resp.json) == (200, {'meta': {'c': '4'}})
    assert client.put(base + '/c', {'meta': {'d': '4'}}).status_int == 400
    assert client.put(base + '/c', {'meta': {'c': '4', 'd': '5'}}).status_int == 400
    assert client.post(base, {'metadata': {'k': 5}}).status_int == 400
    resp = client.delete(base + '/c')
    assert resp.status_int == 200
    assert client.get(base + '/c').status_int == 404
    assert client.delete(base + '/c').status_int == 404
    assert client.get(base).json == {'metadata': {}}


def test_metadata_key_with_special_characters(client):
    vol = client.create_volume(metadata={'a b/c': 'v'})
    key = urllib.parse.quote('a b', safe='')
    resp = client.post('/v3/volumes/%s/metadata' % vol['id'], {'metadata': {'a b': 'w'}})
    assert resp.status_int == 200
    assert client.get('/v3/volumes/%s/metadata/%s' % (vol['id'], key)).json == {
        'meta': {'a b': 'w'}}


# -- actions --------------------------------------------------------------------------------

def test_extend(client, app):
    vol = client.create_volume(size=1)
    make_available('volume', vol['id'])
    path = '/v3/volumes/%s/action' % vol['id']
    assert client.post(path, {'os-extend': {'new_size': 0}}).status_int == 400
    assert client.post(path, {'os-extend': {'new_size': 'two'}}).status_int == 400
    assert client.post(path, {'os-extend': {}}).status_int == 400
    resp = client.post(path, {'os-extend': {'new_size': '1'}})
    assert resp.status_int == 400 and 'greater than current size' in fault_of(resp)[2]
    resp = client.post(path, {'os-extend': {'new_size': 2}})
    assert resp.status_int == 202 and resp.body == b''
    assert 'extend_volume' in app.volume_api.volume_rpcapi.names()
    assert _show(client, vol['id'])['status'] == 'extending'
    resp = client.post(path, {'os-extend': {'new_size': 3}})
    assert resp.status_int == 400


def test_force_delete_action_is_admin_only(client, admin):
    vol = client.create_volume()
    path = '/v3/volumes/%s/action' % vol['id']
    resp = client.post(path, {'os-force_delete': {}})
    assert resp.status_int == 403
    assert admin.post(path, {'os-force_delete': None}).status_int == 202


@pytest.mark.parametrize('body, needle', [
    ({'os-update_volume_status': {'status': 'available'}}, 'not supported yet'),
    ({'os-frobnicate': {}}, 'no such action'),
    ({'os-extend': {'new_size': 2}, 'os-force_delete': {}}, 'too many'),
    ({}, 'no action'),
])
def test_unsupported_actions_are_400(client, body, needle):
    vol = client.create_volume()
    resp = client.post('/v3/volumes/%s/action' % vol['id'], body)
    assert resp.status_int == 400
    assert needle in fault_of(resp)[2]
