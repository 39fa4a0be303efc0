"""RPC 1.6 of the volume service: image data (create from an image, upload, reimage) is
refused while an N-1 (1.5) volume service runs; it would create the volume empty or not
know the methods."""

import pytest

from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore import objects
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)

objects.register_all()


def test_image_methods_need_rpc_1_6(ctx):
    rpc.init()
    svc = db.service_create(ctx, {'host': 'a@lvm1', 'binary': 'blockstore-volume',
                                  'topic': 'blockstore-volume', 'rpc_current_version': '1.5',
                                  'object_current_version': '1.0'})
    api = volume_rpcapi.VolumeAPI()
    assert api.version_cap == '1.5'
    volume = objects.Volume(ctx, id='6f3b2a10-0000-4000-8000-000000000002',
                            host='a@lvm1#lvm1')
    meta = {'id': '6f3b2a10-0000-4000-8000-00000000000a'}
    for call, words in ((lambda: api.copy_volume_to_image(ctx, volume, meta), 'upload'),
                        (lambda: api.reimage(ctx, volume, meta, True), 'reimage'),
                        (lambda: api.require_images('create volumes from images'), 'create')):
        with pytest.raises(exception.ServiceTooOld) as info:
            call()
        assert words in str(info.value) and '1.6' in str(info.value)

    db.service_update(ctx, svc.id, {'rpc_current_version': '1.6'})   # upgraded
    rpc.reset_pins()                                                   # SIGHUP
    api = volume_rpcapi.VolumeAPI()
    api.require_images('create volumes from images')
    api.copy_volume_to_image(ctx, volume, meta)
    api.reimage(ctx, volume, meta, False)
