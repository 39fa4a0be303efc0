"""Legacy attach actions: os-initialize_connection and os-terminate_connection."""

import pytest

from blockstore.common import context
from blockstore.db import api as db
from tests.unit.api.conftest import RPCRecorder, fault_of, make_available

CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:unit', 'ip': '127.0.0.1',
             'host': 'compute1', 'multipath': False}
INFO = {'driver_volume_type': 'iscsi', 'data': {'target_iqn': 'iqn.x:volume-1',
                                                'auth_method': 'CHAP'}}


class CallRecorder(RPCRecorder):
    """Records calls like RPCRecorder; initialize_connection answers INFO."""

    def initialize_connection(self, *args, **kwargs):
        self.calls.append(('initialize_connection', args, kwargs))
        return INFO


@pytest.fixture
def volume_rpcapi():
    return CallRecorder()


@pytest.fixture
def rpc(volume_rpcapi):
    return volume_rpcapi


@pytest.fixture
def volume(client):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    db.volume_update(context.get_admin_context(), vol['id'], {'host': 'node@lvm1#lvm1'})
    return vol


def _act(c, vid, body):
    return c.post('/v3/volumes/%s/action' % vid, body)


def test_initialize_connection(client, rpc, volume):
    resp = _act(client, volume['id'], {'os-initialize_connection': {'connector': CONNECTOR}})
    assert resp.status_int == 200, resp.body
    assert resp.json == {'connection_info': INFO}
    (name, args, _), = rpc.calls
    assert name == 'initialize_connection'
    assert args[1].id == volume['id'] and args[2] == CONNECTOR


def test_terminate_connection(client, rpc, volume):
    resp = _act(client, volume['id'], {'os-terminate_connection': {'connector': CONNECTOR}})
    assert resp.status_int == 202, resp.body
    (name, args, kwargs), = rpc.calls
    assert name == 'terminate_connection' and args[2] == CONNECTOR
    assert kwargs == {'force': False}


@pytest.mark.parametrize('action', ['os-initialize_connection', 'os-terminate_connection'])
@pytest.mark.parametrize('args', [
    None, {}, {'other': 1}, {'connector': None}, {'connector': 'iqn.x'}, {'connector': {}},
    {'connector': {'host': 'compute1'}}, {'connector': {'initiator': ''}},
    {'connector': {'initiator': 'bad name; rm -rf'}}, {'connector': {'initiator': 5}},
])
def test_bad_connector_is_400(client, rpc, volume, action, args):
    resp = _act(client, volume['id'], {action: args})
    assert resp.status_int == 400, (args, resp.body)
    fault_of(resp)
    assert rpc.calls == []


@pytest.mark.parametrize('action', ['os-initialize_connection', 'os-terminate_connection'])
def test_other_projects_volume_is_404(app, rpc, volume, action):
    from tests.unit.api.conftest import Client
    other = Client(app, 'user2:p-someone-else')
    resp = _act(other, volume['id'], {action: {'connector': CONNECTOR}})
    assert resp.status_int == 404, resp.body
    assert rpc.calls == []


@pytest.mark.parametrize('action', ['os-initialize_connection', 'os-terminate_connection'])
def test_creating_volume_is_refused(client, rpc, action):
    vol = client.create_volume()   # still 'creating'
    resp = _act(client, vol['id'], {action: {'connector': CONNECTOR}})
    assert resp.status_int == 400, resp.body
    assert 'status must be' in fault_of(resp)[2]
    assert rpc.calls == []


def test_status_is_unchanged(client, rpc, volume):
    _act(client, volume['id'], {'os-initialize_connection': {'connector': CONNECTOR}})
    assert db.volume_get(context.get_admin_context(), volume['id']).status == 'available'


@pytest.mark.parametrize('action', ['initialize_connection', 'terminate_connection'])
def test_reader_is_forbidden(app, rpc, project, volume, action):
    from tests.unit.api.test_policy import RoleClient
    reader = RoleClient(app, 'reader1:%s' % project, 'reader')
    resp = _act(reader, volume['id'], {'os-' + action: {'connector': CONNECTOR}})
    assert resp.status_int == 403, resp.body
    assert fault_of(resp)[2] == ("Policy doesn't allow volume_extension:volume_actions:%s to "
                                 "be performed." % action)
    assert rpc.calls == []
