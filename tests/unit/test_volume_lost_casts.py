"""A volume service redoes work whose cast never reached it, without waiting for a restart.

An API killed between claiming a delete (status and work record, one
transaction) and its cast leaves the volume 'deleting' with a record no
service claimed; the drill found such volumes stuck while the volume service
kept running. ``redo_lost_casts`` (a periodic task) redoes records unclaimed
for longer than ``service_down_time``; younger ones (their cast may still
come) and claimed ones (running) are left alone.
"""

import datetime

from oslo_config import cfg
import sqlalchemy as sa

from blockstore.db import api as db
from blockstore.db import models
from blockstore.db.models import utcnow
from blockstore import objects
from tests.unit import test_volume_manager as manager_tests
from tests.unit.test_volume_manager import _volume, _wait

CONF = cfg.CONF
mgr = manager_tests.mgr


def _created(ctx, mgr, name):
    v = _volume(ctx, mgr.host, name=name)
    update = mgr.driver.create_volume(v) or {}
    assert v.transition('create_done', **update)
    return v


def _age(ctx, volume_id, seconds):
    with db._writer(ctx) as session:
        session.execute(sa.update(models.Worker).where(models.Worker.resource_id == volume_id)
                        .values(created_at=utcnow() - datetime.timedelta(seconds=seconds),
                                updated_at=None))


def test_a_delete_whose_cast_was_lost_is_redone(mgr, ctx):
    mgr.init_host(ctx)
    lost, young, running = (_created(ctx, mgr, n) for n in ('lost', 'young', 'running'))
    for v in (lost, young, running):
        assert v.transition('delete')
    objects.Worker.record(ctx, 'volume', lost.id, 'delete', 'deleting')
    objects.Worker.record(ctx, 'volume', young.id, 'delete', 'deleting')
    objects.Worker.record(ctx, 'volume', running.id, 'delete', 'deleting',
                          service_id=mgr.service.id)
    _age(ctx, lost.id, CONF.service_down_time + 1)
    _age(ctx, running.id, CONF.service_down_time + 1)

    mgr.redo_lost_casts()
    get = objects.Volume.get_by_id
    assert _wait(lambda: get(ctx, lost.id, read_deleted=True).status, 'deleted') == 'deleted'
    assert get(ctx, young.id).status == 'deleting'
    assert get(ctx, running.id).status == 'deleting'
    assert db.worker_get_all(ctx, resource_id=lost.id) == []
    assert mgr.redo_lost_casts in [fn for fn, _spacing in mgr.periodic_tasks()]
