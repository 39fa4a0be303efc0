"""Volume type encryption specs, and the volumes of encrypted types."""

import uuid

import pytest

from tests.unit.api.conftest import Client, fault_of

SPECS = {'provider': 'luks', 'cipher': 'aes-xts-plain64', 'key_size': 256,
         'control_location': 'front-end'}


@pytest.fixture
def vtype(admin):
    resp = admin.post('/v3/types', {'volume_type': {'name': 'enc-%s' % uuid.uuid4().hex[:8]}})
    return resp.json['volume_type']


def _url(vtype, spec=None):
    url = '/v3/types/%s/encryption' % vtype['id']
    return url + '/' + spec if spec else url


def test_lifecycle(admin, client, vtype):
    assert admin.get(_url(vtype)).json == {}
    resp = admin.post(_url(vtype), {'encryption': SPECS})
    assert resp.status_int == 200 and resp.json == {'encryption': SPECS}
    shown = admin.get(_url(vtype)).json
    assert {k: shown[k] for k in SPECS} == SPECS
    assert shown['volume_type_id'] == vtype['id'] and shown['encryption_id']
    assert set(shown) >= {'created_at', 'updated_at', 'deleted', 'deleted_at'}
    assert admin.get(_url(vtype, 'cipher')).json == {'cipher': 'aes-xts-plain64'}
    assert admin.get(_url(vtype, 'nothing')).status_int == 404
    # A second create is refused.
    assert admin.post(_url(vtype), {'encryption': SPECS}).status_int == 400
    resp = admin.put(_url(vtype, 'provider'), {'encryption': {'key_size': '512'}})
    assert resp.status_int == 200 and resp.json == {'encryption': {'key_size': 512}}
    assert admin.get(_url(vtype, 'key_size')).json == {'key_size': 512}
    # Volumes of the type are encrypted (and have a key id since 3.64) ...
    vol = client.create_volume(volume_type=vtype['name'])
    assert vol['encrypted'] is True
    shown = client.get('/v3/volumes/%s' % vol['id'], version='3.64').json['volume']
    assert shown['encrypted'] is True and shown['encryption_key_id']
    detail = client.get('/v3/volumes/detail').json['volumes']
    assert [v['encrypted'] for v in detail if v['id'] == vol['id']] == [True]
    plain = client.create_volume()
    assert plain['encrypted'] is False
    # ... and while there are some, the encryption cannot change.
    for method, body in (('PUT', {'encryption': {'cipher': 'x'}}), ('DELETE', None)):
        resp = admin.request(method, _url(vtype, 'provider'), body)
        assert resp.status_int == 400 and 'in use' in fault_of(resp)[2]


def test_delete(admin, vtype):
    assert admin.delete(_url(vtype, 'provider')).status_int == 404
    admin.post(_url(vtype), {'encryption': SPECS})
    assert admin.delete(_url(vtype, 'provider')).status_int == 202
    assert admin.get(_url(vtype)).json == {}


def test_admin_only(client, vtype):
    assert client.get(_url(vtype)).status_int == 403
    assert client.post(_url(vtype), {'encryption': SPECS}).status_int == 403


@pytest.mark.parametrize('specs', [
    {'provider': 'luks'},
    {'control_location': 'front-end'},
    dict(SPECS, control_location='middle'),
    dict(SPECS, key_size=-1),
    dict(SPECS, key_size='big'),
    dict(SPECS, unknown='x'),
    dict(SPECS, provider=5),
])
def test_bad_specs(admin, vtype, specs):
    resp = admin.post(_url(vtype), {'encryption': specs})
    assert resp.status_int == 400, specs
    fault_of(resp)


def test_unknown_type(admin):
    fake = {'id': str(uuid.uuid4())}
    assert admin.get(_url(fake)).status_int == 404
    assert admin.post(_url(fake), {'encryption': SPECS}).status_int == 404


def test_volume_encryption_metadata(admin, client, vtype, app):
    admin.post(_url(vtype), {'encryption': SPECS})
    vol = client.create_volume(volume_type=vtype['name'])
    key_id = client.get('/v3/volumes/%s' % vol['id'], version='3.64').json['volume'][
        'encryption_key_id']
    url = '/v3/volumes/%s/encryption' % vol['id']
    assert client.get(url).json == dict(SPECS, encryption_key_id=key_id)
    assert client.get(url + '/cipher').json == 'aes-xts-plain64'
    assert client.get(url + '/key_size').json == 256
    resp = client.get(url + '/nope')
    assert resp.status_int == 404 and 'nope' in fault_of(resp)[2]
    plain = client.create_volume()
    assert client.get('/v3/volumes/%s/encryption' % plain['id']).json == {
        'encryption_key_id': None}
    # Another project's volume is not found; a missing one neither.
    other = Client(app, 'eve:p-%s' % uuid.uuid4().hex[:12])
    assert other.get(url).status_int == 404
    assert client.get('/v3/volumes/%s/encryption' % uuid.uuid4()).status_int == 404
