"""Snapshot endpoints."""

import urllib.parse
import uuid

import pytest

from tests.unit.api.conftest import Client, fault_of, make_available

SUMMARY_KEYS = {'id', 'created_at', 'updated_at', 'name', 'description', 'volume_id',
                'status', 'size', 'metadata'}
EXT_KEYS = {'os-extended-snapshot-attributes:progress',
            'os-extended-snapshot-attributes:project_id'}


@pytest.fixture
def volume(client):
    vol = client.create_volume(size=2)
    make_available('volume', vol['id'])
    return vol


def test_create_returns_202_detail(client, app, volume):
    resp = client.post('/v3/snapshots', {'snapshot': {
        'volume_id': volume['id'], 'name': 's1', 'description': 'd', 'metadata': {'k': 'v'}}})
    assert resp.status_int == 202
    snap = resp.json['snapshot']
    assert set(snap) == SUMMARY_KEYS
    assert (snap['name'], snap['description'], snap['size'], snap['status']) == (
        's1', 'd', 2, 'creating')
    assert snap['metadata'] == {'k': 'v'}
    assert snap['volume_id'] == volume['id']
    assert 'create_snapshot' in app.volume_api.volume_rpcapi.names()


def test_fields_by_version(client, volume, project):
    snap = client.create_snapshot(volume['id'])
    show = lambda v: client.get('/v3/snapshots/%s' % snap['id'], version=v).json['snapshot']
    assert set(show('3.0')) == SUMMARY_KEYS | EXT_KEYS
    assert set(show('3.14')) == SUMMARY_KEYS | EXT_KEYS | {'group_snapshot_id'}
    assert set(show('3.41')) == SUMMARY_KEYS | EXT_KEYS | {'group_snapshot_id', 'user_id'}
    latest = show('latest')
    assert set(latest) == SUMMARY_KEYS | EXT_KEYS | {'group_snapshot_id', 'user_id',
                                                     'consumes_quota'}
    assert latest['user_id'] == 'user1'
    assert latest['os-extended-snapshot-attributes:project_id'] == project
    assert latest['os-extended-snapshot-attributes:progress'] == '0%'
    # The index is the summary view at every version.
    (item,) = client.get('/v3/snapshots', version='latest').json['snapshots']
    assert set(item) == SUMMARY_KEYS
    (item,) = client.get('/v3/snapshots/detail', version='latest').json['snapshots']
    assert set(item) == set(latest)


@pytest.mark.parametrize('snapshot, needle', [
    ({'volume_id': 'not-a-uuid'}, 'volume_id'),
    ({}, 'volume_id'),
    ({'volume_id': '%s', 'name': 'x' * 256}, 'name'),
    ({'volume_id': '%s', 'metadata': {'a': 1}}, 'a'),
    ({'volume_id': '%s', 'force': 'perhaps'}, 'force'),
])
def test_create_bad_input(client, volume, snapshot, needle):
    snapshot = {k: (v % volume['id'] if v == '%s' else v) for k, v in snapshot.items()}
    resp = client.post('/v3/snapshots', {'snapshot': snapshot})
    assert resp.status_int == 400, resp.body
    assert needle in fault_of(resp)[2]


def test_create_on_missing_or_foreign_volume_is_404(app, client, volume):
    assert client.post('/v3/snapshots', {'snapshot': {'volume_id': str(uuid.uuid4())}}
                       ).status_int == 404
    other = Client(app, 'eve:eve-%s' % uuid.uuid4().hex[:6])
    assert other.post('/v3/snapshots', {'snapshot': {'volume_id': volume['id']}}
                      ).status_int == 404


def test_unknown_key_strict_from_3_53(client, volume):
    body = {'snapshot': {'volume_id': volume['id'], 'colour': 'red'}}
    assert client.post('/v3/snapshots', body, version='3.52').status_int == 202
    assert client.post('/v3/snapshots', body, version='3.53').status_int == 400


def test_force_false_refused_from_3_66(client, volume):
    body = {'snapshot': {'volume_id': volume['id'], 'force': False}}
    resp = client.post('/v3/snapshots', body, version='3.66')
    assert resp.status_int == 400
    assert '3.66' in fault_of(resp)[2]
    body['snapshot']['force'] = True
    assert client.post('/v3/snapshots', body, version='3.66').status_int == 202


def test_snapshot_of_creating_volume_is_400(client):
    vol = client.create_volume()
    resp = client.post('/v3/snapshots', {'snapshot': {'volume_id': vol['id']}})
    assert resp.status_int == 400


def test_list_filters_pagination_count(client, volume):
    ids = [client.create_snapshot(volume['id'], name='s%d' % i)['id'] for i in range(3)]
    names = lambda q: [s['name'] for s in client.get('/v3/snapshots' + q).json['snapshots']]
    assert names('?sort=name:asc') == ['s0', 's1', 's2']
    assert names('?name=s1') == ['s1']
    assert names('?volume_id=%s&sort=name:desc' % volume['id']) == ['s2', 's1', 's0']
    page = client.get('/v3/snapshots/detail?limit=2&sort=name:asc', version='3.45').json
    assert len(page['snapshots']) == 2
    href = page['snapshots_links'][0]['href']
    assert urllib.parse.urlsplit(href).path == '/v3/snapshots/detail'
    assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(href).query))['marker'] == ids[1]
    body = client.get('/v3/snapshots?with_count=1&limit=1', version='3.45').json
    assert body['count'] == 3
    assert client.get('/v3/snapshots?colour=red', version='3.31').status_int == 400


def test_update_and_delete(client, app, volume):
    snap = client.create_snapshot(volume['id'], name='a')
    resp = client.put('/v3/snapshots/%s' % snap['id'],
                      {'snapshot': {'name': 'b', 'description': 'new'}})
    assert resp.status_int == 200
    assert (resp.json['snapshot']['name'], resp.json['snapshot']['description']) == ('b', 'new')
    assert client.put('/v3/snapshots/%s' % snap['id'],
                      {'snapshot': {'volume_id': volume['id']}},
                      version='3.53').status_int == 400
    # Still creating: a plain delete is refused; once available it is accepted.
    assert client.delete('/v3/snapshots/%s' % snap['id']).status_int == 400
    make_available('snapshot', snap['id'])
    assert client.delete('/v3/snapshots/%s' % snap['id']).status_int == 202
    assert 'delete_snapshot' in app.volume_api.volume_rpcapi.names()


def test_metadata(client, volume):
    snap = client.create_snapshot(volume['id'], metadata={'a': '1'})
    base = '/v3/snapshots/%s/metadata' % snap['id']
    assert client.get(base).json == {'metadata': {'a': '1'}}
    assert client.post(base, {'metadata': {'b': '2'}}).json == {'metadata': {'a': '1',
                                                                             'b': '2'}}
    assert client.put(base, {'metadata': {'c': '3', 'd': '4'}}).json == {
        'metadata': {'c': '3', 'd': '4'}}
    assert client.get(base + '/c').json == {'meta': {'c': '3'}}
    assert client.put(base + '/c', {'meta': {'c': '5'}}).json == {'meta': {'c': '5'}}
    assert client.put(base + '/c', {'meta': {'x': '5'}}).status_int == 400
    assert client.delete(base + '/c').status_int == 200
    assert client.get(base).json == {'metadata': {'d': '4'}}
    assert client.get(base + '/c').status_int == 404
    assert client.delete(base + '/c').status_int == 404


def test_force_delete_action(client, admin, volume):
    snap = client.create_snapshot(volume['id'])
    path = '/v3/snapshots/%s/action' % snap['id']
    assert client.post(path, {'os-force_delete': {}}).status_int == 403
    assert client.post(path, {'os-reset_status': {'status': 'error'}}).status_int == 403
    assert client.post(path, {'os-nothing': {}}).status_int == 400
    assert admin.post(path, {'os-force_delete': {}}).status_int == 202


def test_isolation(app, client, volume):
    snap = client.create_snapshot(volume['id'])
    other = Client(app, 'eve:eve-%s' % uuid.uuid4().hex[:6])
    assert other.get('/v3/snapshots/%s' % snap['id']).status_int == 404
    assert other.get('/v3/snapshots').json['snapshots'] == []
