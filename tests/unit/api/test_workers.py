"""POST /workers/cleanup (3.24): which services' work is redone, and by whom."""

import uuid

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import states
from tests.unit.api.conftest import fault_of
from tests.unit.api.test_services import _svc


@pytest.fixture
def node():
    return 'w-%s' % uuid.uuid4().hex[:8]


def _work(client, host, operation='create'):
    """A volume on ``host`` with the work record of ``operation`` left unfinished."""
    ctx = context.get_admin_context()
    vol = client.create_volume()
    db.volume_update(ctx, vol['id'], {'host': host + '#p'})
    if operation == 'delete':
        assert states.transition(ctx, 'volume', vol['id'], 'create_done')
        db.worker_destroy(ctx, 'volume', vol['id'])
        assert states.transition(ctx, 'volume', vol['id'], 'delete',
                                 work={'operation': 'delete', 'status': 'deleting'})
    return vol['id']


def _cleanup(admin, body=None, version='3.24'):
    resp = admin.post('/v3/workers/cleanup', body, version=version)
    return resp


def _names(services):
    return [s['host'] for s in services]


def test_needs_3_24_and_admin(admin, client):
    assert _cleanup(admin, version='3.23').status_int == 404
    assert client.post('/v3/workers/cleanup', {}, version='3.24').status_int == 403


def test_down_service_without_peer_has_its_resources_failed(app, admin, client, node):
    dead = _svc(node + '@b1', up=False)
    creating = _work(client, node + '@b1')
    deleting = _work(client, node + '@b1', 'delete')
    resp = _cleanup(admin, {'host': node + '@b1'})
    assert resp.status_int == 202, resp.body
    assert resp.json == {'cleaning': [], 'unavailable': [
        {'id': dead.id, 'host': node + '@b1', 'binary': 'blockstore-volume',
         'cluster_name': None}]}
    ctx = context.get_admin_context()
    assert db.volume_get(ctx, creating).status == 'error'
    assert db.volume_get(ctx, deleting).status == 'error_deleting'
    assert db.worker_get_all(ctx, resource_id=creating) == []
    assert 'do_cleanup' not in app.volume_api.volume_rpcapi.names()


def test_down_service_in_a_cluster_is_cleaned_by_a_live_peer(app, admin, client, node):
    cluster = 'cl-' + node
    dead = _svc(node + 'a@b1', up=False, cluster=cluster)
    _svc(node + 'b@b1', cluster=cluster)
    vid = _work(client, node + 'a@b1')
    resp = _cleanup(admin, {'cluster_name': cluster})
    assert resp.status_int == 202
    assert _names(resp.json['cleaning']) == [node + 'a@b1']
    assert resp.json['unavailable'] == []
    (call,) = [c for c in app.volume_api.volume_rpcapi.calls if c[0] == 'do_cleanup']
    assert call[1][1:] == (node + 'b@b1', dead.id)
    # the peer redoes it: nothing was marked
    assert db.volume_get(context.get_admin_context(), vid).status == 'creating'


def test_up_services_clean_their_own_work_when_asked(app, admin, client, node):
    live = _svc(node + '@b1')
    _work(client, node + '@b1')
    resp = _cleanup(admin, {'host': node, 'is_up': 'true'})
    assert _names(resp.json['cleaning']) == [node + '@b1']
    (call,) = [c for c in app.volume_api.volume_rpcapi.calls if c[0] == 'do_cleanup']
    assert call[1][1:] == (node + '@b1', live.id)
    # by default only services that are down are cleaned
    assert _cleanup(admin, {'host': node}).json == {'cleaning': [], 'unavailable': []}


def test_resource_id_finds_its_service(app, admin, client, node):
    dead = _svc(node + '@b1', up=False)
    ctx = context.get_admin_context()
    vid = _work(client, node + '@b1')
    other = _work(client, node + '@b1')
    db.worker_set_service(ctx, 'volume', vid, dead.id)
    resp = _cleanup(admin, {'resource_id': vid, 'resource_type': 'Volume'})
    assert resp.status_int == 202
    assert _names(resp.json['unavailable']) == [node + '@b1']
    assert db.volume_get(ctx, vid).status == 'error'
    assert db.volume_get(ctx, other).status == 'creating'   # only the one asked for


def test_scheduler_cleanup_requeues_lost_placements(app, admin, client, node):
    sched = _svc(node + '-sched', binary='blockstore-scheduler', up=False)
    _svc(node + '-sched2', binary='blockstore-scheduler')
    vol = client.create_volume()    # never placed: no host
    app.volume_api.scheduler_rpcapi.calls.clear()
    resp = _cleanup(admin, {'service_id': sched.id, 'binary': 'cinder-scheduler'})
    assert resp.status_int == 202
    assert resp.json['cleaning'] == [{'id': sched.id, 'host': node + '-sched',
                                      'binary': 'blockstore-scheduler', 'cluster_name': None}]
    requeued = [c[1][1].id for c in app.volume_api.scheduler_rpcapi.calls
                if c[0] == 'create_volume']
    assert vol['id'] in requeued


def test_openstacksdk_shaped_body_with_nulls(admin, node):
    _svc(node + '@b1', up=False)
    body = {'binary': None, 'cluster_name': None, 'disabled': None, 'host': node + '@b1',
            'is_up': False, 'resource_id': None, 'resource_type': None, 'service_id': None}
    resp = _cleanup(admin, body)
    assert resp.status_int == 202 and _names(resp.json['unavailable']) == [node + '@b1']


@pytest.mark.parametrize('body, words', [
    ({'bogus': 1}, 'Invalid filter keys: bogus'),
    ({'binary': 'blockstore-backup'}, 'binary must be empty or set to cinder-volume or '
                                      'cinder-scheduler'),
    ({'is_up': 'perhaps'}, 'is_up'),
    ({'resource_type': 'backup'}, 'Resource type Backup not valid, must be Volume or '
                                  'Snapshot.'),
    ({'resource_id': 'not-a-uuid'}, 'Resource ID must be a UUID, and not-a-uuid is not.'),
    ({'resource_id': '8b5e4e4c-7c1e-4c2a-9d61-0f6f0f0f0f0f'},
     'There is no resource with UUID 8b5e4e4c-7c1e-4c2a-9d61-0f6f0f0f0f0f pending cleanup.'),
    ({'service_id': 'abc'}, 'does not match'),
    ([1, 2], "is not of type 'object', 'null'"),
])
def test_bad_input_is_400(admin, body, words):
    resp = _cleanup(admin, body)
    assert resp.status_int == 400, resp.body
    assert words in fault_of(resp)[2]


def test_take_over_claims_and_redoes_a_dead_peers_work(database, ctx, tmp_path, client):
    """The volume service side: do_cleanup claims the records and redoes the work."""
    import os
    import time
    import types as pytypes
    from blockstore.ops import cleanup
    from blockstore.volume import manager as vol_manager
    cluster = 'tc-' + uuid.uuid4().hex[:6]
    dead = _svc('dead-%s@b1' % cluster, up=False, cluster=cluster)
    conf = pytypes.SimpleNamespace(volume_driver='file', volume_backend_name='b1',
                                   file_volumes_dir=str(tmp_path / 'vols'),
                                   file_capacity_gb=100, reserved_percentage=0,
                                   max_over_subscription_ratio=20.0)
    host = 'live-%s@b1' % cluster
    mgr = vol_manager.VolumeManager(host, conf)
    mgr.service = objects.Service.get_by_id(ctx, _svc(host, cluster=cluster).id)
    mgr.init_host(ctx)
    vid = _work(client, dead.host)
    gone = _work(client, dead.host)
    db.worker_set_service(ctx, 'volume', vid, dead.id)
    assert states.transition(ctx, 'volume', gone, 'create_failed')   # moved on meanwhile
    redone = cleanup.take_over(mgr, ctx, dead.id)
    assert redone == [vid]
    deadline = time.time() + 3
    while db.volume_get(ctx, vid).status == 'creating' and time.time() < deadline:
        time.sleep(0.02)
    vol = db.volume_get(ctx, vid)
    assert vol.status == 'available' and os.path.exists(vol.provider_location)
    assert db.worker_get_all(ctx, resource_id=vid) == []
    assert db.worker_get_all(ctx, resource_id=gone) == []
    # a service outside the cluster does not take work over
    stranger = vol_manager.VolumeManager('x-%s@b1' % cluster, conf)
    stranger.service = objects.Service.get_by_id(ctx, _svc('x-%s@b1' % cluster).id)
    assert cleanup.take_over(stranger, ctx, dead.id) == []
