"""RPC 1.7 of the volume service: migrations (and on-demand retypes) are refused while an
older volume service runs; it has no migrate_volume. Volume 1.2 (_name_id) is dropped for
1.1 peers."""

import pytest

from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import base
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)

objects.register_all()


def test_migration_needs_rpc_1_7(ctx):
    rpc.init()
    svc = db.service_create(ctx, {'host': 'a@lvm1', 'binary': 'blockstore-volume',
                                  'topic': 'blockstore-volume', 'rpc_current_version': '1.5',
                                  'object_current_version': '1.1'})
    api = volume_rpcapi.VolumeAPI()
    assert api.version_cap == '1.5'
    volume = objects.Volume(ctx, id='6f3b2a10-0000-4000-8000-000000000002',
                            host='a@lvm1#lvm1')
    with pytest.raises(exception.ServiceTooOld) as info:
        api.migrate_volume(ctx, volume, {'host': 'a@lvm2#lvm2'})
    assert 'cannot migrate volumes' in str(info.value)

    db.service_update(ctx, svc.id, {'rpc_current_version': '1.7'})   # upgraded
    rpc.reset_pins()
    volume_rpcapi.VolumeAPI().require_migration()


def test_volume_1_1_peers_do_not_get_name_id(ctx):
    vol = objects.Volume(ctx, id='6f3b2a10-0000-4000-8000-000000000003',
                         _name_id='6f3b2a10-0000-4000-8000-000000000004')
    assert vol.name == 'volume-6f3b2a10-0000-4000-8000-000000000004'
    old = base.BlockstoreObjectSerializer('1.1').serialize_entity(None, vol)
    assert '_name_id' not in old['blockstore_object.data']
    new = base.BlockstoreObjectSerializer('1.2').serialize_entity(None, vol)
    assert new['blockstore_object.data']['_name_id'] == vol._name_id
