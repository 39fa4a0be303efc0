"""The attach flow through the whole API stack and a real volume manager (in process).

The manager runs the file driver with an in-memory export table
(``ExportingFileDriver``); RPC calls go straight to it. Every assertion is
on what the API answers and what the database and the driver then hold.
"""

import uuid

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import attachments as db_att
from tests.unit.api.conftest import Client, fault_of, make_available
from tests.unit.test_volume_manager_connections import ExportingFileDriver, mgr  # noqa: F401

V = '3.71'
CONN_A = {'initiator': 'iqn.1994-05.com.redhat:compute-a', 'host': 'compute-a',
          'ip': '10.0.0.1', 'multipath': False}
CONN_B = {'initiator': 'iqn.1994-05.com.redhat:compute-b', 'host': 'compute-b',
          'ip': '10.0.0.2', 'multipath': False}


class DirectRPC:
    """The volume RPC API, answered by the manager in this process."""

    def __init__(self, manager):
        self.m = manager

    def attachment_update(self, ctx, volume, attachment_id, connector):
        return self.m.attachment_update(ctx, volume, attachment_id, connector)

    def attachment_delete(self, ctx, volume, attachment_id):
        return self.m.attachment_delete(ctx, volume, attachment_id)

    def initialize_connection(self, ctx, volume, connector):
        return self.m.initialize_connection(ctx, volume, connector)

    def terminate_connection(self, ctx, volume, connector, force=False):
        return self.m.terminate_connection(ctx, volume, connector, force=force)

    def require_actions(self, what):
        pass

    def create_snapshot(self, ctx, volume, snapshot):
        pass   # left 'creating', as a compute host taking the snapshot would find it

    def require_images(self, what):
        pass

    def copy_volume_to_image(self, ctx, volume, image_meta):
        return self.m.copy_volume_to_image(ctx, volume, image_meta)

    def reimage(self, ctx, volume, image_meta, reimage_reserved=False):
        return self.m.reimage(ctx, volume, image_meta, reimage_reserved)


@pytest.fixture
def stack(mgr, ctx):  # noqa: F811
    mgr.init_host(ctx)
    return mgr


@pytest.fixture
def volume_rpcapi(stack):
    return DirectRPC(stack)


@pytest.fixture
def c(app, project):
    return Client(app, 'user1:%s' % project, version=V)


@pytest.fixture
def nova(app, project):
    """The compute service: the user's project, with the service role."""
    class Nova(Client):
        def request(self, *args, **kwargs):
            headers = dict(kwargs.pop('headers', None) or {})
            headers.setdefault('X-Roles', 'member,reader,service')
            return super().request(*args, headers=headers, **kwargs)
    return Nova(app, 'nova:%s' % project, version=V)


def _volume(c, stack, multiattach=False):
    vol = c.create_volume()
    make_available('volume', vol['id'])
    db.volume_update(context.get_admin_context(), vol['id'],
                     {'host': stack.host + '#b1', 'multiattach': multiattach})
    return vol['id']


def _vol(c, vid):
    return c.get('/v3/volumes/%s' % vid).json['volume']


def _create(c, vid, instance=None, connector=None, **kw):
    body = {'volume_uuid': vid, 'instance_uuid': instance or str(uuid.uuid4())}
    if connector is not None:
        body['connector'] = connector
    body.update(kw)
    return c.post('/v3/attachments', {'attachment': body})


def _attach(c, vid, connector, instance=None):
    resp = _create(c, vid, instance)
    assert resp.status_int == 200, resp.body
    aid = resp.json['attachment']['id']
    resp = c.put('/v3/attachments/%s' % aid, {'attachment': {'connector': connector}})
    assert resp.status_int == 200, resp.body
    assert c.post('/v3/attachments/%s/action' % aid, {'os-complete': {}}).status_int == 204
    return aid


def test_reserve_connect_complete_delete(c, stack):
    vid = _volume(c, stack)
    instance = str(uuid.uuid4())
    resp = _create(c, vid, instance)
    assert resp.status_int == 200, resp.body
    att = resp.json['attachment']
    assert (att['status'], att['instance'], att['volume_id']) == ('reserved', instance, vid)
    assert att['connection_info'] == {}
    assert _vol(c, vid)['status'] == 'reserved'

    resp = c.put('/v3/attachments/%s' % att['id'], {'attachment': {'connector': CONN_A}})
    assert resp.status_int == 200, resp.body
    info = resp.json['attachment']['connection_info']
    assert info['driver_volume_type'] == 'iscsi' and info['attachment_id'] == att['id']
    assert info['access_mode'] == 'rw' and info['auth_password'] == 'secret-password'
    assert resp.json['attachment']['status'] == 'attaching'
    assert _vol(c, vid)['status'] == 'attaching'
    assert ('create_export', vid) in stack.driver.calls

    assert c.post('/v3/attachments/%s/action' % att['id'], {'os-complete': {}}).status_int == 204
    vol = _vol(c, vid)
    assert vol['status'] == 'in-use'
    (shown,) = vol['attachments']
    assert (shown['attachment_id'], shown['server_id']) == (att['id'], instance)
    assert c.get('/v3/attachments/%s' % att['id']).json['attachment']['status'] == 'attached'
    listed = c.get('/v3/attachments?volume_id=%s' % vid).json['attachments']
    assert [a['id'] for a in listed] == [att['id']]

    # Deleting the volume now is refused: it is attached.
    assert c.delete('/v3/volumes/%s' % vid).status_int == 400

    stack.driver.calls.clear()
    resp = c.delete('/v3/attachments/%s' % att['id'])
    assert resp.status_int == 200, resp.body
    assert resp.json == {'attachments': []}
    assert stack.driver.calls == [('terminate_connection', vid, CONN_A, []),
                                  ('remove_export', vid)]
    vol = _vol(c, vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert c.get('/v3/attachments/%s' % att['id']).status_int == 404
    assert db.worker_get_all(context.get_admin_context(), resource_id=att['id']) == []


def test_create_with_connector_connects_at_once(c, stack):
    vid = _volume(c, stack)
    resp = _create(c, vid, connector=CONN_A, mode='ro')
    assert resp.status_int == 200, resp.body
    att = resp.json['attachment']
    assert att['status'] == 'attaching' and att['attach_mode'] == 'ro'
    assert att['connection_info']['access_mode'] == 'ro'


def test_plain_volume_never_gets_a_second_instance(c, stack):
    vid = _volume(c, stack)
    first = str(uuid.uuid4())
    _attach(c, vid, CONN_A, first)
    resp = _create(c, vid, str(uuid.uuid4()))
    assert resp.status_int == 400
    assert 'not multiattach' in fault_of(resp)[2]
    assert len(db_att.live_attachments(context.get_admin_context(), vid)) == 1


def test_live_migration_keeps_the_volume_in_use(c, stack):
    vid = _volume(c, stack)
    instance = str(uuid.uuid4())
    source = _attach(c, vid, CONN_A, instance)
    # The destination host: a second attachment of the same instance.
    resp = _create(c, vid, instance)
    assert resp.status_int == 200, resp.body
    dest = resp.json['attachment']['id']
    assert _vol(c, vid)['status'] == 'in-use'
    assert c.put('/v3/attachments/%s' % dest,
                 {'attachment': {'connector': CONN_B}}).status_int == 200
    assert _vol(c, vid)['status'] == 'in-use'
    assert c.post('/v3/attachments/%s/action' % dest, {'os-complete': {}}).status_int == 204
    stack.driver.calls.clear()
    resp = c.delete('/v3/attachments/%s' % source)
    assert resp.status_int == 200
    assert [a['id'] for a in resp.json['attachments']] == [dest]
    # The source host loses access; the export stays for the destination.
    assert stack.driver.calls == [('terminate_connection', vid, CONN_A, [CONN_B])]
    vol = _vol(c, vid)
    assert vol['status'] == 'in-use' and [a['attachment_id'] for a in vol['attachments']] == [dest]


def test_multiattach_two_hosts(c, stack):
    vid = _volume(c, stack, multiattach=True)
    a = _attach(c, vid, CONN_A)
    b = _attach(c, vid, CONN_B)
    assert len(_vol(c, vid)['attachments']) == 2
    stack.driver.calls.clear()
    assert c.delete('/v3/attachments/%s' % a).status_int == 200
    assert ('remove_export', vid) not in stack.driver.calls
    assert _vol(c, vid)['status'] == 'in-use'
    assert c.delete('/v3/attachments/%s' % b).status_int == 200
    assert ('remove_export', vid) in stack.driver.calls
    assert _vol(c, vid)['status'] == 'available'


def test_unconnected_attachment_is_deleted_without_the_backend(c, stack):
    vid = _volume(c, stack)
    aid = _create(c, vid).json['attachment']['id']
    stack.driver.calls.clear()
    assert c.delete('/v3/attachments/%s' % aid).status_int == 200
    assert stack.driver.calls == []
    assert _vol(c, vid)['status'] == 'available'


def test_failed_connect_leaves_a_usable_volume(c, stack):
    vid = _volume(c, stack)
    aid = _create(c, vid).json['attachment']['id']

    def broken(volume, connector):
        raise RuntimeError('target daemon is down')
    stack.driver.initialize_connection = broken
    resp = c.put('/v3/attachments/%s' % aid, {'attachment': {'connector': CONN_A}})
    assert resp.status_int == 500
    assert c.get('/v3/attachments/%s' % aid).json['attachment']['status'] == 'error_attaching'
    assert _vol(c, vid)['status'] == 'reserved'
    assert c.delete('/v3/attachments/%s' % aid).status_int == 200
    assert _vol(c, vid)['status'] == 'available'


def test_compute_service_attachment_needs_its_role_to_delete(c, nova, stack):
    vid = _volume(c, stack)
    aid = _attach(nova, vid, CONN_A)
    resp = c.delete('/v3/attachments/%s' % aid)
    assert resp.status_int == 403
    assert _vol(c, vid)['status'] == 'in-use'
    # Nor through the legacy actions.
    assert c.post('/v3/volumes/%s/action' % vid,
                  {'os-terminate_connection': {'connector': CONN_A}}).status_int == 403
    assert c.post('/v3/volumes/%s/action' % vid, {'os-detach': {}}).status_int == 403
    assert nova.delete('/v3/attachments/%s' % aid).status_int == 200
    assert _vol(c, vid)['status'] == 'available'


def test_user_attachment_is_deleted_by_the_user(c, stack):
    vid = _volume(c, stack)
    aid = _attach(c, vid, CONN_A)
    assert c.delete('/v3/attachments/%s' % aid).status_int == 200


def test_versions_isolation_and_bad_input(app, c, stack):
    vid = _volume(c, stack)
    assert c.get('/v3/attachments', version='3.26').status_int == 404
    assert _create(c, vid, mode='ro', ).status_int == 200
    vid2 = _volume(c, stack)
    resp = c.post('/v3/attachments', {'attachment': {'volume_uuid': vid2, 'mode': 'ro'}},
                  version='3.53')
    assert resp.status_int == 400
    for bad in ({'attachment': {}}, {'attachment': {'volume_uuid': 'nope'}},
                {'attachment': {'volume_uuid': vid2, 'mode': 'rx'}}, {},
                {'attachment': {'volume_uuid': vid2, 'connector': {'host': 'x'}}}):
        resp = c.post('/v3/attachments', bad)
        assert resp.status_int == 400, (bad, resp.body)
        fault_of(resp)
    assert _vol(c, vid2)['status'] == 'available'
    other = Client(app, 'user2:p-other-%s' % uuid.uuid4().hex[:6], version=V)
    assert _create(other, vid2).status_int == 404
    aid = _create(c, vid2).json['attachment']['id']
    assert other.get('/v3/attachments/%s' % aid).status_int == 404
    assert other.delete('/v3/attachments/%s' % aid).status_int == 404
    assert other.get('/v3/attachments').json == {'attachments': []}
    assert c.post('/v3/attachments/%s/action' % aid, {'os-frobnicate': {}}).status_int == 400
    assert c.post('/v3/attachments/%s/action' % aid, {'os-complete': {}}).status_int == 400


def test_legacy_flow(c, stack):
    vid = _volume(c, stack)

    def act(body):
        return c.post('/v3/volumes/%s/action' % vid, body)
    assert act({'os-reserve': {}}).status_int == 202
    assert _vol(c, vid)['status'] == 'attaching'
    assert act({'os-reserve': {}}).status_int == 400
    assert act({'os-unreserve': {}}).status_int == 202
    assert _vol(c, vid)['status'] == 'available'

    assert act({'os-reserve': {}}).status_int == 202
    resp = act({'os-initialize_connection': {'connector': CONN_A}})
    assert resp.status_int == 200
    instance = str(uuid.uuid4())
    assert act({'os-attach': {'instance_uuid': instance, 'mountpoint': '/dev/vdb',
                              'mode': 'rw'}}).status_int == 202
    vol = _vol(c, vid)
    assert vol['status'] == 'in-use'
    assert vol['attachments'][0]['server_id'] == instance
    assert vol['attachments'][0]['device'] == '/dev/vdb'

    assert act({'os-begin_detaching': {}}).status_int == 202
    assert _vol(c, vid)['status'] == 'detaching'
    assert act({'os-roll_detaching': {}}).status_int == 202
    assert _vol(c, vid)['status'] == 'in-use'
    assert act({'os-begin_detaching': {}}).status_int == 202
    stack.driver.calls.clear()
    assert act({'os-terminate_connection': {'connector': CONN_A}}).status_int == 202
    assert stack.driver.calls == [('terminate_connection', vid, CONN_A, []),
                                  ('remove_export', vid)]
    assert act({'os-detach': {}}).status_int == 202
    vol = _vol(c, vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert act({'os-detach': {}}).status_int == 400
    assert act({'os-attach': {'mountpoint': '/dev/vdb'}}).status_int == 400


def test_force_detach_by_admin(c, app, stack):
    vid = _volume(c, stack, multiattach=True)
    _attach(c, vid, CONN_A)
    _attach(c, vid, CONN_B)
    admin = Client(app, 'admin:admin', version=V)
    path = '/v3/volumes/%s/action' % vid
    assert c.post(path, {'os-force_detach': {}}).status_int == 403
    assert admin.post(path, {'os-force_detach': {}}).status_int == 202
    vol = _vol(c, vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert ('remove_export', vid) in stack.driver.calls


def test_detach_interrupted_by_a_crash_finishes_at_restart(c, stack, ctx):
    from blockstore.volume.attach import service as attach_flow
    vid = _volume(c, stack)
    aid = _attach(c, vid, CONN_A)
    # The API claimed the delete (work record written), then the service died.
    attach_flow.change(ctx, vid, aid, 'detach', work={'operation': 'detach'})
    assert _vol(c, vid)['status'] == 'detaching'
    stack.driver.calls.clear()
    stack._recover(ctx)
    import time
    for _ in range(100):
        if _vol(c, vid)['status'] == 'available':
            break
        time.sleep(0.02)
    assert _vol(c, vid)['status'] == 'available'
    assert ('terminate_connection', vid, CONN_A, []) in stack.driver.calls
    assert db.worker_get_all(ctx, resource_id=aid) == []


@pytest.mark.parametrize('outcome', ['migrated', 'rolled_back'])
def test_legacy_live_migration_keeps_the_export_for_the_other_host(c, stack, outcome):
    vid = _volume(c, stack)

    def act(body, code=202):
        resp = c.post('/v3/volumes/%s/action' % vid, body)
        assert resp.status_int == code, resp.body
    act({'os-reserve': {}})
    act({'os-initialize_connection': {'connector': CONN_A}}, 200)
    act({'os-attach': {'instance_uuid': str(uuid.uuid4()), 'mountpoint': '/dev/vdb'}})
    # Nova's pre_live_migration on the destination: a second legacy connection.
    act({'os-initialize_connection': {'connector': CONN_B}}, 200)
    (att,) = db_att.live_attachments(context.get_admin_context(), vid)
    assert att.connector == CONN_A and att.extra_connectors == [CONN_B]
    leaving, staying = (CONN_A, CONN_B) if outcome == 'migrated' else (CONN_B, CONN_A)
    stack.driver.calls.clear()
    act({'os-terminate_connection': {'connector': leaving}})
    assert stack.driver.calls == [('terminate_connection', vid, leaving, [staying])]
    (att,) = db_att.live_attachments(context.get_admin_context(), vid)
    assert (att.connector, att.extra_connectors) == (staying, [])
    assert _vol(c, vid)['status'] == 'in-use'
    act({'os-terminate_connection': {'connector': staying}})
    assert stack.driver.calls[-2:] == [('terminate_connection', vid, staying, []),
                                       ('remove_export', vid)]
    act({'os-detach': {}})
    assert _vol(c, vid)['status'] == 'available'


def test_failed_disconnect_leaves_the_volume_in_use(c, stack, monkeypatch):
    """The backend cannot revoke the host: the attachment is error_detaching, and the
    volume (still connected) is in-use again, not held in 'detaching'."""
    vid = _volume(c, stack)
    aid = _attach(c, vid, CONN_A)

    def refuse(volume, connector, **kw):
        raise RuntimeError('target daemon unreachable')
    monkeypatch.setattr(stack.driver, 'terminate_connection', refuse)
    assert c.delete('/v3/attachments/%s' % aid).status_int == 500
    assert c.get('/v3/attachments/%s' % aid).json['attachment']['status'] == 'error_detaching'
    assert _vol(c, vid)['status'] == 'in-use'
    monkeypatch.undo()
    assert c.delete('/v3/attachments/%s' % aid).status_int == 200
    assert _vol(c, vid)['status'] == 'available'


# -- Nova's other legacy actions ----------------------------------------------------------

def test_update_snapshot_status_as_a_compute_host_reports_it(c, stack):
    vid = _volume(c, stack)
    sid = c.post('/v3/snapshots', {'snapshot': {'volume_id': vid}}).json['snapshot']['id']
    path = '/v3/snapshots/%s/action' % sid

    def report(status, progress=None, code=202):
        body = {'status': status}
        if progress:
            body['progress'] = progress
        resp = c.post(path, {'os-update_snapshot_status': body})
        assert resp.status_int == code, resp.body
        return resp
    report('creating', '50%')
    snap = c.get('/v3/snapshots/%s' % sid).json['snapshot']
    assert (snap['status'], snap['os-extended-snapshot-attributes:progress']) == (
        'creating', '50%')
    assert 'cannot be reported' in fault_of(report('deleting', code=400))[2]
    report('available', progress='100%')
    assert c.get('/v3/snapshots/%s' % sid).json['snapshot']['status'] == 'available'
    assert db.worker_get_all(context.get_admin_context(), resource_id=sid) == []
    report('error', code=400)   # no longer creating
    report('available', progress='150%', code=400)


def test_swap_volume_completion_moves_legacy_attachments(c, app, stack):
    admin = Client(app, 'admin:admin', version=V)
    old, new = _volume(c, stack), _volume(c, stack)
    instance = str(uuid.uuid4())

    def act(who, vid, body, code=202):
        resp = who.post('/v3/volumes/%s/action' % vid, body)
        assert resp.status_int == code, resp.body
        return resp
    act(c, old, {'os-reserve': {}})
    act(c, old, {'os-attach': {'instance_uuid': instance, 'mountpoint': '/dev/vdb'}})
    # Nova's swap-volume, legacy flavour: reserve and connect the new volume, swap, complete.
    act(c, new, {'os-reserve': {}})
    act(c, new, {'os-initialize_connection': {'connector': CONN_A}}, 200)
    act(c, old, {'os-migrate_volume_completion': {'new_volume': new}}, 403)
    resp = act(admin, old, {'os-migrate_volume_completion': {'new_volume': new,
                                                             'error': False}}, 200)
    assert resp.json == {'save_volume_id': new}
    assert _vol(c, old)['status'] == 'available'
    moved = _vol(c, new)
    assert moved['status'] == 'in-use'
    assert (moved['attachments'][0]['server_id'], moved['attachments'][0]['device']) == (
        instance, '/dev/vdb')
    # Not a swap: a volume mid-migration is its volume service's to complete.
    db.volume_update(context.get_admin_context(), old, {'migration_status': 'migrating'})
    act(admin, old, {'os-migrate_volume_completion': {'new_volume': new}}, 400)
