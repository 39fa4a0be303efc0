"""RPC added for the operations API: scheduler get_pools (1.1) and its compatibility branch."""

import time

import oslo_messaging as messaging
from oslo_config import cfg
import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore.scheduler import manager as sched_manager
from blockstore.scheduler import pool_filters
from blockstore.scheduler import rpcapi as scheduler_rpcapi


@pytest.fixture(autouse=True)
def no_services(database, ctx):
    rpc.reset_pins()
    with db._writer(ctx) as session:
        session.execute(db.sa.delete(db.models.Worker))
        session.execute(db.sa.delete(db.models.Service))
    yield
    rpc.reset_pins()


def _backend(ctx, name, caps):
    svc = db.service_create(ctx, {'host': name, 'binary': 'blockstore-volume', 'topic': 't',
                                  'availability_zone': 'nova', 'rpc_current_version': '1.0',
                                  'object_current_version': '1.0'})
    db.service_heartbeat(ctx, svc.id, {})
    return svc


@pytest.fixture
def scheduler(ctx):
    m = sched_manager.SchedulerManager('sched-%d' % time.monotonic_ns())
    for backend, caps in (('n1@fast', {'volume_backend_name': 'fast', 'thin': True}),
                          ('n2@slow', {'volume_backend_name': 'slow', 'thin': False})):
        _backend(ctx, backend, caps)
        m.update_service_capabilities(ctx, host=backend, capabilities=dict(
            caps, pools=[{'pool_name': 'p', 'total_capacity_gb': 10,
                          'free_capacity_gb': 10}]))
    return m


def test_manager_get_pools_filters_by_name_type_and_capability(scheduler, ctx):
    names = lambda pools: sorted(p['name'] for p in pools)  # noqa: E731
    assert names(scheduler.get_pools(ctx)) == ['n1@fast#p', 'n2@slow#p']
    assert names(scheduler.get_pools(ctx, {'name': 'n2@slow#p'})) == ['n2@slow#p']
    assert names(scheduler.get_pools(ctx, {'thin': 'true'})) == ['n1@fast#p']
    assert names(scheduler.get_pools(ctx, {'total_capacity_gb': '10'})) == [
        'n1@fast#p', 'n2@slow#p']
    vtype = {'name': 't', 'extra_specs': {'volume_backend_name': 'slow'}}
    assert names(scheduler.get_pools(ctx, {'volume_type': vtype})) == ['n2@slow#p']
    assert scheduler.get_pools(ctx, {'no_such_capability': 'x'}) == []


def test_pool_filters_compare_by_value():
    class Pool:
        host = 'h@b#p'
        capabilities = {'a': 1.0, 'b': False, 'c': 'x'}
    assert pool_filters.apply([Pool()], {'a': '1', 'b': 'False', 'c': 'x'})
    assert not pool_filters.apply([Pool()], {'a': 'one'})


def test_get_pools_is_a_call_over_the_transport(scheduler, ctx):
    rpc.init()
    server = rpc.get_server(messaging.Target(topic=cfg.CONF.scheduler_topic,
                                             server=scheduler.host), [scheduler])
    server.start()
    try:
        uctx = context.RequestContext(user_id='admin', project_id='admin', is_admin=True)
        pools = scheduler_rpcapi.SchedulerAPI().get_pools(uctx, filters={'name': 'n1@fast#p'},
                                                          timeout=10)
        assert [p['name'] for p in pools] == ['n1@fast#p']
        assert pools[0]['capabilities']['free_capacity_gb'] == 10
    finally:
        server.stop()
        server.wait()


def test_get_pools_refused_while_a_scheduler_runs_rpc_1_0(ctx):
    """An N-1 scheduler (1.0) has no get_pools: the client says so instead of sending."""
    db.service_create(ctx, {'host': 'old-sched', 'binary': 'blockstore-scheduler',
                            'topic': 't', 'rpc_current_version': '1.0',
                            'object_current_version': '1.0'})
    api = scheduler_rpcapi.SchedulerAPI()
    assert api.version_cap == '1.0'
    with pytest.raises(exception.ServiceTooOld) as err:
        api.get_pools(ctx)
    assert err.value.code == 400
    # What 1.0 had still goes out.
    assert api.can_send_version('1.0')


def test_release_pin_caps_clients_at_that_release(ctx, monkeypatch):
    """A release that ran scheduler RPC 1.0: get_pools (1.1) is refused, not sent."""
    monkeypatch.setitem(rpc.RELEASES, '0.0', {'rpc': {'blockstore-scheduler': '1.0'},
                                              'objects': '1.0'})
    cfg.CONF.set_override('upgrade_level_release', '0.0')
    try:
        with pytest.raises(exception.ServiceTooOld):
            scheduler_rpcapi.SchedulerAPI().get_pools(ctx)
    finally:
        cfg.CONF.clear_override('upgrade_level_release')
        rpc.reset_pins()


def test_do_cleanup_refused_while_a_volume_service_runs_rpc_1_1(ctx):
    from blockstore.volume import rpcapi as volume_rpcapi
    db.service_create(ctx, {'host': 'old@b', 'binary': 'blockstore-volume', 'topic': 't',
                            'rpc_current_version': '1.1', 'object_current_version': '1.0'})
    api = volume_rpcapi.VolumeAPI()
    with pytest.raises(exception.ServiceTooOld):
        api.do_cleanup(ctx, 'old@b', 1)


def test_do_cleanup_reaches_the_volume_manager(ctx, monkeypatch):
    """A 1.2 cast over the fake transport arrives at VolumeManager.do_cleanup."""
    import threading
    from blockstore.ops import cleanup
    from blockstore.volume import manager as vol_manager
    from blockstore.volume import rpcapi as volume_rpcapi
    got = threading.Event()
    seen = {}

    def take_over(manager, context, service_id, resource_type=None, resource_id=None):
        seen.update(service_id=service_id, resource_type=resource_type, host=manager.host)
        got.set()
    monkeypatch.setattr(cleanup, 'take_over', take_over)
    mgr = vol_manager.VolumeManager.__new__(vol_manager.VolumeManager)
    vol_manager.service.Manager.__init__(mgr, 'rpc-n@b', 'blockstore-volume')
    rpc.init()
    server = rpc.get_server(messaging.Target(topic=cfg.CONF.volume_topic, server='rpc-n@b'),
                            [mgr])
    server.start()
    try:
        volume_rpcapi.VolumeAPI().do_cleanup(ctx, 'rpc-n@b#pool', 42, resource_type='volume')
        assert got.wait(10)
        assert seen == {'service_id': 42, 'resource_type': 'volume', 'host': 'rpc-n@b'}
    finally:
        server.stop()
        server.wait()
