"""Volume type endpoints."""

import uuid

import pytest

from tests.unit.api.conftest import fault_of


def _name():
    return 'type-%s' % uuid.uuid4().hex[:8]


@pytest.fixture
def vtype(admin):
    resp = admin.post('/v3/types', {'volume_type': {
        'name': _name(), 'description': 'fast', 'os-volume-type-access:is_public': True,
        'extra_specs': {'volume_backend_name': 'lvm', 'multiattach': '<is> True'}}})
    assert resp.status_int == 200, resp.body
    return resp.json['volume_type']


def test_create_shape(vtype):
    assert set(vtype) == {'id', 'name', 'is_public', 'description', 'extra_specs',
                          'qos_specs_id', 'os-volume-type-access:is_public'}
    assert vtype['is_public'] is True and vtype['os-volume-type-access:is_public'] is True
    assert vtype['extra_specs'] == {'volume_backend_name': 'lvm', 'multiattach': '<is> True'}


def test_show_and_default(client, admin, vtype):
    shown = client.get('/v3/types/%s' % vtype['id']).json['volume_type']
    assert 'qos_specs_id' not in shown
    # Non-admins see only user-visible extra specs.
    assert shown['extra_specs'] == {'multiattach': '<is> True'}
    assert admin.get('/v3/types/%s' % vtype['id']).json['volume_type']['extra_specs'] == \
        vtype['extra_specs']
    default = client.get('/v3/types/default').json['volume_type']
    assert default['name'] == '__DEFAULT__'
    assert client.get('/v3/types/%s' % uuid.uuid4()).status_int == 404


def test_list_public_and_private(client, admin, vtype):
    private = admin.post('/v3/types', {'volume_type': {
        'name': _name(), 'os-volume-type-access:is_public': False}}).json['volume_type']
    names = lambda c, q='': {t['name'] for t in c.get('/v3/types' + q).json['volume_types']}
    assert vtype['name'] in names(client)
    assert private['name'] not in names(client)
    assert private['name'] not in names(client, '?is_public=none')
    assert private['name'] not in names(admin)                  # Cinder: public by default
    assert private['name'] in names(admin, '?is_public=none')
    assert private['name'] in names(admin, '?is_public=false')
    assert admin.get('/v3/types?is_public=perhaps').status_int == 400
    assert client.get('/v3/types/%s' % private['id']).status_int == 404


def test_manage_is_admin_only(client, vtype):
    for method, path, body in [
            ('POST', '/v3/types', {'volume_type': {'name': _name()}}),
            ('PUT', '/v3/types/%s' % vtype['id'], {'volume_type': {'name': 'x'}}),
            ('DELETE', '/v3/types/%s' % vtype['id'], None),
            ('POST', '/v3/types/%s/extra_specs' % vtype['id'], {'extra_specs': {'a': 'b'}}),
            ('PUT', '/v3/types/%s/extra_specs/a' % vtype['id'], {'a': 'b'}),
            ('DELETE', '/v3/types/%s/extra_specs/multiattach' % vtype['id'], None)]:
        resp = client.request(method, path, body)
        assert resp.status_int == 403, (method, path)
        assert fault_of(resp)[0] == 'forbidden'


@pytest.mark.parametrize('body', [
    {'volume_type': {}},
    {'volume_type': {'name': ''}},
    {'volume_type': {'name': '   '}},
    {'volume_type': {'name': 'x' * 256}},
    {'volume_type': {'name': 'ok', 'extra_specs': {'a': 1}}},
    {'volume_type': {'name': 'ok', 'os-volume-type-access:is_public': 'sometimes'}},
    {'name': 'ok'},
])
def test_create_bad_input(admin, body):
    resp = admin.post('/v3/types', body)
    assert resp.status_int == 400, body
    assert fault_of(resp)[0] == 'badRequest'


def test_duplicate_name_is_409(admin, vtype):
    resp = admin.post('/v3/types', {'volume_type': {'name': vtype['name']}})
    assert resp.status_int == 409
    assert fault_of(resp)[0] == 'conflictingRequest'


def test_update_and_delete(admin, client, vtype):
    resp = admin.put('/v3/types/%s' % vtype['id'],
                     {'volume_type': {'description': 'slow', 'is_public': False}})
    assert resp.status_int == 200
    out = resp.json['volume_type']
    assert (out['description'], out['is_public']) == ('slow', False)
    assert admin.put('/v3/types/%s' % vtype['id'], {'volume_type': {}}).status_int == 400
    assert admin.put('/v3/types/%s' % vtype['id'],
                     {'volume_type': {'name': ' '}}).status_int == 400
    assert admin.delete('/v3/types/%s' % vtype['id']).status_int == 202
    assert admin.get('/v3/types/%s' % vtype['id']).status_int == 404


def test_type_in_use_cannot_be_deleted(admin, client, vtype):
    client.create_volume(volume_type=vtype['name'])
    resp = admin.delete('/v3/types/%s' % vtype['id'])
    assert resp.status_int == 400


def test_extra_specs(admin, client, vtype):
    base = '/v3/types/%s/extra_specs' % vtype['id']
    assert admin.get(base).json == {'extra_specs': vtype['extra_specs']}
    assert client.get(base).json == {'extra_specs': {'multiattach': '<is> True'}}
    resp = admin.post(base, {'extra_specs': {'qos': 'high'}})
    assert (resp.status_int, resp.json) == (200, {'extra_specs': {'qos': 'high'}})
    assert admin.get(base + '/qos').json == {'qos': 'high'}
    assert client.get(base + '/qos').status_int == 404
    resp = admin.put(base + '/qos', {'qos': 'low'})
    assert (resp.status_int, resp.json) == (200, {'qos': 'low'})
    assert admin.put(base + '/qos', {'other': 'low'}).status_int == 400
    assert admin.put(base + '/qos', {'qos': 'low', 'b': 'c'}).status_int == 400
    assert admin.post(base, {'extra_specs': {'qos': 5}}).status_int == 400
    assert admin.delete(base + '/qos').status_int == 202
    assert admin.get(base + '/qos').status_int == 404
    assert admin.delete(base + '/qos').status_int == 404
