"""Volume and snapshot actions: reset status, flags, image metadata, retype, revert, migrate."""

import uuid

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore.objects import states
from tests.unit.api.conftest import fault_of, make_available

V = '3.71'


@pytest.fixture
def volume(client):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    return vol


def _act(c, vid, body, version=None):
    return c.post('/v3/volumes/%s/action' % vid, body, version=version)


def _status(vid):
    return db.volume_get(context.get_admin_context(), vid).status


def _place(vid, host='node@file1#file1'):
    db.volume_update(context.get_admin_context(), vid, {'host': host})


# -- reset status -------------------------------------------------------------------------

def test_reset_status(client, admin, volume):
    vid = volume['id']
    assert _act(client, vid, {'os-reset_status': {'status': 'error'}}).status_int == 403
    db.worker_create(context.get_admin_context(), 'volume', vid, 'extend', 'extending')
    resp = _act(admin, vid, {'os-reset_status': {'status': 'ERROR', 'attach_status': 'detached',
                                                 'migration_status': 'none'}})
    assert resp.status_int == 202, resp.body
    row = db.volume_get(context.get_admin_context(), vid)
    assert (row.status, row.attach_status, row.migration_status) == ('error', 'detached', None)
    assert db.worker_get_all(context.get_admin_context(), resource_id=vid) == []
    assert _act(admin, vid, {'os-reset_status': {'status': 'available'}}).status_int == 202
    assert _status(vid) == 'available'
    assert _act(admin, vid, {'os-reset_status': {'migration_status': 'error'}}).status_int == 202
    assert db.volume_get(context.get_admin_context(), vid).migration_status == 'error'


@pytest.mark.parametrize('args', [
    {}, {'status': 'bogus'}, {'status': 'deleted'}, {'attach_status': 'half'},
    {'migration_status': 'wandering'}, {'status': 5}, {'status': 'error', 'other': 1},
])
def test_reset_status_bad_input(admin, volume, args):
    resp = _act(admin, volume['id'], {'os-reset_status': args}, version=V)
    assert resp.status_int == 400, args
    fault_of(resp)
    assert _status(volume['id']) == 'available'


def test_reset_unknown_volume(admin):
    resp = _act(admin, uuid.uuid4(), {'os-reset_status': {'status': 'error'}})
    assert resp.status_int == 404


# -- bootable, readonly ----------------------------------------------------------------------

def test_set_bootable(client, volume):
    resp = _act(client, volume['id'], {'os-set_bootable': {'bootable': True}})
    assert resp.status_int == 200
    assert client.get('/v3/volumes/%s' % volume['id']).json['volume']['bootable'] == 'true'
    _act(client, volume['id'], {'os-set_bootable': {'bootable': 'false'}})
    assert client.get('/v3/volumes/%s' % volume['id']).json['volume']['bootable'] == 'false'
    for bad in ({'bootable': 'maybe'}, {}, None):
        assert _act(client, volume['id'], {'os-set_bootable': bad}).status_int == 400


def test_readonly_flag(client, volume):
    resp = _act(client, volume['id'], {'os-update_readonly_flag': {'readonly': True}})
    assert resp.status_int == 202
    shown = client.get('/v3/volumes/%s' % volume['id']).json['volume']
    assert shown['metadata'] == {'readonly': 'True'}
    listed = [v for v in client.get('/v3/volumes/detail').json['volumes']
              if v['id'] == volume['id']]
    assert listed[0]['metadata'] == {'readonly': 'True'}
    _act(client, volume['id'], {'os-update_readonly_flag': {'readonly': False}})
    assert client.get('/v3/volumes/%s' % volume['id']).json['volume']['metadata'] == {
        'readonly': 'False'}
    assert _act(client, volume['id'], {'os-update_readonly_flag': {}}).status_int == 400
    # Only on an available volume.
    db_ctx = context.get_admin_context()
    states.transition(db_ctx, 'volume', volume['id'], 'reset', target='error')
    resp = _act(client, volume['id'], {'os-update_readonly_flag': {'readonly': True}})
    assert resp.status_int == 400 and 'available' in fault_of(resp)[2]


# -- image metadata ------------------------------------------------------------------------

def test_image_metadata(client, volume):
    vid = volume['id']
    resp = _act(client, vid, {'os-set_image_metadata': {'metadata': {'image_id': 'abc',
                                                                      'os_distro': 'debian'}}})
    assert resp.status_int == 200
    assert resp.json == {'metadata': {'image_id': 'abc', 'os_distro': 'debian'}}
    resp = _act(client, vid, {'os-set_image_metadata': {'metadata': {'os_distro': 'ubuntu'}}})
    assert resp.json['metadata'] == {'image_id': 'abc', 'os_distro': 'ubuntu'}
    shown = client.get('/v3/volumes/%s' % vid).json['volume']
    assert shown['volume_image_metadata'] == {'image_id': 'abc', 'os_distro': 'ubuntu'}
    detail = [v for v in client.get('/v3/volumes/detail').json['volumes'] if v['id'] == vid]
    assert detail[0]['volume_image_metadata']['image_id'] == 'abc'
    assert _act(client, vid, {'os-unset_image_metadata': {'key': 'image_id'}}).status_int == 200
    resp = _act(client, vid, {'os-show_image_metadata': None})
    assert resp.status_int == 200 and resp.json == {'metadata': {'os_distro': 'ubuntu'}}
    assert _act(client, vid, {'os-unset_image_metadata': {'key': 'image_id'}}).status_int == 404
    _act(client, vid, {'os-unset_image_metadata': {'key': 'os_distro'}})
    assert 'volume_image_metadata' not in client.get('/v3/volumes/%s' % vid).json['volume']


@pytest.mark.parametrize('body', [
    {'os-set_image_metadata': {}}, {'os-set_image_metadata': {'metadata': {'k': 1}}},
    {'os-set_image_metadata': {'metadata': 'x'}}, {'os-unset_image_metadata': {}},
    {'os-unset_image_metadata': {'key': ''}}, {'os-show_image_metadata': 'x'},
])
def test_image_metadata_bad_input(client, volume, body):
    resp = _act(client, volume['id'], body, version=V)
    assert resp.status_int == 400, body
    fault_of(resp)


# -- retype -------------------------------------------------------------------------------

@pytest.fixture
def gold(admin):
    return admin.post('/v3/types', {'volume_type': {
        'name': 'gold-%s' % uuid.uuid4().hex[:6]}}).json['volume_type']


def test_retype_same_backend(app, client, volume, gold):
    _place(volume['id'])
    seen = []
    app.volume_api.scheduler_rpcapi.find_backend_pool = (
        lambda ctx, host, spec: seen.append((host, spec)) or host)
    resp = _act(client, volume['id'], {'os-retype': {'new_type': gold['name'],
                                                     'migration_policy': 'never'}})
    assert resp.status_int == 202, resp.body
    assert seen[0][0] == 'node@file1#file1'
    assert seen[0][1]['volume_type']['id'] == gold['id']
    assert _status(volume['id']) == 'retyping'
    call = app.volume_api.volume_rpcapi.calls[-1]
    assert call[0] == 'retype' and call[1][2:] == (gold['id'], 'available')
    # What the manager does with it:
    ctx = context.get_admin_context()
    assert states.transition(ctx, 'volume', volume['id'], 'retype_done', target='available',
                             values={'volume_type_id': gold['id']})
    assert client.get('/v3/volumes/%s' % volume['id']).json['volume']['volume_type'] == \
        gold['name']


def test_retype_needing_migration_is_400_unless_on_demand(app, client, volume, gold):
    _place(volume['id'])
    app.volume_api.scheduler_rpcapi.find_backend_pool = lambda ctx, host, spec: None
    resp = _act(client, volume['id'], {'os-retype': {'new_type': gold['id']}})
    assert resp.status_int == 400
    assert 'the migration policy is never (use on-demand)' in fault_of(resp)[2]
    # on-demand, but no backend suits the type either
    resp = _act(client, volume['id'], {'os-retype': {'new_type': gold['id'],
                                                     'migration_policy': 'on-demand'}})
    assert resp.status_int == 400 and 'no backend suits volume type' in fault_of(resp)[2]
    assert _status(volume['id']) == 'available'
    assert db.worker_get_all(context.get_admin_context(), resource_id=volume['id']) == []


def test_retype_on_demand_claims_a_migration_to_the_backend_that_suits(app, client, volume,
                                                                      gold):
    vid = volume['id']
    _place(vid)
    app.volume_api.scheduler_rpcapi.find_backend_pool = (
        lambda ctx, host, spec: None if host else 'node@file2#file2')
    resp = _act(client, vid, {'os-retype': {'new_type': gold['id'],
                                            'migration_policy': 'on-demand'}})
    assert resp.status_int == 202, resp.body
    ctx = context.get_admin_context()
    row = db.volume_get(ctx, vid)
    assert (row.status, row.migration_status) == ('retyping', 'starting')
    (worker,) = db.worker_get_all(ctx, resource_id=vid)
    assert worker.operation == 'migrate'
    name, args, kwargs = app.volume_api.volume_rpcapi.calls[-1]
    assert name == 'migrate_volume'
    assert args[2]['host'] == 'node@file2#file2'
    assert args[4:] == (gold['id'], 'available')


def test_retype_refusals(app, client, volume, gold):
    vid = volume['id']
    _place(vid)
    app.volume_api.scheduler_rpcapi.find_backend_pool = lambda ctx, host, spec: host
    current = client.get('/v3/volumes/%s' % vid).json['volume']['volume_type']
    assert _act(client, vid, {'os-retype': {'new_type': current}}).status_int == 400
    assert _act(client, vid, {'os-retype': {'new_type': 'nope'}}).status_int == 404
    assert _act(client, vid, {'os-retype': {}}).status_int == 400
    assert _act(client, vid, {'os-retype': {'new_type': gold['id'],
                                            'migration_policy': 'sometimes'}}).status_int == 400
    states.transition(context.get_admin_context(), 'volume', vid, 'reset', target='error')
    resp = _act(client, vid, {'os-retype': {'new_type': gold['id']}})
    assert resp.status_int == 400 and 'but is error' in fault_of(resp)[2]


# -- revert --------------------------------------------------------------------------------

def test_revert_to_latest_snapshot(app, client, volume):
    vid = volume['id']
    _place(vid)
    s1 = client.create_snapshot(vid)
    make_available('snapshot', s1['id'])
    s2 = client.create_snapshot(vid)
    make_available('snapshot', s2['id'])
    body = {'revert': {'snapshot_id': s1['id']}}
    assert _act(client, vid, body, version='3.39').status_int == 404
    resp = _act(client, vid, body, version='3.40')
    assert resp.status_int == 400 and 'not the latest' in fault_of(resp)[2]
    resp = _act(client, vid, {'revert': {'snapshot_id': s2['id']}}, version='3.40')
    assert resp.status_int == 202, resp.body
    assert _status(vid) == 'reverting'
    assert db.snapshot_get(context.get_admin_context(), s2['id']).status == 'restoring'
    assert app.volume_api.volume_rpcapi.calls[-1][0] == 'revert_to_snapshot'
    # Busy: a second revert is a 409, as Cinder.
    resp = _act(client, vid, {'revert': {'snapshot_id': s2['id']}}, version='3.40')
    assert resp.status_int == 409 and fault_of(resp)[0] == 'conflictingRequest'


def test_revert_refusals(client, volume):
    vid = volume['id']
    resp = _act(client, vid, {'revert': {'snapshot_id': str(uuid.uuid4())}}, version='3.40')
    assert resp.status_int == 400 and "doesn't have any snapshots" in fault_of(resp)[2]
    snap = client.create_snapshot(vid)       # still 'creating'
    resp = _act(client, vid, {'revert': {'snapshot_id': snap['id']}}, version='3.40')
    assert resp.status_int == 409
    assert _status(vid) == 'available'
    for bad in ({}, {'snapshot_id': 'not-a-uuid'}, None):
        assert _act(client, vid, {'revert': bad}, version='3.40').status_int == 400


def test_revert_refused_by_old_volume_service(app, client, volume, monkeypatch):
    from blockstore.common import exception
    vid = volume['id']
    snap = client.create_snapshot(vid)
    make_available('snapshot', snap['id'])

    def too_old(what):
        raise exception.ServiceTooOld(reason='pinned to 1.0')
    app.volume_api.volume_rpcapi.require_actions = too_old
    resp = _act(client, vid, {'revert': {'snapshot_id': snap['id']}}, version='3.40')
    assert resp.status_int == 400 and 'too old' in fault_of(resp)[2]
    assert _status(vid) == 'available'


# -- migration, unknown ------------------------------------------------------------------

def _volume_service(host, up=True, disabled=False, cluster=None):
    ctx = context.get_admin_context()
    row = db.service_create(ctx, {'host': host, 'binary': 'blockstore-volume',
                                  'topic': 'blockstore-volume', 'availability_zone': 'nova',
                                  'cluster_name': cluster, 'disabled': disabled,
                                  'rpc_current_version': '1.0',
                                  'object_current_version': '1.0'})
    if up:
        db.service_heartbeat(ctx, row.id, {})
    return row


def _migrate(c, vid, version=V, **args):
    return _act(c, vid, {'os-migrate_volume': args}, version=version)


def test_migrate_volume_validates_body_and_policy(client, admin, volume):
    vid = volume['id']
    assert _migrate(client, vid, host='elsewhere@b').status_int == 403
    for args, words in (({}, 'Exactly one of host and cluster'),
                        ({'host': 'a@b', 'cluster': 'c'}, 'Exactly one of host and cluster'),
                        ({'host': 'a@b', 'force_host_copy': 'maybe'}, 'force_host_copy'),
                        ({'host': 'a@b', 'lock_volume': 'x'}, 'lock_volume'),
                        ({'host': ''}, 'host'),
                        ({'host': 'a@b', 'bogus': 1}, 'bogus')):
        resp = _migrate(admin, vid, **args)
        assert resp.status_int == 400 and words in fault_of(resp)[2], (args, resp.body)
    # host is required before 3.16 (cluster came with 3.16).
    resp = _migrate(admin, vid, version='3.15', cluster='c')
    assert resp.status_int == 400 and 'host' in fault_of(resp)[2]
    assert _migrate(admin, str(uuid.uuid4()), host='a@b').status_int == 404


def test_migrate_volume_to_its_own_backend_is_400(admin, volume):
    host = 'n-%s' % uuid.uuid4().hex[:8]
    _place(volume['id'], host + '@lvm#pool1')
    _volume_service(host + '@lvm')
    for dest in (host + '@lvm', host + '@lvm#pool2'):
        resp = _migrate(admin, volume['id'], host=dest)
        assert resp.status_int == 400, resp.body
        assert 'must be different than the current host' in fault_of(resp)[2]
    assert _status(volume['id']) == 'available'


def test_migrate_volume_needs_an_up_enabled_destination(admin, volume):
    host = 'n-%s' % uuid.uuid4().hex[:8]
    _place(volume['id'], host + '@lvm#pool1')
    _volume_service(host + '@lvm')
    _volume_service(host + '@down', up=False)
    _volume_service(host + '@off', disabled=True)
    for dest in (host + '@nowhere', host + '@down', host + '@off#p'):
        resp = _migrate(admin, volume['id'], host=dest)
        assert resp.status_int == 400, resp.body
        assert 'is up and enabled' in fault_of(resp)[2]
    resp = _migrate(admin, volume['id'], cluster='no-such-cluster')
    assert resp.status_int == 400 and 'cluster no-such-cluster' in fault_of(resp)[2]
    row = db.volume_get(context.get_admin_context(), volume['id'])
    assert (row.status, row.migration_status, row.host) == ('available', None,
                                                            host + '@lvm#pool1')


def test_migrate_volume_claims_and_casts_to_the_volume_backend(app, admin, volume):
    host = 'n-%s' % uuid.uuid4().hex[:8]
    _place(volume['id'], host + '@lvm#pool1')
    _volume_service(host + '@other', cluster='c-' + host)
    resp = _migrate(admin, volume['id'], host=host + '@other', force_host_copy=True)
    assert resp.status_int == 202, resp.body
    ctx = context.get_admin_context()
    row = db.volume_get(ctx, volume['id'])
    assert (row.status, row.migration_status, row.host) == ('available', 'starting',
                                                            host + '@lvm#pool1')
    (worker,) = db.worker_get_all(ctx, resource_id=volume['id'])
    assert (worker.operation, worker.status) == ('migrate', 'available')
    name, args, _ = app.volume_api.volume_rpcapi.calls[-1]
    assert name == 'migrate_volume'
    assert args[2] == {'host': host + '@other', 'cluster_name': 'c-' + host,
                       'capabilities': {}}
    assert args[3] is True
    # A second migration, a delete, a snapshot: refused while it migrates.
    resp = _migrate(admin, volume['id'], host=host + '@other')
    assert resp.status_int == 400 and 'the volume is migrating' in fault_of(resp)[2]
    assert admin.delete('/v3/volumes/%s' % volume['id']).status_int == 400
    resp = admin.post('/v3/snapshots', {'snapshot': {'volume_id': volume['id']}})
    assert resp.status_int == 400 and 'the volume is migrating' in fault_of(resp)[2]


def test_migrate_in_use_volume_is_400(admin, volume):
    host = 'n-%s' % uuid.uuid4().hex[:8]
    _place(volume['id'], host + '@lvm#pool1')
    _volume_service(host + '@other')
    states.transition(context.get_admin_context(), 'volume', volume['id'], 'reset',
                      target='in-use', values={'attach_status': 'attached'})
    resp = _migrate(admin, volume['id'], host=host + '@other')
    assert resp.status_int == 400
    assert 'only detached volumes can be migrated' in fault_of(resp)[2]
    assert db.volume_get(context.get_admin_context(), volume['id']).migration_status is None


def test_migrate_volume_checks_the_volume_state(client, admin, volume):
    vid = volume['id']
    _place(vid, 'n-%s@lvm#p' % uuid.uuid4().hex[:8])
    snap = client.create_snapshot(vid)
    resp = _migrate(admin, vid, host='x@y')
    assert resp.status_int == 400 and 'the volume has snapshots' in fault_of(resp)[2]
    db.snapshot_update(context.get_admin_context(), snap['id'], {'deleted': True})
    assert _act(admin, vid, {'os-reset_status': {'status': 'error',
                                                 'migration_status': 'migrating'}}
                ).status_int == 202
    message = fault_of(_migrate(admin, vid, host='x@y'))[2]
    assert 'status must be available or in-use, but is error' in message  # as Cinder says
    assert 'the volume is migrating' in message


def test_migrate_volume_completion(admin, client, volume):
    vid = volume['id']
    other = client.create_volume()
    body = {'os-migrate_volume_completion': {'new_volume': other['id']}}
    assert _act(client, vid, body).status_int == 403
    # Neither volume migrates: Nova's swap-volume; the new volume's id is kept.
    resp = _act(admin, vid, body)
    assert resp.status_int == 200 and resp.json == {'save_volume_id': other['id']}
    resp = _act(admin, vid, {'os-migrate_volume_completion': {'new_volume': vid}})
    assert resp.status_int == 400
    resp = _act(admin, vid, {'os-migrate_volume_completion': {'new_volume': 'x'}})
    assert resp.status_int == 400
    resp = _act(admin, vid, {'os-migrate_volume_completion': {'new_volume':
                                                              str(uuid.uuid4())}})
    assert resp.status_int == 404


# -- snapshot actions ------------------------------------------------------------------------

def test_snapshot_reset_and_progress(client, admin, volume):
    snap = client.create_snapshot(volume['id'])
    path = '/v3/snapshots/%s/action' % snap['id']
    assert client.post(path, {'os-reset_status': {'status': 'error'}}).status_int == 403
    assert admin.post(path, {'os-reset_status': {'status': 'error'}}).status_int == 202
    assert db.snapshot_get(context.get_admin_context(), snap['id']).status == 'error'
    assert admin.post(path, {'os-reset_status': {'status': 'nope'}}).status_int == 400
    assert admin.post(path, {'os-reset_status': {}}).status_int == 400
    assert client.post(path, {'os-update_progress': '50%'}).status_int == 403
    assert admin.post(path, {'os-update_progress': '50%'}).status_int == 202
    shown = admin.get('/v3/snapshots/%s' % snap['id']).json['snapshot']
    assert shown['os-extended-snapshot-attributes:progress'] == '50%'
    assert admin.post(path, {'os-update_progress': 5}).status_int == 400


def test_reset_of_the_attach_status_alone_keeps_the_status(admin, volume):
    """os-reset_status without a status goes through the table too (reset_keep_status)."""
    vid = volume['id']
    resp = _act(admin, vid, {'os-reset_status': {'attach_status': 'attached',
                                                 'migration_status': 'error'}})
    assert resp.status_int == 202, resp.body
    row = db.volume_get(context.get_admin_context(), vid)
    assert (row.status, row.attach_status, row.migration_status) == (
        'available', 'attached', 'error')
    # A deleted volume is not reset.
    db.volume_update(context.get_admin_context(), vid, {'deleted': True})
    assert _act(admin, vid, {'os-reset_status': {'attach_status': 'detached'}}).status_int == 404
