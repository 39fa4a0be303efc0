"""Creates during a restart are placed late, not failed (separate processes, MariaDB/PostgreSQL).

API, scheduler and volume service run as processes on RabbitMQ (the
deployment fixture: report_interval 1, periodic_interval 2,
service_down_time 6). A create that reaches a scheduler which has just
started, or that arrives while the only volume service is down and
restarting, used to end in ``error`` at once ("No valid backend ... No
volume service is up and reporting"); it must wait for the service's report
and reach ``available``.
"""

import signal
import time

import pytest

from tests.fixtures import database as dbfix
from tests.fixtures import deployment as depfix
from tests.functional.test_multiprocess import _create, _require_rabbit

DOWN_TIME = 6   # the fixture's service_down_time


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def deployment(request, tmp_path_factory):
    _require_rabbit()
    db = dbfix.Database(request.param)
    dbfix.create_or_skip(db)
    try:
        db.sync()
        db.dispose()
        dep = depfix.Deployment(tmp_path_factory.mktemp('restart-%s' % request.param),
                                db_url=db.url, transport_url=depfix.RABBIT_URL)
        dep.write_config()
        for name in ('scheduler', 'volume', 'api'):
            dep.start(name)
        try:
            dep.wait_for_api()
            vid = _create(dep, 'warm-up')
            dep.wait_status('volume', vid, 'available')
            yield dep
        finally:
            dep.stop_all()
    finally:
        db.drop()


def _status(dep, vid):
    return dep.request('GET', '/volumes/%s' % vid, expect=200).json()['volume']['status']


def _messages(dep, vid):
    r = dep.request('GET', '/messages?resource_uuid=%s' % vid, version='3.5')
    return [m.get('user_message') for m in r.json().get('messages', [])]


def _all_available(dep, vids, timeout=60):
    for vid in vids:
        try:
            dep.wait_status('volume', vid, 'available', timeout=timeout)
        except AssertionError:
            raise AssertionError('volume %s is %s: %s' % (vid, _status(dep, vid),
                                                          _messages(dep, vid))) from None


def test_creates_reaching_a_restarted_scheduler_before_any_report(deployment):
    """The scheduler restarts while the volume service is down too: nobody has reported."""
    dep = deployment
    dep.kill('volume', signal.SIGKILL)
    dep.kill('scheduler', signal.SIGKILL)
    dep.start('scheduler')
    vids = [_create(dep, 'after-scheduler-restart-%d' % i) for i in range(3)]
    # Longer than a scheduler once waited for a first report (5 s) after it started.
    time.sleep(9)
    assert [_status(dep, v) for v in vids] == ['creating'] * 3
    dep.start('volume')
    _all_available(dep, vids)


def test_create_while_the_only_volume_service_restarts(deployment):
    """Its heartbeat is older than service_down_time when the create arrives."""
    dep = deployment
    dep.kill('volume', signal.SIGKILL)
    time.sleep(DOWN_TIME + 1)
    vid = _create(dep, 'during-volume-restart')
    dep.start('volume')
    time.sleep(0.5)
    assert _status(dep, vid) == 'creating'
    _all_available(dep, [vid])
