"""RPC clients cap their version at the oldest running service and backport objects."""

import oslo_messaging as messaging
import pytest

from blockstore.common import rpc
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import base as obj_base
from blockstore.scheduler import rpcapi as scheduler_rpcapi
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)


def _service(ctx, host, binary, rpc_v, obj_v):
    return db.service_create(ctx, {'host': host, 'binary': binary, 'topic': binary,
                                   'rpc_current_version': rpc_v,
                                   'object_current_version': obj_v})


def test_no_services_means_current_versions(ctx):
    assert rpc.get_pins('blockstore-volume', '1.0') == ('1.0', obj_base.OBJ_VERSIONS.get_current())


def test_pin_is_lowest_version_semantically(ctx):
    _service(ctx, 'a@x', 'blockstore-volume', '1.10', '1.0')
    _service(ctx, 'b@x', 'blockstore-volume', '1.9', '1.0')
    _service(ctx, 'c', 'blockstore-scheduler', '1.2', '1.0')
    # '1.9' < '1.10' as versions, although not as strings.
    assert rpc.get_pins('blockstore-volume', '1.10')[0] == '1.9'
    assert rpc.get_pins('blockstore-scheduler', '1.2')[0] == '1.2'


def test_pins_are_cached_until_reset(ctx):
    svc = _service(ctx, 'a@x', 'blockstore-volume', '1.0', '1.0')
    assert rpc.get_pins('blockstore-volume', '1.0')[0] == '1.0'
    db.service_update(ctx, svc.id, {'rpc_current_version': '0.9'})
    assert rpc.get_pins('blockstore-volume', '1.0')[0] == '1.0'   # cached
    rpc.reset_pins()                                                # SIGHUP
    assert rpc.get_pins('blockstore-volume', '1.0')[0] == '0.9'


def test_client_version_cap_refuses_newer_methods(ctx, monkeypatch):
    rpc.init()
    _service(ctx, 'a@x', 'blockstore-volume', '1.0', '1.0')
    api = volume_rpcapi.VolumeAPI()
    monkeypatch.setattr(api, 'RPC_API_VERSION', '1.1')
    assert api.version_cap == '1.0'
    assert api.can_send_version('1.0')
    assert not api.can_send_version('1.1')
    with pytest.raises(messaging.RPCVersionCapError):
        api.prepare(version='1.1').cast(ctx, 'something_new')


def test_operator_release_pin_overrides_table(ctx, monkeypatch):
    from oslo_config import cfg
    _service(ctx, 'a@x', 'blockstore-volume', '1.0', '1.0')
    monkeypatch.setitem(rpc.RELEASES, '0.0', {'rpc': {'blockstore-volume': '0.5'},
                                              'objects': '1.0'})
    cfg.CONF.set_override('upgrade_level_release', '0.0')
    try:
        assert rpc.get_pins('blockstore-volume', '1.0') == ('0.5', '1.0')
        assert rpc.get_pins('blockstore-scheduler', '1.0') == ('1.0', '1.0')
    finally:
        cfg.CONF.clear_override('upgrade_level_release')


def test_serializer_backports_objects_to_pinned_history(monkeypatch):
    """An object sent to an older peer is converted with that peer's manifest."""
    @obj_base.BlockstoreObjectRegistry.register_if(False)
    class Gadget(obj_base.BlockstoreObject):
        VERSION = '1.1'   # 1.1 added 'colour'
        fields = {'name': obj_base.obj_fields.StringField(),
                  'colour': obj_base.obj_fields.StringField(nullable=True)}

        def obj_make_compatible(self, primitive, target_version):
            super().obj_make_compatible(primitive, target_version)
            if target_version == '1.0':
                primitive.pop('colour', None)

    history = obj_base.ObjectVersionHistory()
    history.add('1.0', {'Gadget': '1.0'})
    history.add('1.1', {'Gadget': '1.1'})
    monkeypatch.setattr(obj_base, 'OBJ_VERSIONS', history)
    g = Gadget(name='g', colour='red')
    old = obj_base.BlockstoreObjectSerializer('1.0').serialize_entity(None, g)
    new = obj_base.BlockstoreObjectSerializer('1.1').serialize_entity(None, g)
    assert old['blockstore_object.version'] == '1.0'
    assert 'colour' not in old['blockstore_object.data']
    assert new['blockstore_object.version'] == '1.1'
    assert new['blockstore_object.data']['colour'] == 'red'


def test_rpc_round_trip_over_fake_transport(ctx):
    """A cast from the client reaches a threading-executor server with the object intact."""
    import threading
    rpc.init()
    got = threading.Event()
    seen = {}

    class Endpoint:
        target = messaging.Target(version='1.0')

        def update_service_capabilities(self, context, **kw):
            seen.update(kw, project=context.project_id)
            got.set()

    from oslo_config import cfg
    server = rpc.get_server(messaging.Target(topic=cfg.CONF.scheduler_topic, server='s1'),
                            [Endpoint()])
    server.start()
    try:
        from blockstore.common import context
        uctx = context.RequestContext(user_id='u', project_id='p')
        scheduler_rpcapi.SchedulerAPI().update_service_capabilities(
            uctx, 'volume', 'h@b', {'pools': []})
        assert got.wait(10)
        assert seen['host'] == 'h@b' and seen['project'] == 'p'
    finally:
        server.stop()
        server.wait()
