"""Scheduler manager: placement is recorded once, lost placements are swept up."""

import threading
import time

import pytest

from blockstore import objects
from blockstore.db import api as db
from blockstore.scheduler import manager as sched_manager
from blockstore.volume import volume_types


class Recorder:
    def __init__(self):
        self.calls = []

    def create_volume(self, ctx, volume, spec):
        self.calls.append((volume.id, volume.host))

    def publish_service_capabilities(self, ctx):
        pass


@pytest.fixture
def sched(database, ctx):
    m = sched_manager.SchedulerManager('sched-host')
    m.volume_rpcapi = Recorder()
    backend = 'node-%d@b1' % int(time.time() * 1e6)
    svc = db.service_create(ctx, {'host': backend, 'binary': 'blockstore-volume',
                                  'topic': 't', 'availability_zone': 'nova'})
    db.service_heartbeat(ctx, svc.id, {})
    m.update_service_capabilities(ctx, host=backend, capabilities={
        'volume_backend_name': 'b1', 'pools': [{
            'pool_name': 'b1', 'total_capacity_gb': 100, 'free_capacity_gb': 100,
            'thin_provisioning_support': False}]})
    m.backend = backend
    yield m
    db.service_destroy(ctx, svc.id)


def _volume(ctx, size=1):
    vt = volume_types.get_default(ctx)
    v = objects.Volume(ctx, project_id='p', size=size, volume_type_id=vt.id,
                       availability_zone='nova', attach_status='detached', bootable=False,
                       multiattach=False, use_quota=True, deleted=False, metadata={},
                       admin_metadata={})
    v.create()
    return v


def spec(v):
    return {'volume_id': v.id, 'size': v.size, 'availability_zone': 'nova',
            'volume_type': {'extra_specs': {}}}


def test_places_once_even_if_the_message_comes_twice(sched, ctx):
    v = _volume(ctx)
    sched.create_volume(ctx, v, spec(v))
    sched.create_volume(ctx, objects.Volume.get_by_id(ctx, v.id), spec(v))
    assert sched.volume_rpcapi.calls == [(v.id, sched.backend + '#b1')]
    assert objects.Volume.get_by_id(ctx, v.id).host == sched.backend + '#b1'


def test_no_valid_backend_sets_error_with_message(sched, ctx):
    v = _volume(ctx, size=500)
    sched.create_volume(ctx, v, spec(v))
    assert objects.Volume.get_by_id(ctx, v.id).status == 'error'
    assert 'CapacityFilter' in db.message_get_all(ctx, resource_uuid=v.id)[0].detail
    assert sched.volume_rpcapi.calls == []


def test_concurrent_creates_consume_capacity(sched, ctx):
    vols = [_volume(ctx, size=30) for _ in range(5)]
    threads = [threading.Thread(target=sched.create_volume, args=(ctx, v, spec(v)))
               for v in vols]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    placed = [objects.Volume.get_by_id(ctx, v.id) for v in vols]
    assert sum(1 for v in placed if v.host) == 3        # 3 x 30 GiB fit in 100 GiB
    assert sum(1 for v in placed if v.status == 'error') == 2


def test_sweep_places_creates_whose_scheduling_was_lost(sched, ctx):
    lost = _volume(ctx)
    objects.Worker.record(ctx, 'volume', lost.id, 'create', 'creating',
                          payload={'request_spec': spec(lost)})
    sched._sweep_unplaced(ctx)
    assert objects.Volume.get_by_id(ctx, lost.id).host == sched.backend + '#b1'
    assert (lost.id, sched.backend + '#b1') in sched.volume_rpcapi.calls


def test_creates_from_images_go_only_to_backends_declaring_image_ops(sched, ctx):
    v = _volume(ctx)
    sched.create_volume(ctx, v, dict(spec(v), image_id='img-1'))
    assert objects.Volume.get_by_id(ctx, v.id).status == 'error'
    assert 'ImageOps' in db.message_get_all(ctx, resource_uuid=v.id)[0].detail
    sched.update_service_capabilities(ctx, host=sched.backend, capabilities={
        'volume_backend_name': 'b1', 'declared_interfaces': ['VolumeDriver', 'ImageOps'],
        'pools': [{'pool_name': 'b1', 'total_capacity_gb': 100, 'free_capacity_gb': 100}]})
    v = _volume(ctx)
    sched.create_volume(ctx, v, dict(spec(v), image_id='img-1'))
    assert sched.volume_rpcapi.calls == [(v.id, sched.backend + '#b1')]
