"""/backups through the whole WSGI stack with the real backup service layer and SQLite.

Only the RPC clients are recorders (the volume, scheduler and backup
rpcapis); what the backup manager would do afterwards (create_done,
restore_done ...) a test does itself through the transition table. What is
checked: Cinder's status codes and bodies, microversioned fields, filters,
sorting and pagination, the admin actions, export/import, quotas, the 3.47
volume create from a backup, and blockstore-manage backup.
"""

import base64
import datetime
import io
import json
import uuid

from oslo_config import cfg
import pytest

from blockstore.cmd import manage
from blockstore.common import context
from blockstore.common import policy
from blockstore.db import api as db
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states
from tests.unit.api.conftest import Client, RPCRecorder, fault_of, make_available

ID = str(uuid.uuid4())
BACKUP_BINARY = 'blockstore-backup'


def _fault(resp, code, key, words=''):
    got_key, got_code, message = fault_of(resp)
    assert (got_code, got_key) == (code, key), resp.body
    assert words in message, message
    return message


class BackupRPC(RPCRecorder):
    """Records the casts; export_record (a call) answers as a backup service would."""

    def export_record(self, ctxt, backup):
        self.calls.append(('export_record', (backup.id,), {}))
        record = {'id': backup.id, 'volume_id': backup.volume_id, 'size': backup.size,
                  'display_name': backup.display_name, 'container': backup.container,
                  'service_metadata': 'volume_%s/backup_%s' % (backup.volume_id, backup.id),
                  'object_count': backup.object_count}
        return {'backup_service': 'posix',
                'backup_url': base64.b64encode(json.dumps(record).encode()).decode()}


@pytest.fixture
def backup_rpcapi():
    return BackupRPC()


def _all_backup_services_down():
    ctx = context.get_admin_context()
    old = utcnow() - datetime.timedelta(hours=1)
    for svc in objects.ServiceList.get_all(ctx):
        if svc.binary == BACKUP_BINARY:
            db.service_update(ctx, svc.id, {'last_seen_at': old})


@pytest.fixture(autouse=True)
def backup_service(database):
    """The one live blockstore-backup service, in the volumes' zone (nova).

    Those of earlier tests (the database is the module's) are made to look
    dead, so a test knows which host its backups get.
    """
    ctx = context.get_admin_context()
    _all_backup_services_down()
    row = db.service_create(ctx, {'host': 'bk-' + uuid.uuid4().hex[:8], 'binary': BACKUP_BINARY,
                                  'topic': BACKUP_BINARY, 'availability_zone': 'nova',
                                  'rpc_current_version': '1.0',
                                  'object_current_version': '1.0'})
    db.service_heartbeat(ctx, row.id, {})
    return row


@pytest.fixture
def other(app):
    return Client(app, 'user2:p-%s' % uuid.uuid4().hex[:12])


def _admin_ctx():
    return context.get_admin_context()


def _volume(client, size=1):
    vol = client.create_volume(size=size)
    make_available('volume', vol['id'])
    return vol


def _finish(backup_id, **values):
    """What the backup manager does when a backup is stored: create_done, volume back."""
    ctx = _admin_ctx()
    backup = objects.Backup.get_by_id(ctx, backup_id)
    stored = {'object_count': 2, 'service': 'posix',
              'service_metadata': 'volume_%s/backup_%s' % (backup.volume_id, backup.id)}
    for key, value in dict(stored, **values).items():
        setattr(backup, key, value)
    backup.save()
    assert states.transition(ctx, 'backup', backup_id, 'create_done')
    if backup.snapshot_id:
        assert states.transition(ctx, 'snapshot', backup.snapshot_id, 'backup_done')
    else:
        assert states.transition(ctx, 'volume', backup.volume_id, 'backup_done')
    return objects.Backup.get_by_id(ctx, backup_id)


def _backup(client, volume_id, finish=True, version=None, **fields):
    resp = client.post('/v3/backups', {'backup': dict(volume_id=volume_id, **fields)},
                       version=version)
    assert resp.status_int == 202, resp.body
    backup = resp.json['backup']
    if finish:
        _finish(backup['id'])
    return backup


def _status(kind, ident):
    ctx = _admin_ctx()
    if kind == 'backup':
        return objects.Backup.get_by_id(ctx, ident, read_deleted=True).status
    return getattr(objects, kind.capitalize()).get_by_id(ctx, ident).status


# -- create -----------------------------------------------------------------------------

def test_create_is_202_with_the_summary_and_casts(client, backup_rpcapi, backup_service):
    vol = _volume(client, size=2)
    resp = client.post('/v3/backups', {'backup': {'volume_id': vol['id'], 'name': '  b1 ',
                                                  'description': 'd'}})
    assert resp.status_int == 202, resp.body
    body = resp.json['backup']
    assert set(body) == {'id', 'name', 'links'}
    assert body['name'] == 'b1'
    assert body['links'][0]['href'].endswith('/v3/backups/' + body['id'])
    assert [c[0] for c in backup_rpcapi.calls] == ['create_backup']
    assert _status('volume', vol['id']) == states.BACKING_UP
    shown = client.get('/v3/backups/%s' % body['id']).json['backup']
    assert shown['status'] == states.CREATING
    assert shown['size'] == 2 and shown['volume_id'] == vol['id']
    assert shown['description'] == 'd' and shown['is_incremental'] is False
    assert objects.Backup.get_by_id(_admin_ctx(), body['id']).host == backup_service.host


def test_create_is_idempotent_with_a_key(client, backup_rpcapi):
    vol = _volume(client)
    body = {'backup': {'volume_id': vol['id'], 'name': 'once'}}
    first = client.post('/v3/backups', body, headers={'Idempotency-Key': 'bk-once'})
    assert first.status_int == 202, first.body
    again = client.post('/v3/backups', body, headers={'Idempotency-Key': 'bk-once'})
    assert (again.status_int, again.json) == (202, first.json)
    token = client.post('/v3/backups', {'backup': dict(body['backup'], client_token='bk-once')},
                        version='3.71')
    assert (token.status_int, token.json) == (202, first.json)
    assert backup_rpcapi.names() == ['create_backup']
    # The same key with another request is refused.
    other = client.post('/v3/backups', {'backup': {'volume_id': vol['id'], 'name': 'two'}},
                        headers={'Idempotency-Key': 'bk-once'})
    _fault(other, 409, 'conflictingRequest')


def test_create_refusals(client, other, admin):
    _fault(client.post('/v3/backups', {'backup': {'volume_id': ID}}), 404, 'itemNotFound', ID)
    vol = _volume(client)
    # Another project's volume does not exist for this caller.
    _fault(other.post('/v3/backups', {'backup': {'volume_id': vol['id']}}), 404,
           'itemNotFound', vol['id'])
    # Malformed bodies.
    _fault(client.post('/v3/backups', {'backup': {'name': 'b'}}), 400, 'badRequest',
           'volume_id')
    _fault(client.post('/v3/backups', {'backup': {'volume_id': 'nope'}}), 400, 'badRequest')
    _fault(client.post('/v3/backups', raw=b'{nope'), 400, 'badRequest', 'Malformed')
    _fault(client.post('/v3/backups', {'backup': {'volume_id': vol['id'],
                                                  'incremental': 'maybe'}}), 400, 'badRequest')
    # metadata exists since 3.43; unknown keys are refused since 3.53.
    body = {'backup': {'volume_id': vol['id'], 'metadata': {'k': 1}}}
    _fault(client.post('/v3/backups', body, version='3.43'), 400, 'badRequest',
           'field/attribute k')
    body = {'backup': {'volume_id': vol['id'], 'bogus': 1}}
    _fault(client.post('/v3/backups', body, version='3.53'), 400, 'badRequest', 'bogus')
    # An incremental needs an available full backup of the volume.
    _fault(client.post('/v3/backups', {'backup': {'volume_id': vol['id'],
                                                  'incremental': True}}), 400, 'badRequest')
    assert _status('volume', vol['id']) == states.AVAILABLE


def test_create_of_a_busy_volume_is_400(client):
    vol = _volume(client)
    _backup(client, vol['id'], finish=False)
    # The volume is backing-up: a second backup cannot start.
    _fault(client.post('/v3/backups', {'backup': {'volume_id': vol['id']}}), 400,
           'badRequest')


def test_create_of_an_in_use_volume_needs_force(client, admin):
    vol = _volume(client)
    resp = admin.post('/v3/volumes/%s/action' % vol['id'],
                      {'os-reset_status': {'status': states.IN_USE}})
    assert resp.status_int == 202, resp.body
    assert _status('volume', vol['id']) == states.IN_USE
    _fault(client.post('/v3/backups', {'backup': {'volume_id': vol['id']}}), 400,
           'badRequest')
    backup = _backup(client, vol['id'], finish=False, force=True)
    assert _status('volume', vol['id']) == states.IN_USE
    assert _status('backup', backup['id']) == states.CREATING


def test_create_with_metadata_and_az(client):
    vol = _volume(client)
    backup = _backup(client, vol['id'], version='3.51', metadata={'k': 'v'},
                     availability_zone='nova', container='mine')
    shown = client.get('/v3/backups/%s' % backup['id'], version='3.43').json['backup']
    assert shown['metadata'] == {'k': 'v'}
    assert shown['container'] == 'mine'
    assert shown['availability_zone'] == 'nova'
    # Before 3.43 metadata is not shown (and not taken).
    assert 'metadata' not in client.get('/v3/backups/%s' % backup['id']).json['backup']


def test_create_without_a_backup_service_is_503(client, database):
    vol = _volume(client)
    _all_backup_services_down()
    _fault(client.post('/v3/backups', {'backup': {'volume_id': vol['id']}}), 503,
           'serviceUnavailable')
    assert _status('volume', vol['id']) == states.AVAILABLE


def test_incremental_and_its_parent(client):
    vol = _volume(client)
    full = _backup(client, vol['id'])
    inc = _backup(client, vol['id'], incremental=True)
    shown = client.get('/v3/backups/%s' % inc['id']).json['backup']
    assert shown['is_incremental'] is True and shown['has_dependent_backups'] is False
    parent = client.get('/v3/backups/%s' % full['id']).json['backup']
    assert parent['is_incremental'] is False and parent['has_dependent_backups'] is True
    # A parent with a live child cannot be deleted.
    _fault(client.delete('/v3/backups/%s' % full['id']), 400, 'badRequest')
    assert client.delete('/v3/backups/%s' % inc['id']).status_int == 202


def test_backup_of_a_snapshot(client):
    vol = _volume(client)
    snap = client.create_snapshot(vol['id'])
    make_available('snapshot', snap['id'])
    backup = _backup(client, vol['id'], finish=False, snapshot_id=snap['id'])
    assert _status('snapshot', snap['id']) == states.BACKING_UP
    _finish(backup['id'])
    shown = client.get('/v3/backups/%s' % backup['id']).json['backup']
    assert shown['snapshot_id'] == snap['id']
    assert _status('snapshot', snap['id']) == states.AVAILABLE


def test_quota_over_is_413_in_cinders_words(client, admin, project):
    resp = admin.put('/v3/os-quota-sets/%s' % project, {'quota_set': {'backups': 1}})
    assert resp.status_int == 200, resp.body
    vol = _volume(client)
    _backup(client, vol['id'])
    resp = client.post('/v3/backups', {'backup': {'volume_id': vol['id']}})
    _fault(resp, 413, 'overLimit', 'Maximum number of backups allowed (1) exceeded')
    assert resp.headers.get('Retry-After') == '0'
    assert _status('volume', vol['id']) == states.AVAILABLE
    resp = admin.put('/v3/os-quota-sets/%s' % project,
                     {'quota_set': {'backups': 10, 'backup_gigabytes': 1}})
    assert resp.status_int == 200, resp.body
    _fault(client.post('/v3/backups', {'backup': {'volume_id': vol['id']}}), 413,
           'overLimit', 'Backup gigabytes')


# -- show and lists --------------------------------------------------------------------------

DETAIL_3_0 = {'id', 'status', 'size', 'object_count', 'availability_zone', 'container',
              'created_at', 'updated_at', 'name', 'description', 'fail_reason', 'volume_id',
              'links', 'is_incremental', 'has_dependent_backups', 'snapshot_id',
              'data_timestamp'}


def test_show_fields_by_version_and_role(client, admin, other, project):
    vol = _volume(client)
    backup = _backup(client, vol['id'], name='b')
    url = '/v3/backups/%s' % backup['id']
    assert set(client.get(url).json['backup']) == DETAIL_3_0
    assert set(client.get(url, version='3.71').json['backup']) == DETAIL_3_0 | {'metadata'}
    shown = admin.get(url, version='3.71').json['backup']
    assert set(shown) == DETAIL_3_0 | {
        'metadata', 'os-backup-project-attr:project_id', 'user_id',
        'os-backup-progress:percent', 'os-backup-progress:bytes_done'}
    assert shown['os-backup-project-attr:project_id'] == project
    assert shown['user_id'] == 'user1'
    assert 'os-backup-project-attr:project_id' not in admin.get(url, version='3.17').json[
        'backup']
    assert 'user_id' not in admin.get(url, version='3.55').json['backup']
    assert shown['status'] == states.AVAILABLE and shown['object_count'] == 2
    assert shown['created_at'] and 'T' in shown['created_at']
    # Another project's backup and an unknown id are both 404s.
    _fault(other.get(url), 404, 'itemNotFound', 'Backup %s could not be found.'
           % backup['id'])
    _fault(client.get('/v3/backups/%s' % ID), 404, 'itemNotFound',
           'Backup %s could not be found.' % ID)


def test_the_attribute_rule_decides_who_sees_project_and_progress(client, admin, project,
                                                                  tmp_path):
    backup = _backup(client, _volume(client)['id'])
    url = '/v3/backups/%s' % backup['id']
    hidden = {'os-backup-project-attr:project_id', 'user_id', 'os-backup-progress:percent'}
    path = tmp_path / 'policy.yaml'
    path.write_text('"backup:backup_project_attribute": "rule:admin_or_project_reader"\n')
    cfg.CONF.set_override('policy_file', str(path), group='oslo_policy')
    policy.reset()
    try:
        shown = client.get(url, version='3.71').json['backup']
        assert hidden <= set(shown) and shown['os-backup-project-attr:project_id'] == project
        assert hidden <= set(client.get('/v3/backups/detail', version='3.71').json[
            'backups'][0])
        path.write_text('"backup:backup_project_attribute": "!"\n')
        policy.reset()
        assert not hidden & set(admin.get(url, version='3.71').json['backup'])
    finally:
        cfg.CONF.clear_override('policy_file', group='oslo_policy')
        policy.reset()
    assert not hidden & set(client.get(url, version='3.71').json['backup'])


def test_lists_filters_sort_pages_and_count(client, other):
    vol = _volume(client)
    ids = [_backup(client, vol['id'], name=n)['id'] for n in ('c', 'a', 'b')]
    other_vol = _volume(other)
    _backup(other, other_vol['id'], name='theirs')
    listed = client.get('/v3/backups').json
    assert {b['id'] for b in listed['backups']} == set(ids)
    assert all(set(b) == {'id', 'name', 'links'} for b in listed['backups'])
    assert 'count' not in listed
    detail = client.get('/v3/backups/detail').json['backups']
    assert all(set(b) == DETAIL_3_0 for b in detail)
    # Newest first by default; sort by name since 3.37.
    assert [b['id'] for b in client.get('/v3/backups').json['backups']] == ids[::-1]
    names = [b['name'] for b in client.get('/v3/backups?sort=name:asc',
                                           version='3.37').json['backups']]
    assert names == ['a', 'b', 'c']
    _fault(client.get('/v3/backups?sort=bogus'), 400, 'badRequest')
    # Filters: name, status, volume_id for users; unknown ones are 400s since 3.31.
    got = client.get('/v3/backups?name=a').json['backups']
    assert [b['id'] for b in got] == [ids[1]]
    got = client.get('/v3/backups/detail?status=%s&volume_id=%s'
                     % (states.AVAILABLE, vol['id'])).json['backups']
    assert len(got) == 3
    assert client.get('/v3/backups?status=%s' % states.ERROR).json['backups'] == []
    _fault(client.get('/v3/backups?bogus=1', version='3.31'), 400, 'badRequest', 'bogus')
    # Pages with a next link, and a count since 3.45.
    page = client.get('/v3/backups?limit=2&with_count=true', version='3.45').json
    assert len(page['backups']) == 2 and page['count'] == 3
    nxt = page['backups_links'][0]
    assert nxt['rel'] == 'next' and 'marker=%s' % page['backups'][-1]['id'] in nxt['href']
    rest = client.get('/v3/backups?limit=2&marker=%s' % page['backups'][-1]['id']).json
    assert [b['id'] for b in rest['backups']] == [ids[0]]
    _fault(client.get('/v3/backups?limit=-1'), 400, 'badRequest', 'limit')
    _fault(client.get('/v3/backups?marker=%s' % ID), 404, 'itemNotFound', ID)


def test_admin_lists_all_tenants(client, admin, other):
    mine = _backup(client, _volume(client)['id'])
    theirs = _backup(other, _volume(other)['id'])
    listed = {b['id'] for b in admin.get('/v3/backups?all_tenants=1').json['backups']}
    assert {mine['id'], theirs['id']} <= listed
    got = admin.get('/v3/backups/detail?all_tenants=1&project_id=%s'
                    % other.token.split(':')[1], version='3.18').json['backups']
    assert [b['id'] for b in got] == [theirs['id']]


def test_routes_with_project_in_url(client, project):
    backup = _backup(client, _volume(client)['id'])
    listed = client.get('/v3/%s/backups' % project).json['backups']
    assert [b['id'] for b in listed] == [backup['id']]
    assert ('/v3/%s/backups/' % project) in listed[0]['links'][0]['href']


# -- update and delete -----------------------------------------------------------------------

def test_update(client, other):
    backup = _backup(client, _volume(client)['id'], name='old')
    url = '/v3/backups/%s' % backup['id']
    _fault(client.put(url, {'backup': {'name': 'x'}}, version='3.8'), 404, 'itemNotFound',
           'not supported')
    resp = client.put(url, {'backup': {'name': ' new ', 'description': 'dd'}}, version='3.9')
    assert resp.status_int == 200, resp.body
    assert resp.json == {'backup': {'id': backup['id'], 'name': 'new',
                                    'links': resp.json['backup']['links']}}
    shown = client.get(url, version='3.43').json['backup']
    assert (shown['name'], shown['description']) == ('new', 'dd')
    resp = client.put(url, {'backup': {'metadata': {'a': 'b'}}}, version='3.43')
    assert resp.status_int == 200, resp.body
    assert client.get(url, version='3.43').json['backup']['metadata'] == {'a': 'b'}
    _fault(client.put(url, {'backup': {'bogus': 1}}, version='3.53'), 400, 'badRequest')
    _fault(other.put(url, {'backup': {'name': 'x'}}, version='3.9'), 404, 'itemNotFound')
    _fault(client.put('/v3/backups/%s' % ID, {'backup': {'name': 'x'}}, version='3.9'), 404,
           'itemNotFound', ID)


def test_delete(client, other, backup_rpcapi):
    vol = _volume(client)
    backup = _backup(client, vol['id'])
    url = '/v3/backups/%s' % backup['id']
    _fault(other.delete(url), 404, 'itemNotFound')
    resp = client.delete(url)
    assert resp.status_int == 202 and resp.body == b''
    assert _status('backup', backup['id']) == states.DELETING
    assert backup_rpcapi.names()[-1] == 'delete_backup'
    # A deleting or creating backup cannot be deleted (without force).
    _fault(client.delete(url), 400, 'badRequest')
    running = _backup(client, _volume(client)['id'], finish=False)
    _fault(client.delete('/v3/backups/%s' % running['id']), 400, 'badRequest')
    _fault(client.delete('/v3/backups/%s' % ID), 404, 'itemNotFound', ID)


# -- restore ---------------------------------------------------------------------------------

def test_restore_to_a_new_volume(client, backup_rpcapi, scheduler_rpcapi):
    vol = _volume(client, size=2)
    backup = _backup(client, vol['id'])
    resp = client.post('/v3/backups/%s/restore' % backup['id'], {'restore': {'name': 'r'}})
    assert resp.status_int == 202, resp.body
    body = resp.json['restore']
    assert set(body) == {'backup_id', 'volume_id', 'volume_name'}
    assert body['backup_id'] == backup['id'] and body['volume_name'] == 'r'
    assert _status('backup', backup['id']) == states.RESTORING
    new = client.get('/v3/volumes/%s' % body['volume_id']).json['volume']
    assert new['size'] == 2 and new['name'] == 'r'
    # The volume service makes the volume and hands it to the backup service.
    name, args, kwargs = scheduler_rpcapi.calls[-1]
    assert name == 'create_volume'
    spec = kwargs.get('request_spec') or args[-1]
    assert spec['backup_id'] == backup['id']
    # A restoring backup cannot be restored again or deleted.
    _fault(client.post('/v3/backups/%s/restore' % backup['id'], {'restore': None}), 400,
           'badRequest')
    _fault(client.delete('/v3/backups/%s' % backup['id']), 400, 'badRequest')


def test_restore_to_a_new_volume_over_quota_is_413(client, admin, project):
    backup = _backup(client, _volume(client)['id'])
    resp = admin.put('/v3/os-quota-sets/%s' % project, {'quota_set': {'volumes': 1}})
    assert resp.status_int == 200, resp.body
    resp = client.post('/v3/backups/%s/restore' % backup['id'], {'restore': {}})
    _fault(resp, 413, 'overLimit', 'volumes')
    assert resp.headers.get('Retry-After') == '0'
    assert _status('backup', backup['id']) == states.AVAILABLE
    assert len(client.get('/v3/volumes').json['volumes']) == 1


def test_restore_onto_an_existing_volume(client, other, backup_rpcapi):
    vol = _volume(client, size=2)
    backup = _backup(client, vol['id'])
    small = _volume(client, size=1)
    url = '/v3/backups/%s/restore' % backup['id']
    _fault(client.post(url, {'restore': {'volume_id': small['id']}}), 400, 'badRequest')
    target = _volume(client, size=3)
    resp = client.post(url, {'restore': {'volume_id': target['id']}})
    assert resp.status_int == 202, resp.body
    assert resp.json['restore']['volume_id'] == target['id']
    assert _status('volume', target['id']) == states.RESTORING_BACKUP
    assert _status('backup', backup['id']) == states.RESTORING
    assert backup_rpcapi.names()[-1] == 'restore_backup'
    # Bad requests: another project's backup, a malformed body, an unknown volume.
    _fault(other.post(url, {'restore': {}}), 404, 'itemNotFound')
    _fault(client.post(url, {'restore': {'volume_id': 'x'}}), 400, 'badRequest')
    _fault(client.post(url, {'nope': {}}), 400, 'badRequest')


# -- admin actions ---------------------------------------------------------------------------

def test_admin_actions(client, admin, backup_rpcapi):
    backup = _backup(client, _volume(client)['id'], finish=False)
    url = '/v3/backups/%s/action' % backup['id']
    _fault(client.post(url, {'os-reset_status': {'status': states.ERROR}}), 403, 'forbidden')
    _fault(client.post(url, {'os-force_delete': {}}), 403, 'forbidden')
    resp = admin.post(url, {'os-reset_status': {'status': 'ERROR'}})
    assert resp.status_int == 202, resp.body
    assert _status('backup', backup['id']) == states.ERROR
    _fault(admin.post(url, {'os-reset_status': {'status': 'bogus'}}), 400, 'badRequest')
    _fault(admin.post(url, {'os-reset_status': {}}), 400, 'badRequest', 'status')
    _fault(admin.post(url, {'os-nothing': {}}), 400, 'badRequest', 'no such action')
    _fault(admin.post(url, {'a': 1, 'b': 2}), 400, 'badRequest', 'too many')
    # Reset to error before anything was stored: a force-delete finishes it at once.
    resp = admin.post(url, {'os-force_delete': {}})
    assert resp.status_int == 202, resp.body
    assert _status('backup', backup['id']) == states.DELETED
    assert 'delete_backup' not in backup_rpcapi.names()
    # One that stored objects goes to its backup service.
    stored = _backup(client, _volume(client)['id'])
    admin.post('/v3/backups/%s/action' % stored['id'], {'os-reset_status': {'status': 'error'}})
    resp = admin.post('/v3/backups/%s/action' % stored['id'], {'os-force_delete': {}})
    assert resp.status_int == 202, resp.body
    assert _status('backup', stored['id']) == states.DELETING
    assert backup_rpcapi.names()[-1] == 'delete_backup'
    _fault(admin.post('/v3/backups/%s/action' % ID, {'os-force_delete': {}}), 404,
           'itemNotFound', ID)


def test_force_delete_cancels_a_running_backup(client, admin):
    backup = _backup(client, _volume(client)['id'], finish=False)
    resp = admin.post('/v3/backups/%s/action' % backup['id'], {'os-force_delete': {}})
    assert resp.status_int == 202, resp.body
    assert _status('backup', backup['id']) == states.DELETING


# -- export and import -----------------------------------------------------------------------

def test_export_and_import(client, admin, backup_rpcapi):
    backup = _backup(client, _volume(client)['id'])
    _fault(client.get('/v3/backups/%s/export_record' % backup['id']), 403, 'forbidden')
    resp = admin.get('/v3/backups/%s/export_record' % backup['id'])
    assert resp.status_int == 200, resp.body
    record = resp.json['backup-record']
    assert set(record) == {'backup_service', 'backup_url'}
    assert record['backup_service'] and record['backup_url']
    _fault(admin.get('/v3/backups/%s/export_record' % ID), 404, 'itemNotFound', ID)
    _fault(client.post('/v3/backups/import_record', {'backup-record': record}), 403,
           'forbidden')
    _fault(admin.post('/v3/backups/import_record', {'backup-record': {}}), 400, 'badRequest')
    _fault(admin.post('/v3/backups/import_record', {'backup-record': {
        'backup_service': record['backup_service'], 'backup_url': 'a'}}), 400, 'badRequest',
        'backup_url')
    # Importing the record of a backup that still exists is refused; of a deleted one, 201.
    resp = admin.post('/v3/backups/import_record', {'backup-record': record})
    assert resp.status_int in (400, 201), resp.body
    if resp.status_int == 400:
        ctx = _admin_ctx()
        assert client.delete('/v3/backups/%s' % backup['id']).status_int == 202
        assert states.transition(ctx, 'backup', backup['id'], 'delete_done')
        resp = admin.post('/v3/backups/import_record', {'backup-record': record})
        assert resp.status_int == 201, resp.body
    assert set(resp.json['backup']) == {'id', 'name', 'links'}
    assert backup_rpcapi.names()[-1] == 'import_record'


# -- 3.47: a volume from a backup ------------------------------------------------------------

def test_volume_create_from_a_backup(client, other, scheduler_rpcapi):
    vol = _volume(client, size=2)
    backup = _backup(client, vol['id'])
    body = {'volume': {'backup_id': backup['id'], 'name': 'from-backup'}}
    resp = client.post('/v3/volumes', body, version='3.47')
    assert resp.status_int == 202, resp.body
    new = resp.json['volume']
    assert new['size'] == 2
    name, args, kwargs = scheduler_rpcapi.calls[-1]
    spec = kwargs.get('request_spec') or args[-1]
    assert name == 'create_volume' and spec['backup_id'] == backup['id']
    assert _status('backup', backup['id']) == states.RESTORING
    # Claimed: it cannot be deleted or used again meanwhile.
    _fault(client.delete('/v3/backups/%s' % backup['id']), 400, 'badRequest')
    _fault(client.post('/v3/volumes', body, version='3.47'), 400, 'badRequest')


def test_volume_create_from_a_backup_refusals(client, other, scheduler_rpcapi):
    vol = _volume(client, size=2)
    backup = _backup(client, vol['id'])
    url = '/v3/volumes'
    _fault(client.post(url, {'volume': {'backup_id': backup['id'], 'size': 1}},
                       version='3.47'), 400, 'badRequest', 'backup size')
    _fault(other.post(url, {'volume': {'backup_id': backup['id']}}, version='3.47'), 404,
           'itemNotFound', backup['id'])
    _fault(client.post(url, {'volume': {'backup_id': ID}}, version='3.47'), 404,
           'itemNotFound', ID)
    snap = client.create_snapshot(vol['id'])
    _fault(client.post(url, {'volume': {'backup_id': backup['id'], 'snapshot_id': snap['id']}},
                       version='3.47'), 400, 'badRequest')
    running = _backup(client, _volume(client)['id'], finish=False)
    _fault(client.post(url, {'volume': {'backup_id': running['id']}}, version='3.47'), 400,
           'badRequest', 'available')
    # Before 3.47 backup_id is not a create option: ignored, so a size is needed.
    _fault(client.post(url, {'volume': {'backup_id': backup['id']}}, version='3.46'), 400,
           'badRequest', 'size')
    assert _status('backup', backup['id']) == states.AVAILABLE
    # The refusals left no volume behind.
    volumes = client.get('/v3/volumes').json['volumes']
    assert len(volumes) == 2, volumes


# -- blockstore-manage backup ----------------------------------------------------------------

def _cli(*argv):
    args = manage.build_parser().parse_args(list(argv))
    out = io.StringIO()
    args.func(args, out)
    return out.getvalue()


def test_manage_backup_list_and_update_host(client, backup_service, project):
    backup = _backup(client, _volume(client)['id'], name='cli')
    out = _cli('backup', 'list')
    header = out.splitlines()[0].split()
    assert header[:4] == ['ID', 'User', 'ID', 'Project']
    line = [row for row in out.splitlines() if row.startswith(backup['id'])]
    assert line, out
    assert project in line[0] and backup_service.host in line[0] and 'cli' in line[0]
    assert backup['id'] in _cli('backup', 'list', '--host', backup_service.host)
    new_host = 'bk-new-' + uuid.uuid4().hex[:6]
    out = _cli('backup', 'update_backup_host', '--currenthost', backup_service.host,
               '--newhost', new_host)
    assert '1 backup(s) moved from %s to %s' % (backup_service.host, new_host) in out
    assert objects.Backup.get_by_id(_admin_ctx(), backup['id']).host == new_host
    assert backup['id'] not in _cli('backup', 'list', '--host', backup_service.host)
    out = _cli('backup', 'update_backup_host', '--currenthost', backup_service.host,
               '--newhost', new_host)
    assert '0 backup(s) moved' in out


def test_a_volume_from_a_backup_that_cannot_be_placed_gives_the_backup_back(
        client, scheduler_rpcapi):
    from blockstore.scheduler import manager as sched_manager
    vol = _volume(client, size=2)
    backup = _backup(client, vol['id'])
    resp = client.post('/v3/volumes', {'volume': {'backup_id': backup['id']}}, version='3.47')
    assert resp.status_int == 202, resp.body
    _name, args, kwargs = scheduler_rpcapi.calls[-1]
    spec = kwargs.get('request_spec') or args[-1]
    ctx = _admin_ctx()
    sched = sched_manager.SchedulerManager('sched-' + uuid.uuid4().hex[:6])
    sched.volume_rpcapi = RPCRecorder()
    backend = 'node-%s@b1' % uuid.uuid4().hex[:6]
    svc = db.service_create(ctx, {'host': backend, 'binary': 'blockstore-volume', 'topic': 't',
                                  'availability_zone': 'nova'})
    db.service_heartbeat(ctx, svc.id, {})
    try:
        sched.update_service_capabilities(ctx, host=backend, capabilities={
            'volume_backend_name': 'b1', 'pools': [{
                'pool_name': 'b1', 'total_capacity_gb': 1, 'free_capacity_gb': 1,
                'thin_provisioning_support': False}]})
        sched.create_volume(ctx, objects.Volume.get_by_id(ctx, resp.json['volume']['id']),
                            spec)
    finally:
        db.service_destroy(ctx, svc.id)
    assert _status('volume', resp.json['volume']['id']) == states.ERROR
    assert _status('backup', backup['id']) == states.AVAILABLE
    assert sched.volume_rpcapi.calls == []
