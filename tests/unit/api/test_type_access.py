"""Private volume types: access lists, visibility, and volume create with them."""

import uuid

import pytest

from tests.unit.api.conftest import Client, fault_of


def _name():
    return 'type-%s' % uuid.uuid4().hex[:8]


@pytest.fixture
def private(admin):
    resp = admin.post('/v3/types', {'volume_type': {
        'name': _name(), 'os-volume-type-access:is_public': False}})
    assert resp.status_int == 200, resp.body
    return resp.json['volume_type']


@pytest.fixture
def other(app):
    return Client(app, 'user2:p-%s' % uuid.uuid4().hex[:12])


def _project(client):
    return client.token.partition(':')[2]


def _add(admin, type_id, project, action='addProjectAccess'):
    return admin.post('/v3/types/%s/action' % type_id, {action: {'project': project}})


def _names(client):
    return {t['name'] for t in client.get('/v3/types').json['volume_types']}


def test_grant_makes_type_visible_to_that_project_only(admin, client, other, private):
    assert private['name'] not in _names(client)
    assert client.get('/v3/types/%s' % private['id']).status_int == 404
    resp = _add(admin, private['id'], _project(client))
    assert resp.status_int == 202 and resp.body == b''
    assert private['name'] in _names(client)
    assert client.get('/v3/types/%s' % private['id']).status_int == 200
    assert private['name'] not in _names(other)
    assert other.get('/v3/types/%s' % private['id']).status_int == 404
    listed = admin.get('/v3/types/%s/os-volume-type-access' % private['id']).json
    assert listed == {'volume_type_access': [{'volume_type_id': private['id'],
                                              'project_id': _project(client)}]}
    # Twice is a conflict; removing gives it back.
    resp = _add(admin, private['id'], _project(client))
    assert resp.status_int == 409 and fault_of(resp)[0] == 'conflictingRequest'
    assert _add(admin, private['id'], _project(client), 'removeProjectAccess').status_int == 202
    assert private['name'] not in _names(client)
    resp = _add(admin, private['id'], _project(client), 'removeProjectAccess')
    assert resp.status_int == 404


def test_volume_create_with_private_type(admin, client, other, private):
    resp = client.post('/v3/volumes', {'volume': {'size': 1, 'volume_type': private['id']}})
    assert resp.status_int == 404, resp.body
    resp = client.post('/v3/volumes', {'volume': {'size': 1, 'volume_type': private['name']}})
    assert resp.status_int == 404
    _add(admin, private['id'], _project(client))
    vol = client.create_volume(volume_type=private['name'])
    assert vol['volume_type'] == private['name']
    assert other.post('/v3/volumes', {'volume': {'size': 1, 'volume_type': private['id']}}
                      ).status_int == 404


def test_public_type_access_refused(admin):
    public = admin.post('/v3/types', {'volume_type': {'name': _name()}}).json['volume_type']
    assert admin.get('/v3/types/%s/os-volume-type-access' % public['id']).status_int == 404
    resp = _add(admin, public['id'], 'someone')
    assert resp.status_int == 400 and 'public' in fault_of(resp)[2]


def test_access_is_admin_only(client, private):
    assert client.get('/v3/types/%s/os-volume-type-access' % private['id']).status_int == 403
    assert _add(client, private['id'], 'x').status_int == 403


@pytest.mark.parametrize('body', [
    {'addProjectAccess': {}},
    {'addProjectAccess': {'project': ''}},
    {'addProjectAccess': {'project': 5}},
    {'addProjectAccess': {'project': 'a', 'extra': 1}},
    {'addProjectAccess': 'p'},
    {'removeProjectAccess': None},
    {'noSuchAction': {}},
    {},
    [],
])
def test_bad_action_bodies(admin, private, body):
    resp = admin.post('/v3/types/%s/action' % private['id'], body)
    assert resp.status_int == 400, (body, resp.body)
    fault_of(resp)


def test_unknown_type(admin):
    missing = uuid.uuid4()
    assert admin.get('/v3/types/%s/os-volume-type-access' % missing).status_int == 404
    assert _add(admin, missing, 'p').status_int == 404
