"""QoS specs and their association with volume types."""

import uuid

import pytest

from tests.unit.api.conftest import fault_of


def _name(prefix='qos'):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def qos(admin):
    resp = admin.post('/v3/qos-specs', {'qos_specs': {'name': _name(), 'read_iops_sec': '100',
                                                      'consumer': 'front-end'}})
    assert resp.status_int == 200, resp.body
    return resp.json


@pytest.fixture
def vtype(admin):
    return admin.post('/v3/types', {'volume_type': {'name': _name('t')}}).json['volume_type']


def test_create_shape(qos):
    assert set(qos) == {'qos_specs', 'links'}
    body = qos['qos_specs']
    assert body['consumer'] == 'front-end' and body['specs'] == {'read_iops_sec': '100'}
    assert qos['links'][0]['href'].endswith('/v3/qos-specs/%s' % body['id'])


def test_default_consumer_and_duplicate(admin):
    name = _name()
    body = admin.post('/v3/qos-specs', {'qos_specs': {'name': name}}).json['qos_specs']
    assert body['consumer'] == 'back-end' and body['specs'] == {}
    resp = admin.post('/v3/qos-specs', {'qos_specs': {'name': name}})
    assert resp.status_int == 409


def test_show_list_update_delete_keys(admin, qos):
    qid = qos['qos_specs']['id']
    assert admin.get('/v3/qos-specs/%s' % qid).json['qos_specs'] == qos['qos_specs']
    assert qid in [q['id'] for q in admin.get('/v3/qos-specs').json['qos_specs']]
    resp = admin.put('/v3/qos-specs/%s' % qid, {'qos_specs': {'write_iops_sec': '50',
                                                             'consumer': 'both'}})
    assert resp.status_int == 200
    assert resp.json == {'qos_specs': {'write_iops_sec': '50', 'consumer': 'both'}}
    shown = admin.get('/v3/qos-specs/%s' % qid).json['qos_specs']
    assert shown['specs'] == {'read_iops_sec': '100', 'write_iops_sec': '50'}
    assert shown['consumer'] == 'both'
    resp = admin.put('/v3/qos-specs/%s/delete_keys' % qid, {'keys': ['read_iops_sec']})
    assert resp.status_int == 202
    assert admin.get('/v3/qos-specs/%s' % qid).json['qos_specs']['specs'] == {
        'write_iops_sec': '50'}
    resp = admin.put('/v3/qos-specs/%s/delete_keys' % qid, {'keys': ['nope']})
    assert resp.status_int == 400 and 'nope' in fault_of(resp)[2]
    assert admin.put('/v3/qos-specs/%s' % qid, {'qos_specs': {'consumer': 'x'}}
                     ).status_int == 400


def test_associations(admin, qos, vtype):
    qid = qos['qos_specs']['id']
    base = '/v3/qos-specs/%s' % qid
    assert admin.get(base + '/associate').status_int == 400
    assert admin.get(base + '/associate?vol_type_id=%s' % uuid.uuid4()).status_int == 404
    assert admin.get(base + '/associate?vol_type_id=%s' % vtype['id']).status_int == 202
    assert admin.get('/v3/types/%s' % vtype['id']).json['volume_type']['qos_specs_id'] == qid
    assert admin.get(base + '/associations').json == {'qos_associations': [
        {'association_type': 'volume_type', 'name': vtype['name'], 'id': vtype['id']}]}
    # Another specs may not take the type; in use, delete needs force.
    other = admin.post('/v3/qos-specs', {'qos_specs': {'name': _name()}}).json['qos_specs']
    resp = admin.get('/v3/qos-specs/%s/associate?vol_type_id=%s' % (other['id'], vtype['id']))
    assert resp.status_int == 400
    resp = admin.delete(base)
    assert resp.status_int == 400
    assert admin.get(base + '/disassociate?vol_type_id=%s' % vtype['id']).status_int == 202
    assert admin.get('/v3/types/%s' % vtype['id']).json['volume_type']['qos_specs_id'] is None
    admin.get(base + '/associate?vol_type_id=%s' % vtype['id'])
    assert admin.get(base + '/disassociate_all').status_int == 202
    assert admin.get(base + '/associations').json == {'qos_associations': []}
    admin.get(base + '/associate?vol_type_id=%s' % vtype['id'])
    assert admin.delete(base + '?force=true').status_int == 202
    assert admin.get(base).status_int == 404
    assert admin.get('/v3/types/%s' % vtype['id']).json['volume_type']['qos_specs_id'] is None


def test_admin_only(client, qos):
    assert client.get('/v3/qos-specs').status_int == 403
    assert client.post('/v3/qos-specs', {'qos_specs': {'name': 'x'}}).status_int == 403


def test_unknown_specs(admin):
    missing = '/v3/qos-specs/%s' % uuid.uuid4()
    for method, suffix, body in (('GET', '', None), ('PUT', '', {'qos_specs': {'a': 'b'}}),
                                 ('DELETE', '', None), ('GET', '/associations', None),
                                 ('PUT', '/delete_keys', {'keys': ['a']}),
                                 ('GET', '/disassociate_all', None)):
        resp = admin.request(method, missing + suffix, body)
        assert resp.status_int == 404, (method, suffix)
        fault_of(resp)


@pytest.mark.parametrize('body', [
    {}, {'qos_specs': {}}, {'qos_specs': {'name': ''}}, {'qos_specs': {'name': ' x'}},
    {'qos_specs': {'name': 'x', 'k': 1}}, {'qos_specs': {'name': 'x', 'consumer': 'me'}},
    {'qos_specs': {'name': 'x', 'bad key': 'v'}}, {'qos_specs': 'x'}])
def test_bad_create(admin, body):
    resp = admin.post('/v3/qos-specs', body)
    assert resp.status_int == 400, body
    fault_of(resp)


@pytest.mark.parametrize('body', [{}, {'keys': 'a'}, {'keys': [1]}, {'keys': ['a', 'a']}])
def test_bad_delete_keys(admin, qos, body):
    resp = admin.put('/v3/qos-specs/%s/delete_keys' % qos['qos_specs']['id'], body)
    assert resp.status_int == 400
