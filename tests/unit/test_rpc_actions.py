"""RPC 1.1 of the volume service and 1.2 of the scheduler: refused by N-1 peers, served by
current ones (over the fake transport)."""

import threading

import oslo_messaging as messaging
import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore.scheduler import rpcapi as scheduler_rpcapi
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)


def _service(ctx, host, binary, rpc_v):
    db.service_create(ctx, {'host': host, 'binary': binary, 'topic': binary,
                            'rpc_current_version': rpc_v, 'object_current_version': '1.0'})


def test_old_volume_service_refuses_new_methods(ctx):
    rpc.init()
    _service(ctx, 'old@b', 'blockstore-volume', '1.0')
    api = volume_rpcapi.VolumeAPI()
    with pytest.raises(exception.ServiceTooOld):
        api.require_actions('revert volumes')
    vol = type('V', (), {'host': 'old@b#p'})()
    for call in (lambda: api.revert_to_snapshot(ctx, vol, None),
                 lambda: api.retype(ctx, vol, 'x', 'available'),
                 lambda: api.manage_existing(ctx, vol, {}),
                 lambda: api.unmanage_volume(ctx, vol),
                 lambda: api.get_manageable_volumes(ctx, 'old@b')):
        with pytest.raises(exception.ServiceTooOld):
            call()


def test_old_scheduler_refuses_find_backend_pool(ctx):
    rpc.init()
    _service(ctx, 's', 'blockstore-scheduler', '1.1')
    with pytest.raises(exception.ServiceTooOld):
        scheduler_rpcapi.SchedulerAPI().find_backend_pool(ctx, 'h@b', {})


def test_current_volume_service_gets_revert(ctx):
    rpc.init()
    _service(ctx, 'new@b', 'blockstore-volume', volume_rpcapi.VolumeAPI.RPC_API_VERSION)
    got = threading.Event()
    seen = {}

    class Endpoint:
        target = messaging.Target(version='1.1')

        def revert_to_snapshot(self, context, volume=None, snapshot=None):
            seen.update(volume=volume, snapshot=snapshot)
            got.set()

    from oslo_config import cfg
    server = rpc.get_server(messaging.Target(topic=cfg.CONF.volume_topic, server='new@b'),
                            [Endpoint()])
    server.start()
    try:
        from blockstore import objects
        objects.register_all()
        vol = objects.Volume(ctx, id=db.new_uuid(), host='new@b#p')
        volume_rpcapi.VolumeAPI().revert_to_snapshot(
            context.RequestContext(user_id='u', project_id='p'), vol, None)
        assert got.wait(10)
        assert seen['volume'].host == 'new@b#p'
    finally:
        server.stop()
        server.wait()
