"""RPC 1.5 of the volume service: extending attached volumes is refused while an N-1
(1.4) volume service runs (it would leave the volume 'available'); plain extends still go."""

import pytest

from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore import objects
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)

objects.register_all()


def test_attached_extend_needs_rpc_1_5(ctx):
    rpc.init()
    svc = db.service_create(ctx, {'host': 'a@lvm1', 'binary': 'blockstore-volume',
                                  'topic': 'blockstore-volume', 'rpc_current_version': '1.4',
                                  'object_current_version': '1.0'})
    api = volume_rpcapi.VolumeAPI()
    assert api.version_cap == '1.4'
    volume = objects.Volume(ctx, id='6f3b2a10-0000-4000-8000-000000000001',
                            host='a@lvm1#lvm1')
    with pytest.raises(exception.ServiceTooOld) as info:
        api.extend_volume(ctx, volume, 2, attached=True)
    assert 'cannot extend attached volumes' in str(info.value)
    with pytest.raises(exception.ServiceTooOld):
        api.require_attached_extend()
    api.extend_volume(ctx, volume, 2)          # an available volume: 1.0 is enough

    db.service_update(ctx, svc.id, {'rpc_current_version': '1.5'})   # upgraded
    rpc.reset_pins()                                                   # SIGHUP
    api = volume_rpcapi.VolumeAPI()
    api.require_attached_extend()
    api.extend_volume(ctx, volume, 2, attached=True)
