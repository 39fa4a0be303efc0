"""Groups, group types and group snapshots: Cinder's routes, answered honestly.

No group support exists yet: lists are empty in the right envelope, ids are
404s, creation is a 501 naming what is missing, bodies are validated first
(400), and the microversion gates are Cinder's. (Backups: test_backups.py.)
"""

import uuid

from tests.unit.api.conftest import make_available, fault_of

ID = str(uuid.uuid4())


def _fault(resp, code, key, words=''):
    got_key, got_code, message = fault_of(resp)
    assert (got_code, got_key) == (code, key), resp.body
    assert words in message, message
    return message


# -- groups -------------------------------------------------------------------------------

def test_groups_need_313(client):
    _fault(client.get('/v3/groups', version='3.12'), 404, 'itemNotFound', 'not supported')
    assert client.get('/v3/groups', version='3.13').json == {'groups': []}
    assert client.get('/v3/groups/detail', version='3.13').json == {'groups': []}
    _fault(client.get('/v3/groups/%s' % ID, version='3.13'), 404, 'itemNotFound',
           'Group %s could not be found.' % ID)


def test_group_create_and_update(client):
    body = {'group': {'group_type': 'gt', 'volume_types': ['lvm'], 'name': 'g'}}
    _fault(client.post('/v3/groups', body, version='3.13'), 501, 'notImplemented',
           'Generic volume groups are not available')
    _fault(client.post('/v3/groups', {'group': {'group_type': 'gt'}}, version='3.13'), 400,
           'badRequest', 'volume_types')
    _fault(client.post('/v3/groups', {'group': {'group_type': 'gt', 'volume_types': []}},
                       version='3.13'), 400, 'badRequest')
    _fault(client.put('/v3/groups/%s' % ID, {'group': {'name': 'n'}}, version='3.13'), 404,
           'itemNotFound', ID)
    src = {'create-from-src': {'source_group_id': ID}}
    _fault(client.post('/v3/groups/action', src, version='3.13'), 404, 'itemNotFound')
    _fault(client.post('/v3/groups/action', src, version='3.14'), 501, 'notImplemented')
    _fault(client.post('/v3/groups/action', {'create-from-src': {'source_group_id': 'x'}},
                       version='3.14'), 400, 'badRequest')


def test_group_actions_gated_by_version(client, admin):
    url = '/v3/groups/%s/action' % ID
    _fault(client.post(url, {'delete': {'delete-volumes': True}}, version='3.13'), 404,
           'itemNotFound', 'Group %s' % ID)
    _fault(admin.post(url, {'reset_status': {'status': 'available'}}, version='3.19'), 404,
           'itemNotFound', 'not supported')
    _fault(admin.post(url, {'reset_status': {'status': 'available'}}, version='3.20'), 404,
           'itemNotFound', 'Group %s' % ID)
    _fault(client.post(url, {'reset_status': {'status': 'available'}}, version='3.20'), 403,
           'forbidden')
    _fault(client.post(url, {'enable_replication': {}}, version='3.37'), 404,
           'itemNotFound', 'not supported')
    _fault(client.post(url, {'failover_replication': {'allow_attached_volume': 'maybe'}},
                       version='3.38'), 400, 'badRequest')
    _fault(client.post(url, {'list_replication_targets': {}}, version='3.38'), 404,
           'itemNotFound', 'Group %s' % ID)
    _fault(client.post(url, {'frobnicate': {}}, version='3.38'), 400, 'badRequest')


# -- group types ------------------------------------------------------------------------

def test_group_types(client, admin):
    _fault(client.get('/v3/group_types', version='3.10'), 404, 'itemNotFound')
    assert client.get('/v3/group_types', version='3.11').json == {'group_types': []}
    _fault(client.get('/v3/group_types/default', version='3.11'), 404, 'itemNotFound',
           'Default group type')
    _fault(client.get('/v3/group_types/%s' % ID, version='3.11'), 404, 'itemNotFound',
           'Group type %s could not be found.' % ID)
    _fault(client.post('/v3/group_types', {'group_type': {'name': 'g'}}, version='3.11'),
           403, 'forbidden')
    _fault(admin.post('/v3/group_types', {'group_type': {'name': 'g'}}, version='3.11'),
           501, 'notImplemented', 'Group types are not available')
    _fault(admin.post('/v3/group_types', {'group_type': {}}, version='3.11'), 400,
           'badRequest', 'name')
    _fault(admin.put('/v3/group_types/%s' % ID, {'group_type': {'name': 'n'}},
                     version='3.11'), 404, 'itemNotFound', ID)
    _fault(admin.delete('/v3/group_types/%s' % ID, version='3.11'), 404, 'itemNotFound', ID)


def test_group_specs(admin, client):
    url = '/v3/group_types/%s/group_specs' % ID
    _fault(admin.get(url, version='3.11'), 404, 'itemNotFound', ID)
    _fault(client.get(url, version='3.11'), 403, 'forbidden')
    _fault(admin.post(url, {'group_specs': {'k': 'v'}}, version='3.11'), 404, 'itemNotFound')
    _fault(admin.post(url, {'group_specs': {'k': 1}}, version='3.11'), 400, 'badRequest')
    _fault(admin.get(url + '/k', version='3.11'), 404, 'itemNotFound')
    _fault(admin.put(url + '/k', {'k': 'v'}, version='3.11'), 404, 'itemNotFound', ID)
    _fault(admin.put(url + '/k', {'other': 'v'}, version='3.11'), 400, 'badRequest',
           'mismatch')
    _fault(admin.delete(url + '/k', version='3.11'), 404, 'itemNotFound')


# -- group snapshots ------------------------------------------------------------------------

def test_group_snapshots(client, admin):
    _fault(client.get('/v3/group_snapshots', version='3.13'), 404, 'itemNotFound')
    for path in ('/v3/group_snapshots', '/v3/group_snapshots/detail'):
        assert client.get(path, version='3.14').json == {'group_snapshots': []}
    _fault(client.get('/v3/group_snapshots?bogus=1', version='3.31'), 400, 'badRequest')
    _fault(client.get('/v3/group_snapshots/%s' % ID, version='3.14'), 404, 'itemNotFound',
           'GroupSnapshot %s could not be found.' % ID)
    _fault(client.delete('/v3/group_snapshots/%s' % ID, version='3.14'), 404, 'itemNotFound')
    _fault(client.post('/v3/group_snapshots', {'group_snapshot': {'group_id': ID}},
                       version='3.14'), 404, 'itemNotFound', 'Group %s' % ID)
    _fault(client.post('/v3/group_snapshots', {'group_snapshot': {}}, version='3.14'), 400,
           'badRequest', 'group_id')
    url = '/v3/group_snapshots/%s/action' % ID
    body = {'reset_status': {'status': 'available'}}
    _fault(admin.post(url, body, version='3.18'), 404, 'itemNotFound', 'not supported')
    _fault(admin.post(url, body, version='3.19'), 404, 'itemNotFound', ID)
    _fault(client.post(url, body, version='3.19'), 403, 'forbidden')


# -- os-volume_upload_image -------------------------------------------------------------------

def test_volume_upload_image(client):
    vol = client.create_volume()
    url = '/v3/volumes/%s/action' % vol['id']
    body = {'os-volume_upload_image': {'image_name': 'img', 'disk_format': 'qcow2'}}
    _fault(client.post(url, body), 400, 'badRequest', 'raw')
    body = {'os-volume_upload_image': {'image_name': 'img'}}
    _fault(client.post(url, body), 400, 'badRequest', 'must be available')
    make_available('volume', vol['id'])
    _fault(client.post(url, body), 501, 'notImplemented', 'no image service')
    _fault(client.post(url, {'os-volume_upload_image': {}}), 400, 'badRequest', 'image_name')
    _fault(client.post(url, {'os-volume_upload_image': {'image_name': 'i',
                                                        'disk_format': 'exe'}}), 400,
           'badRequest')
    body = {'os-volume_upload_image': {'image_name': 'i', 'visibility': 'nope'}}
    _fault(client.post(url, body, version='3.1'), 400, 'badRequest', 'visibility')
    _fault(client.post('/v3/volumes/%s/action' % ID,
                       {'os-volume_upload_image': {'image_name': 'i'}}), 404, 'itemNotFound')
