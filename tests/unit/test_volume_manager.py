"""Volume manager: outcomes go through the transition table; lost work is redone."""

import os
import time
import types

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore import objects
from blockstore.volume import manager as vol_manager
from blockstore.volume import volume_types

GiB = 1024 ** 3


@pytest.fixture
def mgr(database, tmp_path, ctx):
    conf = types.SimpleNamespace(volume_driver='file', volume_backend_name='b1',
                                 file_volumes_dir=str(tmp_path / 'vols'), file_capacity_gb=100,
                                 reserved_percentage=0, max_over_subscription_ratio=20.0)
    host = 'node-%s@b1' % os.urandom(3).hex()
    m = vol_manager.VolumeManager(host, conf)
    svc = objects.Service(ctx, host=host, binary='blockstore-volume', topic='t',
                          report_count=0, disabled=False, frozen=False,
                          availability_zone='nova', replication_status='not-capable')
    svc.create()
    m.service = svc
    return m


def _volume(ctx, host, name='v', size=1, status=None):
    vt = volume_types.ensure_default_type(ctx)
    v = objects.Volume(ctx, project_id='p', user_id='u', size=size, display_name=name,
                       volume_type_id=vt.id, host=host + '#b1', attach_status='detached',
                       bootable=False, multiattach=False, use_quota=True, deleted=False,
                       metadata={}, admin_metadata={})
    v.create()
    return v


def _wait(fn, want, timeout=2.5):
    deadline = time.time() + timeout
    while fn() != want and time.time() < deadline:
        time.sleep(0.02)
    return fn()


def test_create_then_delete_through_transitions(mgr, ctx):
    mgr.init_host(ctx)
    v = _volume(ctx, mgr.host)
    objects.Worker.record(ctx, 'volume', v.id, 'create', 'creating')
    mgr.create_volume(ctx, v, {})
    v.refresh()
    assert v.status == 'available' and v.launched_at is not None
    assert os.path.getsize(v.provider_location) == GiB
    assert db.worker_get_all(ctx, resource_id=v.id) == []
    # A duplicate (late) create message is ignored: state is no longer 'creating'.
    mgr.create_volume(ctx, v, {})
    assert objects.Volume.get_by_id(ctx, v.id).status == 'available'

    assert v.transition('delete')
    mgr.delete_volume(ctx, v)
    assert not os.path.exists(v.provider_location)
    gone = objects.Volume.get_by_id(ctx, v.id, read_deleted=True)
    assert gone.deleted and gone.status == 'deleted'


def test_driver_failure_sets_error_and_records_message(mgr, ctx, monkeypatch):
    mgr.init_host(ctx)
    v = _volume(ctx, mgr.host)

    def boom(volume):
        raise RuntimeError('disk on fire')
    monkeypatch.setattr(mgr.driver, 'create_volume', boom)
    mgr.create_volume(ctx, v, {})
    assert objects.Volume.get_by_id(ctx, v.id).status == 'error'
    msgs = db.message_get_all(ctx, resource_uuid=v.id)
    assert msgs and 'disk on fire' in msgs[0].detail


def test_init_host_redoes_interrupted_work(mgr, ctx):
    """Work records left by a crash of this backend are claimed and finished."""
    creating = _volume(ctx, mgr.host, name='c')
    objects.Worker.record(ctx, 'volume', creating.id, 'create', 'creating',
                          service_id=mgr.service.id, payload={'request_spec': {}})
    extending = _volume(ctx, mgr.host, name='e')
    mgr.driver.do_setup(ctx)
    update = mgr.driver.create_volume(extending) or {}
    assert extending.transition('create_done', **update)
    assert extending.transition('extend')
    objects.Worker.record(ctx, 'volume', extending.id, 'extend', 'extending',
                          payload={'new_size': 3})
    other = _volume(ctx, 'elsewhere@b9', name='o')   # not this backend's: left alone
    objects.Worker.record(ctx, 'volume', other.id, 'create', 'creating')

    mgr.init_host(ctx)
    get = objects.Volume.get_by_id
    assert _wait(lambda: get(ctx, creating.id).status, 'available') == 'available'
    assert _wait(lambda: get(ctx, extending.id).status, 'available') == 'available'
    assert get(ctx, extending.id).size == 3
    assert os.path.getsize(get(ctx, extending.id).provider_location) == 3 * GiB
    assert get(ctx, other.id).status == 'creating'
    assert [w.resource_id for w in db.worker_get_all(ctx)] == [other.id]


def test_stale_work_record_is_dropped(mgr, ctx):
    v = _volume(ctx, mgr.host)
    assert v.transition('create_done')
    objects.Worker.record(ctx, 'volume', v.id, 'create', 'creating', service_id=mgr.service.id)
    mgr.init_host(ctx)
    assert db.worker_get_all(ctx, resource_id=v.id) == []
    assert objects.Volume.get_by_id(ctx, v.id).status == 'available'
