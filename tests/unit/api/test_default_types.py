"""Per-project default volume types (3.62)."""

import uuid

import pytest

from tests.unit.api.conftest import fault_of

V = '3.62'


def _type(admin, **kw):
    resp = admin.post('/v3/types', {'volume_type': dict(name='t-%s' % uuid.uuid4().hex[:8],
                                                        **kw)})
    assert resp.status_int == 200
    return resp.json['volume_type']


def _project(client):
    return client.token.partition(':')[2]


def test_set_show_list_unset(admin, client):
    vt = _type(admin)
    project = _project(client)
    resp = admin.put('/v3/default-types/%s' % project,
                     {'default_type': {'volume_type': vt['name']}}, version=V)
    assert resp.status_int == 200, resp.body
    assert resp.json == {'default_type': {'project_id': project, 'volume_type_id': vt['id']}}
    assert admin.get('/v3/default-types/%s' % project, version=V).json['default_type'][
        'volume_type_id'] == vt['id']
    listed = admin.get('/v3/default-types', version=V).json['default_types']
    assert {'project_id': project, 'volume_type_id': vt['id']} in listed
    # Volumes created without a type get it, and so does GET /types/default.
    vol = client.create_volume()
    assert vol['volume_type'] == vt['name']
    assert client.get('/v3/types/default').json['volume_type']['id'] == vt['id']
    # It cannot be deleted while it is a default.
    resp = admin.delete('/v3/types/%s' % vt['id'])
    assert resp.status_int == 400 and project in fault_of(resp)[2]
    # Replace, then unset.
    vt2 = _type(admin)
    assert admin.put('/v3/default-types/%s' % project,
                     {'default_type': {'volume_type': vt2['id']}}, version=V).status_int == 200
    assert client.create_volume()['volume_type'] == vt2['name']
    resp = admin.delete('/v3/default-types/%s' % project, version=V)
    assert resp.status_int == 204
    assert admin.delete('/v3/default-types/%s' % project, version=V).status_int == 404
    assert admin.get('/v3/default-types/%s' % project, version=V).status_int == 404
    assert client.create_volume()['volume_type'] == '__DEFAULT__'


def test_version_and_admin(admin, client):
    assert admin.get('/v3/default-types', version='3.61').status_int == 404
    assert client.get('/v3/default-types', version=V).status_int == 403
    assert client.put('/v3/default-types/x', {'default_type': {'volume_type': 'y'}},
                      version=V).status_int == 403


@pytest.mark.parametrize('body', [
    {}, {'default_type': {}}, {'default_type': {'volume_type': ''}},
    {'default_type': {'volume_type': 'x', 'other': 1}}, {'default_type': 'x'}])
def test_bad_bodies(admin, body):
    resp = admin.put('/v3/default-types/p1', body, version=V)
    assert resp.status_int == 400
    fault_of(resp)


def test_unknown_type_is_404(admin):
    resp = admin.put('/v3/default-types/p1', {'default_type': {'volume_type': 'nope'}},
                     version=V)
    assert resp.status_int == 404
