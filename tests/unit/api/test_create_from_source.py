"""A volume being created from a snapshot or a volume holds its origin: no delete meanwhile.

The create inserts the volume in 'creating', then proves its origin usable;
the origin's delete is refused while a volume is being created from it (a
guard in the transition table), and a create from an origin already being
deleted is refused and leaves no volume. Either way the refusal is a 400
that says why, and the volume manager never meets a volume whose origin is
gone (which ended the volume in ``error``).
"""

import pytest

from tests.unit.api.conftest import fault_of, make_available


@pytest.fixture
def snapshot(client):
    vol = client.create_volume(size=1)
    make_available('volume', vol['id'])
    snap = client.create_snapshot(vol['id'])
    make_available('snapshot', snap['id'])
    return snap


def _create_from(client, **origin):
    return client.post('/v3/volumes', {'volume': dict(size=1, **origin)})


def test_snapshot_delete_refused_while_a_volume_is_created_from_it(client, snapshot):
    resp = _create_from(client, snapshot_id=snapshot['id'])
    assert resp.status_int == 202, resp.body
    vid = resp.json['volume']['id']
    resp = client.delete('/v3/snapshots/%s' % snapshot['id'])
    assert resp.status_int == 400, resp.body
    key, _code, message = fault_of(resp)
    assert key == 'badRequest'
    assert 'a volume is being created from the snapshot' in message
    assert client.get('/v3/snapshots/%s' % snapshot['id']).json['snapshot']['status'] == \
        'available'
    make_available('volume', vid)
    assert client.delete('/v3/snapshots/%s' % snapshot['id']).status_int == 202


def test_create_from_a_snapshot_being_deleted_is_refused(client, snapshot):
    assert client.delete('/v3/snapshots/%s' % snapshot['id']).status_int == 202
    before = client.get('/v3/volumes').json['volumes']
    resp = _create_from(client, snapshot_id=snapshot['id'])
    assert resp.status_int == 400, resp.body
    assert 'must be available, but is deleting' in fault_of(resp)[2]
    assert client.get('/v3/volumes').json['volumes'] == before   # no volume left behind


def test_source_delete_refused_while_a_clone_is_created(client):
    vol = client.create_volume(size=1)
    make_available('volume', vol['id'])
    resp = _create_from(client, source_volid=vol['id'])
    assert resp.status_int == 202, resp.body
    resp = client.delete('/v3/volumes/%s' % vol['id'])
    assert resp.status_int == 400, resp.body
    assert 'a clone of the volume is being created' in fault_of(resp)[2]
