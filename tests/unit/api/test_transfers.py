"""Volume transfers between projects: /volume-transfers (3.55+) and /os-volume-transfer."""

import uuid

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import models
from tests.unit.api.conftest import Client, fault_of, make_available


@pytest.fixture
def volume(client):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    return vol


@pytest.fixture
def receiver(app):
    return Client(app, 'bob:p-%s' % uuid.uuid4().hex[:12])


def _project(c):
    return c.token.partition(':')[2]


def _create(c, vid, version='3.57', path='/v3/volume-transfers', **extra):
    return c.post(path, {'transfer': dict(volume_id=vid, name='xfer', **extra)},
                  version=version)


def test_transfer_with_snapshots(client, receiver, volume):
    vid = volume['id']
    snap = client.create_snapshot(vid)
    make_available('snapshot', snap['id'])
    resp = _create(client, vid)
    assert resp.status_int == 202, resp.body
    t = resp.json['transfer']
    assert set(t) == {'id', 'created_at', 'name', 'volume_id', 'auth_key', 'links',
                      'no_snapshots'}
    assert t['no_snapshots'] is False and len(t['auth_key']) == 16
    assert client.get('/v3/volumes/%s' % vid).json['volume']['status'] == 'awaiting-transfer'
    # The key is stored salted and hashed, never as given.
    with db._reader(context.get_admin_context()) as s:
        row = s.get(models.Transfer, t['id'])
    assert t['auth_key'] not in (row.crypt_hash, row.salt) and len(row.salt) >= 16
    # Only the owner sees it; the key is not shown again.
    shown = client.get('/v3/volume-transfers/%s' % t['id'], version='3.57').json['transfer']
    assert 'auth_key' not in shown and shown['source_project_id'] == _project(client)
    assert shown['accepted'] is False and shown['destination_project_id'] is None
    assert receiver.get('/v3/volume-transfers/%s' % t['id'], version='3.57').status_int == 404
    listed = client.get('/v3/volume-transfers', version='3.57').json['transfers']
    assert [x['id'] for x in listed] == [t['id']]
    assert set(listed[0]) == {'id', 'name', 'volume_id', 'links'}
    # A wrong key is refused; the right one moves volume and snapshot.
    url = '/v3/volume-transfers/%s/accept' % t['id']
    resp = receiver.post(url, {'accept': {'auth_key': 'wrong'}}, version='3.57')
    assert resp.status_int == 400 and 'invalid auth key' in fault_of(resp)[2]
    resp = receiver.post(url, {'accept': {'auth_key': t['auth_key']}}, version='3.57')
    assert resp.status_int == 202, resp.body
    assert resp.json['transfer'] == {'id': t['id'], 'name': 'xfer', 'volume_id': vid,
                                     'links': resp.json['transfer']['links']}
    moved = receiver.get('/v3/volumes/%s' % vid).json['volume']
    assert moved['status'] == 'available'
    assert moved['os-vol-tenant-attr:tenant_id'] == _project(receiver)
    assert receiver.get('/v3/snapshots/%s' % snap['id']).status_int == 200
    assert client.get('/v3/volumes/%s' % vid).status_int == 404
    assert client.get('/v3/snapshots/%s' % snap['id']).status_int == 404
    # Accepted transfers are gone from listings; a second accept is a 404.
    assert client.get('/v3/volume-transfers', version='3.57').json['transfers'] == []
    assert receiver.post(url, {'accept': {'auth_key': t['auth_key']}},
                         version='3.57').status_int == 404


def test_transfer_without_snapshots(client, receiver, volume):
    vid = volume['id']
    snap = client.create_snapshot(vid)
    make_available('snapshot', snap['id'])
    t = _create(client, vid, no_snapshots=True).json['transfer']
    assert t['no_snapshots'] is True
    receiver.post('/v3/volume-transfers/%s/accept' % t['id'],
                  {'accept': {'auth_key': t['auth_key']}}, version='3.57')
    assert receiver.get('/v3/volumes/%s' % vid).status_int == 200
    assert client.get('/v3/snapshots/%s' % snap['id']).status_int == 200


def test_cancel_and_legacy_paths(client, receiver, volume):
    vid = volume['id']
    resp = _create(client, vid, version='3.0', path='/v3/os-volume-transfer')
    assert resp.status_int == 202
    t = resp.json['transfer']
    assert 'no_snapshots' not in t
    assert _create(client, vid).status_int == 400          # already awaiting transfer
    resp = client.delete('/v3/volume-transfers/%s' % t['id'], version='3.0')
    assert resp.status_int == 404                           # new path needs 3.55
    assert receiver.delete('/v3/os-volume-transfer/%s' % t['id']).status_int == 404
    assert client.delete('/v3/os-volume-transfer/%s' % t['id']).status_int == 202
    assert client.get('/v3/volumes/%s' % vid).json['volume']['status'] == 'available'
    assert client.get('/v3/os-volume-transfer/detail').json['transfers'] == []


def test_refusals(client, volume):
    vid = volume['id']
    snap = client.create_snapshot(vid)                      # 'creating'
    resp = _create(client, vid)
    assert resp.status_int == 400 and snap['id'] in fault_of(resp)[2]
    assert client.get('/v3/volumes/%s' % vid).json['volume']['status'] == 'available'
    assert _create(client, str(uuid.uuid4())).status_int == 404
    other = client.create_volume()                          # 'creating'
    resp = _create(client, other['id'])
    assert resp.status_int == 400 and 'but is creating' in fault_of(resp)[2]


def test_encrypted_volume_needs_370(admin, client):
    vt = admin.post('/v3/types', {'volume_type': {'name': 'e-%s' % uuid.uuid4().hex[:6]}}
                    ).json['volume_type']
    admin.post('/v3/types/%s/encryption' % vt['id'], {'encryption': {
        'provider': 'luks', 'control_location': 'front-end'}})
    vol = client.create_volume(volume_type=vt['id'])
    make_available('volume', vol['id'])
    assert _create(client, vol['id'], version='3.69').status_int == 400
    assert _create(client, vol['id'], version='3.70').status_int == 202


def test_pagination_and_filters(client):
    ids = []
    for i in range(3):
        vol = client.create_volume(name='v%d' % i)
        make_available('volume', vol['id'])
        ids.append(_create(client, vol['id']).json['transfer']['id'])
    page = client.get('/v3/volume-transfers?limit=2', version='3.59').json
    assert len(page['transfers']) == 2 and 'transfers_links' in page
    assert client.get('/v3/volume-transfers?limit=x', version='3.59').status_int == 400
    assert client.get('/v3/volume-transfers?marker=%s' % uuid.uuid4(),
                      version='3.59').status_int == 404
    assert client.get('/v3/volume-transfers?sort=name:sideways',
                      version='3.59').status_int == 400


@pytest.mark.parametrize('body', [
    {}, {'transfer': {}}, {'transfer': {'volume_id': 'nope'}},
    {'transfer': {'volume_id': str(uuid.uuid4()), 'no_snapshots': 'perhaps'}},
    {'transfer': {'volume_id': str(uuid.uuid4()), 'name': 'x' * 256}},
    {'transfer': {'volume_id': str(uuid.uuid4()), 'bogus': 1}}])
def test_bad_create(client, body):
    resp = client.post('/v3/volume-transfers', body, version='3.57')
    assert resp.status_int == 400, body
    fault_of(resp)


@pytest.mark.parametrize('body', [{}, {'accept': {}}, {'accept': {'auth_key': ''}},
                                  {'accept': {'auth_key': 5}}, {'accept': 'k'}])
def test_bad_accept(client, body):
    resp = client.post('/v3/volume-transfers/%s/accept' % uuid.uuid4(), body, version='3.57')
    assert resp.status_int == 400


# -- quota of the accepting project ----------------------------------------------------------

def _offer(client, size=1, snapshots=0, **extra):
    vol = client.create_volume(size=size)
    make_available('volume', vol['id'])
    for _ in range(snapshots):
        snap = client.create_snapshot(vol['id'])
        make_available('snapshot', snap['id'])
    resp = _create(client, vol['id'], **extra)
    assert resp.status_int == 202, resp.body
    return vol, resp.json['transfer']


def _accept(receiver, t):
    return receiver.post('/v3/volume-transfers/%s/accept' % t['id'],
                         {'accept': {'auth_key': t['auth_key']}}, version='3.57')


def _set_quota(admin, project, **limits):
    resp = admin.put('/v3/os-quota-sets/%s' % project, {'quota_set': limits})
    assert resp.status_int == 200, resp.body


def _still_offered(client, vol, t):
    row = db.volume_get(context.get_admin_context(), vol['id'])
    assert (row.status, row.project_id) == ('awaiting-transfer', _project(client))
    listed = client.get('/v3/volume-transfers', version='3.57').json['transfers']
    assert t['id'] in [x['id'] for x in listed]


@pytest.mark.parametrize('limits, size, snapshots, words', [
    ({'volumes': 0}, 1, 0, "Maximum number of volumes allowed (0) exceeded for quota "
                           "'volumes'"),
    ({'gigabytes': 2}, 3, 0, "exceeds allowed gigabytes quota"),
    ({'snapshots': 1}, 1, 2, 'Maximum number of snapshots allowed (1) exceeded'),
    # Snapshots count against gigabytes too (no_snapshot_gb_quota is false).
    ({'gigabytes': 3}, 2, 1, 'exceeds allowed gigabytes quota'),
])
def test_accept_over_the_recipients_quota_is_413_and_moves_nothing(
        admin, client, receiver, limits, size, snapshots, words):
    vol, t = _offer(client, size=size, snapshots=snapshots)
    _set_quota(admin, _project(receiver), **limits)
    resp = _accept(receiver, t)
    assert resp.status_int == 413, resp.body
    assert fault_of(resp)[0] == 'overLimit' and words in fault_of(resp)[2]
    _still_offered(client, vol, t)
    for s in db.snapshot_get_all(context.get_admin_context(),
                                 filters={'volume_id': vol['id']}):
        assert s.project_id == _project(client)
    # With room made, the same key works.
    _set_quota(admin, _project(receiver), volumes=10, gigabytes=100, snapshots=10)
    assert _accept(receiver, t).status_int == 202
    assert db.volume_get(context.get_admin_context(), vol['id']).project_id == \
        _project(receiver)


def test_accept_counts_what_the_recipient_already_has(admin, client, receiver):
    _set_quota(admin, _project(receiver), volumes=1, gigabytes=100)
    receiver.create_volume()
    vol, t = _offer(client)
    resp = _accept(receiver, t)
    assert resp.status_int == 413 and 'volumes' in fault_of(resp)[2]
    _still_offered(client, vol, t)


def test_accept_without_snapshots_needs_no_snapshot_quota(admin, client, receiver):
    vol, t = _offer(client, snapshots=2, no_snapshots=True)
    _set_quota(admin, _project(receiver), snapshots=0)
    assert _accept(receiver, t).status_int == 202, t
    assert db.volume_get(context.get_admin_context(), vol['id']).project_id == \
        _project(receiver)


def test_per_type_quota_on_accept(admin, client, receiver):
    resp = admin.post('/v3/types', {'volume_type': {'name': 'xfer-%s' % uuid.uuid4().hex[:6]}})
    vtype = resp.json['volume_type']
    vol = client.create_volume(volume_type=vtype['id'])
    make_available('volume', vol['id'])
    t = _create(client, vol['id']).json['transfer']
    _set_quota(admin, _project(receiver), **{'volumes_%s' % vtype['name']: 0})
    resp = _accept(receiver, t)
    assert resp.status_int == 413 and 'volumes_%s' % vtype['name'] in fault_of(resp)[2]
    _still_offered(client, vol, t)
