"""A service's heartbeat does not wait for its periodic tasks: a task that blocks (a
capability report cast while the broker is down) must not make the service look down."""

import threading
import time
import uuid

from blockstore.common import rpc
from blockstore.common import service
from blockstore.db import api as db


def test_heartbeats_go_on_while_a_periodic_task_blocks(database, ctx):
    rpc.init()
    release = threading.Event()
    blocked = threading.Event()

    class Manager(service.Manager):
        def periodic_tasks(self):
            def report():
                blocked.set()
                release.wait(30)
            return [(report, 0.05)]

    host = 'hb-%s@file1' % uuid.uuid4().hex[:8]
    svc = service.Service('blockstore-volume', host, 'bs-unit-hb-%s' % uuid.uuid4().hex[:8],
                          Manager(host, 'blockstore-volume'))
    svc.report_interval = 0.1
    svc.start()
    try:
        assert blocked.wait(10), 'the periodic task never ran'
        first = db.service_get_all(ctx, host=host)[0].report_count
        time.sleep(0.6)
        later = db.service_get_all(ctx, host=host)[0].report_count
        assert later >= first + 3, (first, later)
    finally:
        release.set()
        svc.stop()


def test_a_stopped_service_heartbeats_no_more(database, ctx):
    rpc.init()
    host = 'hb-%s@file1' % uuid.uuid4().hex[:8]
    svc = service.Service('blockstore-volume', host, 'bs-unit-hb-%s' % uuid.uuid4().hex[:8],
                          service.Manager(host, 'blockstore-volume'))
    svc.report_interval = 0.05
    svc.start()
    try:
        time.sleep(0.3)
    finally:
        svc.stop()
    stopped = db.service_get_all(ctx, host=host)[0].report_count
    time.sleep(0.3)
    assert db.service_get_all(ctx, host=host)[0].report_count == stopped
