"""An Active/Active cluster: two volume services (two hosts, one backend name, one
``cluster``) on ONE shared file-backend directory, with an API and a scheduler, on
MariaDB/PostgreSQL + RabbitMQ, locks in Redis (tooz).

Proves: creates reach both members through the cluster's queue; a member
SIGKILLed while it does slow work (creates, extends, deletes, snapshots) is
taken over by its peer without the operator (nothing stays in a transitional
state); the killed member, restarted, does not redo what its peer finished;
the clusters API (3.7) and os-services show the state.
"""

import os
import re
import signal
import time

import pytest

from tests.fixtures import database as dbfix
from tests.fixtures import deployment as depfix
from tests.fixtures.cluster import Cluster, PrivateRedis

GiB = 1024 ** 3
REDIS = ('127.0.0.1', 6379)
# Short enough for a quick takeover: a SIGKILLed member's locks expire after it.
LOCK_TIMEOUT = 6
# How long the API waits for a member to answer a connection call (a detach).
RPC_TIMEOUT = 10
CONNECTOR = {'initiator': 'iqn.1993-08.org.debian:01:cluster-host', 'host': 'cluster-host',
             'ip': '127.0.0.1', 'platform': 'x86_64', 'os_type': 'linux', 'multipath': False}


def _require(host, port, what):
    if not depfix.port_open(host, port):
        msg = '%s is not listening on %s:%d (start it: see .ci/run)' % (what, host, port)
        if dbfix.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def cluster(request, tmp_path_factory):
    _require('127.0.0.1', 5672, 'RabbitMQ')
    _require(*REDIS, what='Redis')
    db = dbfix.Database(request.param)
    dbfix.create_or_skip(db)
    try:
        db.sync()
        workdir = tmp_path_factory.mktemp('cluster-%s' % request.param)
        dep = depfix.Deployment(workdir, db_url=db.url, transport_url=depfix.RABBIT_URL,
                                volume_driver='tests.fixtures.stall_driver.StallingExportingFileDriver')
        name = 'cl-%s' % dep.uid
        dep.extra_conf = ('[DEFAULT]\ncluster = %s\nvolume_connection_timeout = %d\n'
                          '[coordination]\nbackend_url = redis://%s:%d?namespace=bs-%s'
                          '&lock_timeout=%d\n' % (name, RPC_TIMEOUT, REDIS[0], REDIS[1],
                                                  dep.uid, LOCK_TIMEOUT))
        dep.write_config()
        c = Cluster(dep, db, '%s@file1' % name)
        c.write_member_configs()
        dep.start('scheduler')
        c.start_member('volume-a', stall=True)
        c.start_member('volume-b')
        dep.start('api')
        try:
            dep.wait_for_api()
            c.wait_members(set(c.members.values()))
            # More volumes than Cinder's default quota (10) over the module's tests.
            c.admin('PUT', '/os-quota-sets/demo', expect=200, body={'quota_set': {
                'volumes': -1, 'gigabytes': -1, 'snapshots': -1}})
            yield c
        finally:
            for proc in dep.procs.values():   # all stop at once, then each is waited for
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            dep.stop_all()
            db.dispose()
    finally:
        db.drop()


def _create(dep, name, size=1):
    r = dep.request('POST', '/volumes', body={'volume': {'size': size, 'name': name}},
                    expect=202)
    return r.json()['volume']['id']


def _path(dep, vid):
    return os.path.join(dep.volumes_dir('file1'), 'volume-%s' % vid)


def test_the_cluster_and_its_members_are_shown(cluster):
    c = cluster.cluster()
    assert c['binary'] in ('blockstore-volume', 'cinder-volume')
    assert (c['state'], c['status']) == ('up', 'enabled')
    assert (c['num_hosts'], c['num_down_hosts']) == (2, 0)
    services = cluster.services()
    for host in cluster.members.values():
        shown = services['%s@file1' % host]
        # backend_state (3.49) for both, though the scheduler lists the pool once.
        assert (shown['cluster'], shown['state'], shown['backend_state']) == (
            cluster.name, 'up', 'up'), shown


def test_creates_land_on_both_members_through_the_cluster_queue(cluster):
    dep = cluster.dep
    ids = [_create(dep, 'spread-%d' % i) for i in range(10)]
    for vid in ids:
        dep.wait_status('volume', vid, 'available', timeout=60)
    workers = {cluster.worked_on_by(vid) for vid in ids}
    assert workers == {'volume-a', 'volume-b'}, workers
    shown = cluster.admin('GET', '/volumes/%s' % ids[0], expect=200).json()['volume']
    assert shown['cluster_name'] == cluster.name + '#file1'
    # Later operations go to the queue too: deletes, whichever member made the volume.
    for vid in ids:
        dep.request('DELETE', '/volumes/%s' % vid, expect=202)
    for vid in ids:
        dep.wait_status('volume', vid, 'gone', timeout=60)
        assert not os.path.exists(_path(dep, vid))


def test_a_killed_member_s_work_is_finished_by_its_peer(cluster):
    dep = cluster.dep
    vid = _create(dep, 'slow-takeover')
    marker = os.path.join(dep.volumes_dir('file1'), '.stalled-%s' % vid)
    deadline = time.time() + 30
    while not os.path.exists(marker) and time.time() < deadline:
        time.sleep(0.1)
    assert os.path.exists(marker), 'the create never reached a driver'
    with open(marker) as f:
        pid = int(f.read())
    victim = next(p for p, proc in dep.procs.items() if proc.pid == pid)
    assert victim in cluster.members
    peer = next(p for p in cluster.members if p != victim)
    assert dep.request('GET', '/volumes/%s' % vid).json()['volume']['status'] == 'creating'

    killed_at = time.time()
    dep.kill(victim)                                   # SIGKILL mid-create
    # Work arriving meanwhile is served by the peer through the cluster queue.
    during = [_create(dep, 'during-%d' % i) for i in range(3)]
    for v in during:
        dep.wait_status('volume', v, 'available', timeout=60)
        assert cluster.worked_on_by(v) == peer

    # No operator: the peer sees the member down and finishes its create.
    dep.wait_status('volume', vid, 'available', timeout=90)
    took = time.time() - killed_at
    assert os.path.getsize(_path(dep, vid)) == GiB
    assert cluster.worked_on_by(vid) == peer
    assert cluster.work_records(vid) == []
    assert 'Takeover: %s@file1 is down' % cluster.members[victim] in cluster.log(peer)
    c = cluster.cluster()
    assert (c['state'], c['num_hosts'], c['num_down_hosts']) == ('up', 2, 1)
    print('takeover finished %.1f s after the SIGKILL' % took)

    # The killed member comes back: it does not redo what the peer finished.
    before = len(cluster.log(victim))
    cluster.start_member(victim)
    cluster.wait_members(set(cluster.members.values()))
    time.sleep(3)   # a few of its periodic rounds
    after = cluster.log(victim)[before:]
    assert 'Started blockstore-volume' in after
    assert not re.search(r'Redoing interrupted \w+ of volume %s' % vid, after), after[-3000:]
    assert cluster.worked_on_by(vid) == peer
    assert cluster.cluster()['num_down_hosts'] == 0
    # And the volume is usable through the cluster: delete it and the others.
    for v in [vid] + during:
        dep.request('DELETE', '/volumes/%s' % v, expect=202)
    for v in [vid] + during:
        dep.wait_status('volume', v, 'gone', timeout=60)
        assert not os.path.exists(_path(dep, v))


def _status(dep, kind, rid):
    r = dep.request('GET', '/%ss/%s' % (kind, rid))
    return 'gone' if r.status_code == 404 else r.json()[kind]['status']


def test_every_operation_of_a_killed_member_is_finished_by_its_peer(cluster):
    """volume-a stalls stall-* operations: the ones the queue gives it are in flight when
    it is SIGKILLed; volume-b finishes all of them."""
    dep = cluster.dep
    n = 3
    extend = [_create(dep, 'stall-extend-%d' % i) for i in range(n)]
    delete = [_create(dep, 'stall-delete-%d' % i) for i in range(n)]
    bases = [_create(dep, 'snapbase-%d' % i) for i in range(n)]
    for vid in extend + delete + bases:
        dep.wait_status('volume', vid, 'available', timeout=60)

    # Now the work, spread by the queue over both members.
    created = [_create(dep, 'stall-create-%d' % i) for i in range(n)]
    for vid in extend:
        dep.request('POST', '/volumes/%s/action' % vid, body={'os-extend': {'new_size': 2}},
                    expect=202)
    for vid in delete:
        dep.request('DELETE', '/volumes/%s' % vid, expect=202)
    snaps = [dep.request('POST', '/snapshots', expect=202, body={'snapshot': {
        'volume_id': vid, 'name': 'stall-snap-%d' % i}}).json()['snapshot']['id']
        for i, vid in enumerate(bases)]
    want = ([('volume', v, 'available') for v in created + extend]
            + [('volume', v, 'gone') for v in delete]
            + [('snapshot', s, 'available') for s in snaps])

    markers = {'.stalled-%s-%s' % (op, rid) for op, ids in (
        ('create', created), ('extend', extend), ('delete', delete), ('snapshot', snaps))
        for rid in ids}

    def stalled():
        return sorted(markers & set(os.listdir(dep.volumes_dir('file1'))))

    # Each operation is either done (volume-b) or stalled (volume-a): wait for that.
    deadline = time.time() + 60
    while time.time() < deadline:
        done = [w for w in want if _status(dep, w[0], w[1]) == w[2]]
        if len(done) + len(stalled()) >= len(want):
            break
        time.sleep(0.3)
    in_flight = stalled()
    assert in_flight, 'volume-a got none of the work: nothing to take over'
    assert len(done) + len(in_flight) == len(want), (done, in_flight)

    killed_at = time.time()
    dep.kill('volume-a')
    for kind, rid, status in want:
        assert cluster.dep.wait_status(kind, rid, status, timeout=90) == status
    took = time.time() - killed_at
    for vid in created:
        assert os.path.getsize(_path(dep, vid)) == GiB
    for vid in extend:
        assert os.path.getsize(_path(dep, vid)) == 2 * GiB
    for vid in delete:
        assert not os.path.exists(_path(dep, vid))
    for sid in snaps:
        assert os.path.exists(os.path.join(dep.volumes_dir('file1'), 'snapshot-%s' % sid))
    for _kind, rid, _want in want:
        assert cluster.work_records(rid) == []
    print('%d operations in flight on the killed member, all finished %.1f s after it'
          % (len(in_flight), took))

    before = len(cluster.log('volume-a'))
    cluster.start_member('volume-a', stall=False)
    cluster.wait_members(set(cluster.members.values()))
    time.sleep(3)
    after = cluster.log('volume-a')[before:]
    assert 'Started blockstore-volume' in after
    redone = [rid for _k, rid, _w in want
              if re.search(r'Redoing interrupted \w+ of \w+ %s' % rid, after)]
    assert redone == [], after[-3000:]

    for sid in snaps:
        dep.request('DELETE', '/snapshots/%s' % sid, expect=202)
    for sid in snaps:
        dep.wait_status('snapshot', sid, 'gone', timeout=60)
    for vid in created + extend + bases:
        dep.request('DELETE', '/volumes/%s' % vid, expect=202)
    for vid in created + extend + bases:
        dep.wait_status('volume', vid, 'gone', timeout=60)


def _export(dep, vid):
    """The initiators the driver's export of ``vid`` lets in, or None (not exported)."""
    try:
        with open(os.path.join(dep.volumes_dir('file1'), '.export-%s' % vid)) as f:
            return f.read().split()
    except FileNotFoundError:
        return None


def test_a_detach_held_by_a_killed_member_is_finished_by_its_peer(cluster):
    """The export state of the dead node: its detach (terminate_connection) in flight is
    redone by the peer, which removes the export and settles the volume."""
    from concurrent.futures import ThreadPoolExecutor
    dep = cluster.dep
    vid = _create(dep, 'stall-terminate-1')
    dep.wait_status('volume', vid, 'available', timeout=60)
    att = dep.request('POST', '/attachments', expect=200, body={'attachment': {
        'volume_uuid': vid, 'connector': CONNECTOR,
        'instance_uuid': '00000000-0000-4000-8000-00000000c1a5'}}).json()['attachment']
    dep.request('POST', '/attachments/%s/action' % att['id'], expect=204,
                body={'os-complete': {}})
    assert _status(dep, 'volume', vid) == 'in-use'
    assert _export(dep, vid) == [CONNECTOR['initiator']]

    marker = os.path.join(dep.volumes_dir('file1'), '.stalled-terminate-%s' % vid)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(dep.request, 'DELETE', '/attachments/%s' % att['id'],
                              timeout=RPC_TIMEOUT * 6)
        deadline = time.time() + 30
        while not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.1)
        assert os.path.exists(marker), 'the detach never reached a driver'
        with open(marker) as f:
            pid = int(f.read())
        victim = next(p for p, proc in dep.procs.items() if proc.pid == pid)
        peer = next(p for p in cluster.members if p != victim)
        dep.kill(victim)
        dep.wait_status('volume', vid, 'available', timeout=90)
        answer = pending.result()
    # The API's call went to the dead member: it times out (a 503 to retry, saying so),
    # but the detach is done.
    assert answer.status_code in (200, 503), answer.text
    assert dep.request('GET', '/attachments/%s' % att['id']).status_code == 404
    assert _export(dep, vid) is None
    assert cluster.work_records(att['id']) == []
    assert 'redoes detach of attachment %s' % att['id'] in cluster.log(peer)

    cluster.start_member(victim)
    cluster.wait_members(set(cluster.members.values()))
    dep.request('DELETE', '/volumes/%s' % vid, expect=202)
    dep.wait_status('volume', vid, 'gone', timeout=60)


# -- the lock service restarting ------------------------------------------------------------------

def test_work_waits_for_a_restarting_lock_service(tmp_path):
    """Redis down when an operation needs its lock: the operation waits, then finishes."""
    _require('127.0.0.1', 5672, 'RabbitMQ')
    redis = PrivateRedis(tmp_path)
    if not redis.available():
        pytest.skip('redis-server is not installed (needed to restart a lock service)')
    redis.start()
    db = dbfix.Database('mysql')
    dbfix.create_or_skip(db)
    dep = None
    try:
        db.sync()
        dep = depfix.Deployment(tmp_path / 'dep', db_url=db.url,
                                transport_url=depfix.RABBIT_URL,
                                extra_conf='[DEFAULT]\ncluster = cl-lock\n[coordination]\n'
                                           'backend_url = redis://127.0.0.1:%d\n' % redis.port)
        os.makedirs(dep.workdir, exist_ok=True)
        dep.write_config()
        for name in ('scheduler', 'volume', 'api'):
            dep.start(name)
        dep.wait_for_api()
        vid = _create(dep, 'before')
        dep.wait_status('volume', vid, 'available', timeout=60)

        redis.kill()
        during = _create(dep, 'while-redis-is-down')
        time.sleep(8)
        assert _status(dep, 'volume', during) == 'creating'
        redis.start()                                  # same port, empty: no locks held
        dep.wait_status('volume', during, 'available', timeout=60)
        assert os.path.getsize(_path(dep, during)) == GiB
        for v in (vid, during):
            dep.request('DELETE', '/volumes/%s' % v, expect=202)
        for v in (vid, during):
            dep.wait_status('volume', v, 'gone', timeout=60)
    finally:
        if dep is not None:
            dep.stop_all()
        redis.kill()
        db.dispose()
        db.drop()
