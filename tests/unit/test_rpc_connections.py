"""RPC 1.3 of the volume service (initialize_connection, terminate_connection): refused
by an N-1 (1.2) peer, served by a current one as calls (over the fake transport)."""

import types

import oslo_messaging as messaging
import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)

CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:x', 'host': 'compute1'}


def _service(ctx, host, rpc_v):
    return db.service_create(ctx, {'host': host, 'binary': 'blockstore-volume',
                                   'topic': 'blockstore-volume', 'rpc_current_version': rpc_v,
                                   'object_current_version': '1.0'})


@pytest.mark.parametrize('method', ['initialize_connection', 'terminate_connection'])
def test_connection_calls_need_rpc_1_3(ctx, method):
    """A 1.2 volume service (before the legacy attach actions) gets no 1.3 call."""
    rpc.init()
    svc = _service(ctx, 'a@lvm1', '1.2')
    api = volume_rpcapi.VolumeAPI()
    assert api.version_cap == '1.2'
    volume = types.SimpleNamespace(id='v1', host='a@lvm1#lvm1')
    with pytest.raises(exception.ServiceTooOld):
        getattr(api, method)(ctx, volume, CONNECTOR)
    db.service_update(ctx, svc.id, {'rpc_current_version': '1.3'})   # upgraded
    rpc.reset_pins()                                                   # SIGHUP
    assert volume_rpcapi.VolumeAPI().can_send_version('1.3')


def test_current_volume_service_answers_connection_calls(ctx):
    rpc.init()
    _service(ctx, 'new@lvm1', volume_rpcapi.VolumeAPI.RPC_API_VERSION)
    seen = []

    class Endpoint:
        target = messaging.Target(version='1.3')

        def initialize_connection(self, context, volume=None, connector=None):
            seen.append(('init', volume.host, connector))
            return {'driver_volume_type': 'iscsi', 'data': {'target_lun': 1}}

        def terminate_connection(self, context, volume=None, connector=None, force=False):
            seen.append(('term', volume.host, connector, force))

    from oslo_config import cfg
    server = rpc.get_server(messaging.Target(topic=cfg.CONF.volume_topic, server='new@lvm1'),
                            [Endpoint()])
    server.start()
    try:
        from blockstore import objects
        objects.register_all()
        vol = objects.Volume(ctx, id=db.new_uuid(), host='new@lvm1#lvm1')
        uctx = context.RequestContext(user_id='u', project_id='p')
        api = volume_rpcapi.VolumeAPI()
        info = api.initialize_connection(uctx, vol, CONNECTOR)
        assert info == {'driver_volume_type': 'iscsi', 'data': {'target_lun': 1}}
        assert api.terminate_connection(uctx, vol, CONNECTOR, force=True) is None
        assert seen == [('init', 'new@lvm1#lvm1', CONNECTOR),
                        ('term', 'new@lvm1#lvm1', CONNECTOR, True)]
    finally:
        server.stop()
        server.wait()


@pytest.mark.parametrize('method,args', [('attachment_update', ('att-1', CONNECTOR)),
                                         ('attachment_delete', ('att-1',))])
def test_attachment_calls_need_rpc_1_4(ctx, method, args):
    """A 1.3 volume service (before the attachments API) gets no 1.4 call."""
    rpc.init()
    svc = _service(ctx, 'b@lvm1', '1.3')
    api = volume_rpcapi.VolumeAPI()
    assert api.version_cap == '1.3'
    volume = types.SimpleNamespace(id='v1', host='b@lvm1#lvm1')
    with pytest.raises(exception.ServiceTooOld):
        getattr(api, method)(ctx, volume, *args)
    db.service_update(ctx, svc.id, {'rpc_current_version': '1.4'})
    rpc.reset_pins()
    assert volume_rpcapi.VolumeAPI().can_send_version('1.4')


def test_a_volume_service_that_does_not_answer_is_a_clear_503_to_retry():
    import json

    from blockstore.api import middleware
    from blockstore.volume.attach import connections as connections

    def silent(*args, **kwargs):
        raise messaging.MessagingTimeout('no reply')
    with pytest.raises(exception.VolumeBackendAPIException) as e:
        connections._call('update attachment', silent)
    resp = middleware.fault_from_exception(e.value)
    assert resp.status_int == 503
    assert int(resp.headers['Retry-After']) > 0
    message = json.loads(resp.body)['serviceUnavailable']['message']
    assert 'Unable to update attachment: the volume service did not answer in time' in message


@pytest.mark.parametrize('remote', ['DBConnectionError', 'OperationalError'])
def test_a_volume_service_without_its_database_is_a_503_to_retry(remote):
    """The drill's database restart: the volume service's claim failed, nothing changed."""
    import json

    from blockstore.api import middleware
    from blockstore.volume.attach import connections as connections

    def no_database(*args, **kwargs):
        raise messaging.RemoteError(remote, '(psycopg2.OperationalError) server closed the '
                                            'connection unexpectedly', '')
    with pytest.raises(connections.VolumeServiceDatabaseUnavailable) as e:
        connections._call('update attachment', no_database)
    resp = middleware.fault_from_exception(e.value)
    assert resp.status_int == 503 and int(resp.headers['Retry-After']) > 0
    message = json.loads(resp.body)['serviceUnavailable']['message']
    assert 'could not reach its database' in message and 'psycopg2' not in message
