"""A restart delays placement instead of failing it.

Creates that reach a scheduler which has just started, or that find the only
volume service briefly down (restarting), wait for its capability report and
are placed when it comes; a create for which no volume service can come back
still fails at once, and a waiting one fails when its wait is over. Every
test runs the real scheduler manager on a real (SQLite) services table; only
the volume RPC client records what it would send.
"""

import datetime
import time

from oslo_config import cfg
import pytest

from blockstore import objects
from blockstore.db import api as db
from blockstore.db.models import utcnow
from blockstore.scheduler import manager as sched_manager
from tests.unit.scheduler.test_manager import Recorder, _volume, spec

CONF = cfg.CONF


def _caps(free=100):
    return {'volume_backend_name': 'b1', 'pools': [{
        'pool_name': 'b1', 'total_capacity_gb': free, 'free_capacity_gb': free,
        'thin_provisioning_support': False}]}


@pytest.fixture
def services(database, ctx):
    """Volume service rows (backend -> id), removed after the test."""
    made = {}

    def add(seen_ago=0.0):
        backend = 'node-%d@b1' % int(time.time() * 1e6)
        svc = db.service_create(ctx, {'host': backend, 'binary': 'blockstore-volume',
                                      'topic': 't', 'availability_zone': 'nova'})
        seen(svc.id, seen_ago)
        made[backend] = svc.id
        return backend

    def seen(service_id, ago):
        db.service_update(ctx, service_id, {
            'last_seen_at': utcnow() - datetime.timedelta(seconds=ago)})

    add.seen = lambda backend, ago=0.0: seen(made[backend], ago)
    yield add
    for service_id in made.values():
        db.service_destroy(ctx, service_id)


@pytest.fixture
def down_time():
    CONF.set_override('service_down_time', 1)
    CONF.set_override('periodic_interval', 1)
    yield 1
    CONF.clear_override('service_down_time')
    CONF.clear_override('periodic_interval')


def _scheduler(age=0.0):
    m = sched_manager.SchedulerManager('sched-host')
    m.volume_rpcapi = Recorder()
    m._started -= age   # as if it had started ``age`` seconds ago
    return m


def _wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _status(ctx, vid):
    return objects.Volume.get_by_id(ctx, vid).status


def test_fresh_scheduler_places_a_create_when_the_first_report_arrives(ctx, services,
                                                                       down_time):
    backend = services()
    sched = _scheduler()
    v = _volume(ctx)
    sched.create_volume(ctx, v, spec(v))     # returns at once: parked, not failed
    assert _status(ctx, v.id) == 'creating'
    assert sched.volume_rpcapi.calls == []
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    assert _wait_for(lambda: sched.volume_rpcapi.calls)
    assert sched.volume_rpcapi.calls == [(v.id, backend + '#b1')]
    assert objects.Volume.get_by_id(ctx, v.id).host == backend + '#b1'


def test_create_waits_while_the_only_volume_service_restarts(ctx, services, down_time):
    """Its heartbeat is older than service_down_time (it is restarting): wait, then place."""
    backend = services()
    sched = _scheduler(age=60)
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    services.seen(backend, ago=1.5 * down_time)     # killed a moment ago
    v = _volume(ctx)
    sched.create_volume(ctx, v, spec(v))
    assert _status(ctx, v.id) == 'creating'
    # Back: it heartbeats and reports as it starts.
    services.seen(backend)
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    assert _wait_for(lambda: sched.volume_rpcapi.calls)
    assert sched.volume_rpcapi.calls == [(v.id, backend + '#b1')]


def test_parked_create_fails_when_its_wait_is_over(ctx, services, down_time, monkeypatch):
    monkeypatch.setattr(sched_manager, 'RECENTLY_SEEN', 2)   # a wait of 2 s
    backend = services(seen_ago=1.5 * down_time)
    sched = _scheduler(age=60)
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    v = _volume(ctx)
    started = time.monotonic()
    sched.create_volume(ctx, v, spec(v))
    assert _status(ctx, v.id) == 'creating'
    assert _wait_for(lambda: _status(ctx, v.id) == 'error', timeout=2 * down_time + 5)
    assert time.monotonic() - started >= 2 * down_time - 0.5
    assert 'No volume service is up and reporting' in \
        db.message_get_all(ctx, resource_uuid=v.id)[0].detail
    assert sched.volume_rpcapi.calls == []


def test_no_wait_when_no_volume_service_can_come_back(ctx, services, down_time):
    backend = services(seen_ago=10 * down_time)     # gone long ago
    sched = _scheduler(age=60)
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    v = _volume(ctx)
    sched.create_volume(ctx, v, spec(v))
    assert _status(ctx, v.id) == 'error'


def test_no_wait_when_every_service_reported_and_none_fits(ctx, services, down_time):
    backend = services()
    sched = _scheduler()
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps(free=10))
    v = _volume(ctx, size=50)
    sched.create_volume(ctx, v, spec(v))
    assert _status(ctx, v.id) == 'error'
    assert 'CapacityFilter' in db.message_get_all(ctx, resource_uuid=v.id)[0].detail


def test_fresh_scheduler_waits_for_every_up_service_before_refusing(ctx, services,
                                                                   down_time):
    small, big = services(), services()
    sched = _scheduler()
    sched.update_service_capabilities(ctx, host=small, capabilities=_caps(free=10))
    v = _volume(ctx, size=50)
    sched.create_volume(ctx, v, spec(v))     # does not fit the one that reported yet
    assert _status(ctx, v.id) == 'creating'
    sched.update_service_capabilities(ctx, host=big, capabilities=_caps(free=100))
    assert _wait_for(lambda: sched.volume_rpcapi.calls)
    assert sched.volume_rpcapi.calls == [(v.id, big + '#b1')]


def test_parked_create_deleted_meanwhile_is_not_handed_over(ctx, services, down_time):
    from blockstore.objects import states
    backend = services()
    sched = _scheduler()
    v = _volume(ctx)
    sched.create_volume(ctx, v, spec(v))
    assert states.transition(ctx, 'volume', v.id, 'force_delete')
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    assert _wait_for(lambda: not sched._parked and sched._waiter is None)
    assert sched.volume_rpcapi.calls == []


def test_periodic_sweep_places_a_create_whose_api_died_before_its_cast(ctx, services,
                                                                       down_time):
    """Inserted with its work record, never cast: placed once it is older than the
    service-down time; a younger one (its cast may be on the way) is left alone."""
    backend = services()
    sched = _scheduler(age=60)
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    lost, young = _volume(ctx), _volume(ctx)
    for v in (lost, young):
        objects.Worker.record(ctx, 'volume', v.id, 'create', 'creating',
                              payload={'request_spec': spec(v)})
    db.volume_update(ctx, lost.id, {
        'created_at': utcnow() - datetime.timedelta(seconds=down_time + 1)})
    sched._sweep_lost_creates()
    assert sched.volume_rpcapi.calls == [(lost.id, backend + '#b1')]
    assert objects.Volume.get_by_id(ctx, young.id).host is None
    assert sched.periodic_tasks() == [(sched._sweep_lost_creates, CONF.periodic_interval)]


def test_a_report_arriving_while_a_create_found_no_pool_is_used(ctx, services, down_time):
    """The drill's case: the report came between the failed attempt and the decision."""
    backend = services()
    sched = _scheduler(age=60)       # not young: nothing else would make it wait
    services.seen(backend, ago=10 * down_time)
    real = sched._place
    attempts = []

    def place(context, spec):
        attempts.append(1)
        if len(attempts) == 1:
            try:
                return real(context, spec)
            finally:
                services.seen(backend)
                sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
        return real(context, spec)
    sched._place = place
    v = _volume(ctx)
    sched.create_volume(ctx, v, spec(v))
    assert len(attempts) == 2
    assert sched.volume_rpcapi.calls == [(v.id, backend + '#b1')]


def test_create_waits_while_heartbeats_are_held_up_by_a_broker_restart(ctx, services,
                                                                      down_time):
    """The drill on PostgreSQL: a 15 s broker restart held the volume service's heartbeats
    up for longer than two service-down times; it comes back as soon as the broker does."""
    backend = services()
    sched = _scheduler(age=60)
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    services.seen(backend, ago=3 * down_time)
    v = _volume(ctx)
    sched.create_volume(ctx, v, spec(v))
    assert _status(ctx, v.id) == 'creating'
    services.seen(backend)
    sched.update_service_capabilities(ctx, host=backend, capabilities=_caps())
    assert _wait_for(lambda: sched.volume_rpcapi.calls)
    assert sched.volume_rpcapi.calls == [(v.id, backend + '#b1')]
