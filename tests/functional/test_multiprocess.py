"""API, scheduler and volume service as separate processes on MariaDB/PostgreSQL + RabbitMQ.

Proves the distributed shape: a volume created through the REST API reaches
'available' and its bytes exist on disk; a volume service killed with SIGKILL
in the middle of a create is restarted and finishes the work (no volume stays
'creating'); messages sent while it was down are processed after restart.
"""

import os
import time

import pytest

from tests.fixtures import database as dbfix
from tests.fixtures import deployment as depfix

GiB = 1024 ** 3


def _require_rabbit():
    if not depfix.port_open('127.0.0.1', 5672):
        msg = 'RabbitMQ is not listening on 127.0.0.1:5672 (start it: see .ci/run)'
        if dbfix.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def deployment(request, tmp_path_factory):
    _require_rabbit()
    db = dbfix.Database(request.param)
    dbfix.create_or_skip(db)
    try:
        db.sync()
        db.dispose()
        dep = depfix.Deployment(
            tmp_path_factory.mktemp('deploy-%s' % request.param), db_url=db.url,
            transport_url=depfix.RABBIT_URL,
            volume_driver='tests.fixtures.slow_driver.SlowFileDriver')
        dep.write_config()
        for name in ('scheduler', 'volume', 'api'):
            dep.start(name)
        try:
            dep.wait_for_api()
            yield dep
        finally:
            dep.stop_all()
    finally:
        db.drop()


def _create(dep, name, size=1):
    r = dep.request('POST', '/volumes', body={'volume': {'size': size, 'name': name}},
                    expect=202)
    return r.json()['volume']['id']


def test_volume_reaches_available_with_bytes_on_disk(deployment):
    vid = _create(deployment, 'plain', size=2)
    deployment.wait_status('volume', vid, 'available')
    path = os.path.join(deployment.volumes_dir('file1'), 'volume-%s' % vid)
    assert os.path.getsize(path) == 2 * GiB
    body = deployment.request('GET', '/volumes/%s' % vid, expect=200).json()['volume']
    assert body['size'] == 2 and body['status'] == 'available'
    # Delete through the API: the file goes away and the volume disappears.
    deployment.request('DELETE', '/volumes/%s' % vid, expect=202)
    deployment.wait_status('volume', vid, 'gone')
    assert not os.path.exists(path)


def test_volume_service_killed_mid_create_recovers(deployment):
    dep = deployment
    vid = _create(dep, 'slow-crash')
    marker = os.path.join(dep.volumes_dir('file1'), '.stalled-%s' % vid)
    deadline = time.time() + 30
    while not os.path.exists(marker) and time.time() < deadline:
        time.sleep(0.1)
    assert os.path.exists(marker), 'the create never reached the driver'
    assert dep.request('GET', '/volumes/%s' % vid).json()['volume']['status'] == 'creating'

    dep.kill('volume')                     # SIGKILL while the driver is working
    # Work arriving while the service is down waits in its queue.
    queued = _create(dep, 'queued')
    time.sleep(1)
    assert dep.request('GET', '/volumes/%s' % queued).json()['volume']['status'] == 'creating'

    dep.start('volume')
    dep.wait_status('volume', vid, 'available', timeout=60)
    dep.wait_status('volume', queued, 'available', timeout=60)
    for v in (vid, queued):
        assert os.path.getsize(os.path.join(dep.volumes_dir('file1'), 'volume-%s' % v)) == GiB


def test_concurrent_creates_all_succeed(deployment):
    """Many creates at once: no 5xx (e.g. from a deadlock) and all become available."""
    from concurrent.futures import ThreadPoolExecutor
    # More volumes than Cinder's default quota (10): lift the project's limits.
    deployment.request('PUT', '/os-quota-sets/demo', project='admin', user='admin',
                       body={'quota_set': {'volumes': -1, 'gigabytes': -1}}, expect=200)

    def create(i):
        r = deployment.request('POST', '/volumes', body={'volume': {'size': 1,
                                                                    'name': 'burst-%d' % i}})
        return r.status_code, r.json()

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(create, range(48)))
    assert [code for code, _ in results] == [202] * 48, [b for c, b in results if c != 202][:3]
    ids = [body['volume']['id'] for _, body in results]
    for vid in ids:
        deployment.wait_status('volume', vid, 'available', timeout=90)
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(
            lambda vid: deployment.request('DELETE', '/volumes/%s' % vid).status_code, ids))
    assert codes == [202] * 48
    for vid in ids:
        deployment.wait_status('volume', vid, 'gone', timeout=90)


def test_sighup_resets_version_pins_and_services_keep_serving(deployment):
    """SIGHUP makes every service forget its cached RPC/object pins, nothing else."""
    import signal
    log = os.path.join(deployment.workdir, 'blockstore.log')

    def resets():
        with open(log, errors='replace') as f:
            return f.read().count('RPC and object version pins reset')

    deadline = time.time() + 30
    while time.time() < deadline:   # every service registered and heartbeating
        r = deployment.request('GET', '/os-services', project='admin', user='admin')
        states = {s['binary']: s['state'] for s in r.json().get('services', [])}
        if states.get('blockstore-scheduler') == 'up' and \
                states.get('blockstore-volume') == 'up':
            break
        time.sleep(0.3)
    before = resets()
    for name in ('api', 'scheduler', 'volume'):
        deployment.procs[name].send_signal(signal.SIGHUP)
    deadline = time.time() + 15
    while resets() < before + 3 and time.time() < deadline:
        time.sleep(0.2)
    assert resets() >= before + 3
    assert all(p.poll() is None for p in deployment.procs.values())
    vid = _create(deployment, 'after-hup')
    deployment.wait_status('volume', vid, 'available')
