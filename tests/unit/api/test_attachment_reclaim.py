"""Reclaiming a dead host's attachments: POST /v3/attachments/reclaim and blockstore-manage.

The whole API stack with the volume manager in this process (as
test_attachments): what the API answers, what the driver was asked to
revoke, what the database holds afterwards.
"""

import io
import time
import uuid

import pytest

from blockstore.cmd import manage
from blockstore.common import context
from blockstore.db import api as db
from blockstore.db.models import utcnow
from tests.unit.api.conftest import Client, fault_of
from tests.unit.api.test_attachments import (CONN_A, CONN_B, V, _attach, _vol, _volume,
                                             stack, volume_rpcapi)  # noqa: F401
from tests.unit.test_volume_manager_connections import ExportingFileDriver, mgr  # noqa: F401

URL = '/v3/attachments/reclaim'


@pytest.fixture
def c(app, project):
    return Client(app, 'user1:%s' % project, version=V)


@pytest.fixture
def admin(app):
    return Client(app, 'admin:admin', version=V)


@pytest.fixture(autouse=True)
def volume_service_up(stack):  # noqa: F811
    """The in-process volume service has a fresh heartbeat (it is up)."""
    db.service_update(context.get_admin_context(), stack.service.id,
                      {'last_seen_at': utcnow()})
    return stack


def _reclaim(admin, host, confirm=True):
    return admin.post(URL, {'host': host, 'confirm_dead': confirm})


def _workers(*ids):
    ctx = context.get_admin_context()
    return [w for i in ids for w in db.worker_get_all(ctx, resource_id=i)]


@pytest.fixture
def scene(c, stack):  # noqa: F811
    """Host A holds plain volume 1 and shares multiattach volume 2 with host B;
    B alone holds volume 3. Host names are this test's own (the database is the module's)."""
    tag = uuid.uuid4().hex[:6]
    conn_a = dict(CONN_A, host='compute-a-' + tag)
    conn_b = dict(CONN_B, host='compute-b-' + tag)
    v1, v2, v3 = _volume(c, stack), _volume(c, stack, multiattach=True), _volume(c, stack)
    a1 = _attach(c, v1, conn_a)
    a2 = _attach(c, v2, conn_a)
    b2 = _attach(c, v2, conn_b)
    b3 = _attach(c, v3, conn_b)
    stack.driver.calls.clear()
    return {'v1': v1, 'v2': v2, 'v3': v3, 'a1': a1, 'a2': a2, 'b2': b2, 'b3': b3,
            'A': conn_a['host'], 'B': conn_b['host'], 'conn_a': conn_a, 'conn_b': conn_b}


def test_reclaim_revokes_the_dead_host_and_leaves_the_others(c, admin, stack, scene):
    resp = _reclaim(admin, scene['A'])
    assert resp.status_int == 200, resp.body
    body = resp.json
    assert body['host'] == scene['A'] and body['failed'] == body['pending'] == []
    assert sorted(a['id'] for a in body['reclaimed']) == sorted([scene['a1'], scene['a2']])
    assert {a['volume_id'] for a in body['reclaimed']} == {scene['v1'], scene['v2']}

    calls = stack.driver.calls
    assert ('terminate_connection', scene['v1'], scene['conn_a'], []) in calls
    assert ('remove_export', scene['v1']) in calls
    assert ('terminate_connection', scene['v2'], scene['conn_a'], [scene['conn_b']]) in calls
    assert ('remove_export', scene['v2']) not in calls          # compute-b still uses it
    assert not [x for x in calls if x[1] == scene['v3']]

    v1, v2, v3 = (_vol(c, scene[k]) for k in ('v1', 'v2', 'v3'))
    assert (v1['status'], v1['attachments']) == ('available', [])
    assert v2['status'] == 'in-use'
    assert [a['attachment_id'] for a in v2['attachments']] == [scene['b2']]
    assert v3['status'] == 'in-use'
    for aid in (scene['a1'], scene['a2']):
        assert c.get('/v3/attachments/%s' % aid).status_int == 404
    assert _workers(scene['a1'], scene['a2']) == []

    # Nothing left for that host: a second reclaim finds nothing.
    again = _reclaim(admin, scene['A']).json
    assert (again['reclaimed'], again['pending'], again['failed']) == ([], [], [])


def test_reclaim_needs_an_admin_and_a_confirmation(c, admin, scene):
    host = scene['A']
    assert c.post(URL, {'host': host, 'confirm_dead': True}).status_int == 403
    resp = _reclaim(admin, host, confirm=False)
    assert resp.status_int == 400
    assert 'confirm_dead' in fault_of(resp)[2]
    assert admin.post(URL, {'host': host}).status_int == 400
    assert admin.post(URL, {'host': '', 'confirm_dead': True}).status_int == 400
    assert admin.post(URL, {'host': host, 'confirm_dead': True,
                            'force': True}).status_int == 400
    assert admin.post(URL, {'host': host, 'confirm_dead': True},
                      version='3.26').status_int == 404
    assert admin.get(URL).status_int == 405
    # Nothing was touched.
    assert _vol(c, scene['v1'])['status'] == 'in-use'
    unknown = _reclaim(admin, 'no-such-host').json
    assert (unknown['reclaimed'], unknown['failed']) == ([], [])


def test_a_backend_failure_is_reported_and_a_retry_finishes(c, admin, stack, scene,
                                                           monkeypatch):
    real = ExportingFileDriver.terminate_connection

    def refuse_v1(self, volume, connector, **kw):
        if volume.id == scene['v1']:
            raise RuntimeError('target daemon unreachable')
        return real(self, volume, connector, **kw)
    monkeypatch.setattr(ExportingFileDriver, 'terminate_connection', refuse_v1)
    body = _reclaim(admin, scene['A']).json
    assert [a['id'] for a in body['reclaimed']] == [scene['a2']]
    (failed,) = body['failed']
    assert failed['id'] == scene['a1'] and 'target daemon unreachable' in failed['reason']
    shown = c.get('/v3/attachments/%s' % scene['a1']).json['attachment']
    assert shown['status'] == 'error_detaching'
    assert _vol(c, scene['v1'])['status'] == 'in-use'

    monkeypatch.setattr(ExportingFileDriver, 'terminate_connection', real)
    body = _reclaim(admin, scene['A']).json
    assert ([a['id'] for a in body['reclaimed']], body['failed']) == ([scene['a1']], [])
    assert _vol(c, scene['v1'])['status'] == 'available'


def test_a_down_volume_service_finishes_the_reclaim_when_it_starts(c, admin, stack, scene,
                                                                   ctx):
    """Its heartbeat is old: the attachments are claimed, not waited for; the service's
    restart (init_host redoes its work records) revokes the host and deletes them."""
    db.service_update(context.get_admin_context(), stack.service.id, {'last_seen_at': None})
    body = _reclaim(admin, scene['A']).json
    assert (body['reclaimed'], body['failed']) == ([], [])
    assert sorted(a['id'] for a in body['pending']) == sorted([scene['a1'], scene['a2']])
    assert 'is down' in body['pending'][0]['reason']
    assert stack.driver.calls == []
    for aid in (scene['a1'], scene['a2']):
        shown = c.get('/v3/attachments/%s' % aid).json['attachment']
        assert shown['status'] == 'detaching'
    assert _vol(c, scene['v1'])['status'] == 'detaching'

    stack.init_host(ctx)                         # the volume service starts again
    deadline = time.time() + 10
    while time.time() < deadline and _workers(scene['a1'], scene['a2']):
        time.sleep(0.05)
    assert _workers(scene['a1'], scene['a2']) == []
    assert c.get('/v3/attachments/%s' % scene['a1']).status_int == 404
    assert ('terminate_connection', scene['v1'], scene['conn_a'], []) in stack.driver.calls
    assert _vol(c, scene['v1'])['status'] == 'available'
    v2 = _vol(c, scene['v2'])
    assert (v2['status'], [a['attachment_id'] for a in v2['attachments']]) == (
        'in-use', [scene['b2']])


def test_legacy_attachment_without_connector_is_reclaimed(c, admin, stack):  # noqa: F811
    vid = _volume(c, stack)
    path = '/v3/volumes/%s/action' % vid
    assert c.post(path, {'os-reserve': {}}).status_int == 202
    assert c.post(path, {'os-attach': {'host_name': 'bare-metal-7', 'mountpoint': '/dev/vdb',
                                       'mode': 'rw'}}).status_int == 202
    assert _vol(c, vid)['status'] == 'in-use'
    stack.driver.calls.clear()
    body = _reclaim(admin, 'bare-metal-7').json
    assert len(body['reclaimed']) == 1 and body['failed'] == []
    assert stack.driver.calls == []          # no connection was recorded: nothing to revoke
    assert _vol(c, vid)['status'] == 'available'


# -- blockstore-manage attachment reclaim -------------------------------------------------

@pytest.fixture
def cli_rpc(stack, monkeypatch):  # noqa: F811
    """The CLI's volume RPC answered by the in-process manager; no broker."""
    from blockstore.common import rpc
    from blockstore.volume import rpcapi
    monkeypatch.setattr(rpc, 'init', lambda *a, **k: None)
    monkeypatch.setattr(rpc, 'cleanup', lambda *a, **k: None)
    monkeypatch.setattr(rpcapi.VolumeAPI, 'attachment_delete',
                        lambda self, ctx, volume, aid: stack.attachment_delete(ctx, volume, aid))
    return stack


def _cli(*argv):
    args = manage.build_parser().parse_args(list(argv))
    out = io.StringIO()
    args.func(args, out)
    return out.getvalue()


def test_cli_reclaims_and_prints_what_it_did(c, cli_rpc, scene):
    host = scene['B']
    with pytest.raises(SystemExit) as refused:
        _cli('attachment', 'reclaim', '--host', host)
    assert '--confirm-dead' in str(refused.value)
    assert _vol(c, scene['v3'])['status'] == 'in-use'

    out = _cli('attachment', 'reclaim', '--host', host, '--confirm-dead')
    assert 'Host %s: 2 attachment(s) reclaimed, 0 pending, 0 failed.' % host in out
    for key in ('b2', 'b3', 'v2', 'v3'):
        assert scene[key] in out
    assert _vol(c, scene['v3'])['status'] == 'available'
    v2 = _vol(c, scene['v2'])
    assert [a['attachment_id'] for a in v2['attachments']] == [scene['a2']]
    assert 'Host %s: 0 attachment(s) reclaimed, 0 pending, 0 failed.' % host in _cli(
        'attachment', 'reclaim', '--host', host, '--confirm-dead')


def test_cli_exits_nonzero_when_some_fail(c, cli_rpc, scene, monkeypatch):
    def refuse(self, volume, connector, **kw):
        raise RuntimeError('target daemon unreachable')
    monkeypatch.setattr(ExportingFileDriver, 'terminate_connection', refuse)
    out = io.StringIO()
    args = manage.build_parser().parse_args(['attachment', 'reclaim', '--host', scene['A'],
                                             '--confirm-dead'])
    with pytest.raises(SystemExit) as failed:
        args.func(args, out)
    assert failed.value.code == 1
    assert '0 attachment(s) reclaimed, 0 pending, 2 failed' in out.getvalue()
    assert str(uuid.UUID(scene['a1'])) in out.getvalue()
