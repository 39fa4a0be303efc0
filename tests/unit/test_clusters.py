"""Active/Active clusters: the cluster queue (volume RPC 1.9) and its compatibility
branch, the scheduler's one entry per cluster, distributed locks, and which drivers
may be clustered."""

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from blockstore.common import coordination
from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore import objects
from blockstore.scheduler import host_state
from blockstore.volume import manager as vol_manager
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)

objects.register_all()

VOLUME_ID = '7a1c0d00-0000-4000-8000-000000000001'


def _service(ctx, host, rpc_version, cluster='c1@file1'):
    svc = db.service_create(ctx, {'host': host, 'binary': 'blockstore-volume',
                                  'topic': 'blockstore-volume', 'cluster_name': cluster,
                                  'rpc_current_version': rpc_version,
                                  'object_current_version': '1.3'})
    db.service_heartbeat(ctx, svc.id, {})
    return svc


class _Prepared:
    def __init__(self, sent, kwargs):
        self.sent, self.kwargs = sent, kwargs

    def cast(self, ctxt, method, **kw):
        self.sent.append((method, self.kwargs['server'], self.kwargs['version']))

    call = cast


def _recording(api):
    sent = []
    api.prepare = lambda **kwargs: _Prepared(sent, kwargs)
    return sent


def _volume(ctx, cluster='c1@file1#file1'):
    return objects.Volume(ctx, id=VOLUME_ID, host='a@file1#file1', cluster_name=cluster,
                          size=1)


# -- RPC 1.9: the cluster queue -----------------------------------------------------------------

def test_a_clustered_volume_is_addressed_at_its_cluster_queue(ctx):
    rpc.init()
    _service(ctx, 'a@file1', '1.9')
    _service(ctx, 'b@file1', '1.9')
    api = volume_rpcapi.VolumeAPI()
    sent = _recording(api)
    volume = _volume(ctx)
    api.delete_volume(ctx, volume)
    api.extend_volume(ctx, volume, 2)
    api.attachment_update(ctx, volume, 'att', {'host': 'h'})
    assert sent == [('delete_volume', 'c1@file1', '1.9'), ('extend_volume', 'c1@file1', '1.9'),
                    ('attachment_update', 'c1@file1', '1.9')]


def test_while_a_volume_service_is_older_than_1_9_its_host_is_addressed(ctx):
    """The compatibility branch: a 1.8 service serves only host@backend."""
    rpc.init()
    _service(ctx, 'a@file1', '1.8')
    _service(ctx, 'b@file1', '1.9')
    api = volume_rpcapi.VolumeAPI()
    sent = _recording(api)
    api.delete_volume(ctx, _volume(ctx))
    api.attachment_update(ctx, _volume(ctx), 'att', {'host': 'h'})
    assert sent == [('delete_volume', 'a@file1', '1.0'), ('attachment_update', 'a@file1', '1.4')]

    db.service_update(ctx, db.service_get_all(ctx, host='a@file1')[0].id,
                      {'rpc_current_version': '1.9'})   # upgraded, then SIGHUP
    rpc.reset_pins()
    api.delete_volume(ctx, _volume(ctx))
    assert sent[-1] == ('delete_volume', 'c1@file1', '1.9')


def test_a_volume_outside_clusters_goes_to_its_host(ctx):
    rpc.init()
    _service(ctx, 'a@file1', '1.9', cluster=None)
    api = volume_rpcapi.VolumeAPI()
    sent = _recording(api)
    api.delete_volume(ctx, _volume(ctx, cluster=None))
    # A volume object built without cluster_name at all (older callers) too.
    api.delete_volume(ctx, objects.Volume(ctx, id=VOLUME_ID, host='a@file1#file1'))
    assert sent == [('delete_volume', 'a@file1', '1.0')] * 2
    assert api.server_of('x@file2#p') == ('x@file2', False)


def test_the_manager_and_its_client_agree_on_1_9():
    assert vol_manager.VolumeManager.RPC_API_VERSION == '1.9'
    assert volume_rpcapi.VolumeAPI.RPC_API_VERSION == '1.9'
    assert '1.9 - cluster queue' in volume_rpcapi.__doc__
    assert volume_rpcapi._later('1.4', '1.9') == '1.9'
    assert volume_rpcapi._later('1.10', '1.9') == '1.10'


def test_a_clustered_service_also_serves_the_cluster_queue(ctx):
    """Service.start listens on host@backend and on cluster@backend."""
    from blockstore.common import service
    import oslo_messaging as messaging
    rpc.init()
    got = []
    done = threading.Event()

    class Manager(service.Manager):
        RPC_API_VERSION = '1.9'

        def delete_volume(self, context, volume):
            got.append(volume.id)
            done.set()

    # A topic of this run: the unit tier's transport may be a broker other runs share.
    topic = 'bs-unit-clusterq-%s' % uuid.uuid4().hex[:8]
    svc = service.Service('blockstore-volume', 'a@file1', topic,
                          Manager('a@file1', 'blockstore-volume'), cluster='c9@file1')
    svc.start()
    try:
        client = messaging.get_rpc_client(rpc.TRANSPORT, messaging.Target(
            topic=topic, version='1.9'), serializer=rpc.RequestContextSerializer())
        client.prepare(server='c9@file1').cast(ctx, 'delete_volume',
                                               volume=_volume(ctx, 'c9@file1#file1'))
        assert done.wait(30)
        assert got == [VOLUME_ID]
        row = db.service_get_all(ctx, host='a@file1')[0]
        assert row.cluster_name == 'c9@file1'
    finally:
        svc.stop()


def test_an_n_minus_1_member_gets_its_volumes_work_at_its_host(ctx):
    """Over the broker: a 1.8-shaped member (host queue only) gets the cast while it runs;
    once all are 1.9 (and pins reset) the cluster queue's listener gets it."""
    from oslo_config import cfg
    import oslo_messaging as messaging
    rpc.init()
    uid = uuid.uuid4().hex[:8]
    cfg.CONF.set_override('volume_topic', 'bs-unit-n1-%s' % uid)
    host, cluster = 'a%s@file1' % uid, 'c%s@file1' % uid
    old = _service(ctx, host, '1.8', cluster=cluster)
    got = {'host': threading.Event(), 'cluster': threading.Event()}

    def endpoint(version, key):
        class Endpoint:
            target = messaging.Target(version=version)

            def delete_volume(self, context, volume=None):
                got[key].set()
        return Endpoint()

    servers = [rpc.get_server(messaging.Target(topic=cfg.CONF.volume_topic, server=host),
                              [endpoint('1.8', 'host')]),
               rpc.get_server(messaging.Target(topic=cfg.CONF.volume_topic, server=cluster),
                              [endpoint('1.9', 'cluster')])]
    for server in servers:
        server.start()
    try:
        volume = objects.Volume(ctx, id=VOLUME_ID, host=host + '#file1',
                                cluster_name=cluster + '#file1')
        volume_rpcapi.VolumeAPI().delete_volume(ctx, volume)
        assert got['host'].wait(30)
        assert not got['cluster'].wait(0.2)

        db.service_update(ctx, old.id, {'rpc_current_version': '1.9'})   # upgraded
        rpc.reset_pins()                                                 # SIGHUP
        volume_rpcapi.VolumeAPI().delete_volume(ctx, volume)
        assert got['cluster'].wait(30)
    finally:
        cfg.CONF.clear_override('volume_topic')
        for server in servers:
            server.stop()
            server.wait()


# -- the scheduler: one entry per cluster ----------------------------------------------------------

def _caps(free=100):
    return {'volume_backend_name': 'file1', 'pools': [{
        'pool_name': 'file1', 'total_capacity_gb': 100, 'free_capacity_gb': free,
        'thin_provisioning_support': False}]}


def test_members_of_a_cluster_make_one_pool_entry(ctx):
    a = _service(ctx, 'a@file1', '1.9')
    _service(ctx, 'b@file1', '1.9')
    quiet = _service(ctx, 'q@file1', '1.9')   # a member that never reported (down)
    _down(ctx, quiet)
    hm = host_state.HostManager()
    hm.update_service_capabilities('a@file1', _caps(), 'c1@file1', timestamp=1)
    hm.update_service_capabilities('b@file1', _caps(), 'c1@file1', timestamp=2)
    pools = hm.get_pools(ctx)
    assert len(pools) == 1
    pool = pools[0]
    assert pool.host == 'b@file1#file1' and pool.cluster_host == 'c1@file1#file1'
    assert pool.serves('a@file1') and pool.serves('b@file1') and pool.serves('c1@file1')
    assert pool.serves('q@file1')   # clones of its volumes may land on the cluster
    assert not pool.serves('x@file1')
    assert hm.cluster_of('a@file1#file1') == 'c1@file1#file1'
    assert pool.as_dict()['members'] == ['a@file1', 'b@file1', 'q@file1']

    # Capacity consumed by placements stays with the cluster's entry.
    hm.consume('b@file1#file1', 10)
    assert hm.get_pools(ctx)[0].allocated_capacity_gb == 10

    # b goes down: the entry stands on a's report, and is still one entry.
    db.service_update(ctx, db.service_get_all(ctx, host='b@file1')[0].id,
                      {'last_seen_at': db.utcnow().replace(year=2000)})
    pools = hm.get_pools(ctx)
    assert [p.host for p in pools] == ['a@file1#file1']
    # Both down: nothing to offer.
    db.service_update(ctx, a.id, {'last_seen_at': db.utcnow().replace(year=2000)})
    assert hm.get_pools(ctx) == []


def test_backends_outside_clusters_keep_an_entry_each(ctx):
    _service(ctx, 'a@file1', '1.9', cluster=None)
    _service(ctx, 'b@file1', '1.9', cluster=None)
    hm = host_state.HostManager()
    hm.update_service_capabilities('a@file1', _caps(), None)
    hm.update_service_capabilities('b@file1', _caps(), None)
    assert sorted(p.host for p in hm.get_pools(ctx)) == ['a@file1#file1', 'b@file1#file1']
    assert hm.cluster_of('a@file1#file1') is None


def test_the_scheduler_records_the_cluster_of_a_placed_volume(ctx):
    from blockstore.scheduler import manager as sched_manager
    from tests.unit.scheduler.test_manager import Recorder, _volume as new_volume, spec
    _service(ctx, 'a@file1', '1.9')
    m = sched_manager.SchedulerManager('sched-host')
    m.volume_rpcapi = Recorder()
    m.update_service_capabilities(ctx, host='a@file1', capabilities=_caps(),
                                  cluster_name='c1@file1')
    v = new_volume(ctx)
    m.create_volume(ctx, v, spec(v))
    placed = objects.Volume.get_by_id(ctx, v.id)
    assert (placed.host, placed.cluster_name) == ('a@file1#file1', 'c1@file1#file1')


# -- distributed locks -----------------------------------------------------------------------------

def test_a_lock_excludes_other_threads_and_a_busy_lock_says_so():
    inside, order = threading.Event(), []

    def holder():
        with coordination.lock('unit-l1'):
            inside.set()
            time.sleep(0.3)
            order.append('holder')

    t = threading.Thread(target=holder)
    t.start()
    inside.wait(5)
    with pytest.raises(coordination.LockBusy):
        with coordination.lock('unit-l1', blocking=False):
            pass
    with coordination.lock('unit-l1'):
        order.append('waiter')
    t.join()
    assert order == ['holder', 'waiter']


def test_a_lock_excludes_another_process(tmp_path):
    """The file driver's locks hold between processes (the same node's services)."""
    coordination.start()
    url = coordination.COORDINATOR.url      # the directory this process locks in
    script = ('import sys, time\n'
              'from oslo_config import cfg\n'
              'from blockstore.common import coordination\n'
              'cfg.CONF.set_default("backend_url", sys.argv[1], group="coordination")\n'
              'with coordination.lock("unit-xproc"):\n'
              '    print("held", flush=True)\n'
              '    time.sleep(30)\n')
    proc = subprocess.Popen([sys.executable, '-c', script, url], stdout=subprocess.PIPE,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(
                                os.path.abspath(__file__)))))
    try:
        assert proc.stdout.readline().strip() == b'held'
        with pytest.raises(coordination.LockBusy):
            with coordination.lock('unit-xproc', blocking=False):
                pass
    finally:
        proc.kill()
        proc.wait()
    with coordination.lock('unit-xproc', blocking=False):   # freed by the process's death
        pass


def test_lock_names_are_prefixed_and_file_safe():
    assert coordination.lock_name('volume-abc') == 'blockstore-volume-abc'
    odd = coordination.lock_name('a/../b c')
    assert odd.startswith('blockstore-h-') and '/' not in odd


def test_the_operation_lock_is_a_coordination_lock():
    from blockstore.common import operation
    with operation.locked('volume', 'unit-op'):
        with pytest.raises(coordination.LockBusy):
            with coordination.lock('volume-unit-op', blocking=False):
                pass


# -- which drivers may be clustered ------------------------------------------------------------------

class _Conf:
    volume_backend_name = 'b'
    reserved_percentage = 0
    max_over_subscription_ratio = 1.0

    def __init__(self, driver, path=None):
        self.volume_driver = driver
        self.file_volumes_dir = path


def test_lvm_refuses_a_cluster_and_the_file_driver_accepts_one(tmp_path):
    from blockstore.volume.drivers import base, file, lvm
    assert base.clusterable(file.FileDriver) and not base.clusterable(lvm.LVMDriver)
    with pytest.raises(exception.NotClusterable, match='lvmlockd'):
        vol_manager.VolumeManager('a@lvm', _Conf('lvm'), cluster='c1@lvm')
    m = vol_manager.VolumeManager('a@file1', _Conf('file', str(tmp_path)), cluster='c1@file1')
    assert m.cluster == 'c1@file1'


def test_a_peer_starting_leaves_a_temp_file_being_written(tmp_path):
    """do_setup of one node must not remove what another node is writing right now."""
    from blockstore.volume.drivers import file
    drv = file.FileDriver(_Conf('file', str(tmp_path)), 'a@file1')
    busy = tmp_path / '.volume-busy.abc123xy.tmp'
    busy.write_bytes(b'x')
    left = tmp_path / '.volume-left.zz9911qq.tmp'
    left.write_bytes(b'x')
    with drv._file_lock('volume-busy'):
        file.FileDriver(_Conf('file', str(tmp_path)), 'b@file1').do_setup(None)
    assert busy.exists() and not left.exists()


# -- automatic takeover ------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _no_work_left(database, ctx):
    """Each test starts without work records (the module shares one database)."""
    with db._writer(ctx) as session:
        session.execute(db.sa.delete(db.models.Worker))


def _down(ctx, svc):
    db.service_update(ctx, svc.id, {'last_seen_at': db.utcnow().replace(year=2000)})


def _creating(ctx, host, cluster='c1@file1#file1', claimed_by=None):
    from blockstore.volume import volume_types
    vt = volume_types.get_default(ctx)
    v = objects.Volume(ctx, project_id='p', size=1, volume_type_id=vt.id, host=host,
                       cluster_name=cluster, availability_zone='nova',
                       attach_status='detached', bootable=False, multiattach=False,
                       use_quota=True, deleted=False, metadata={}, admin_metadata={})
    v.create(work={'operation': 'create', 'payload': {'request_spec': {}}})
    if claimed_by is not None:
        db.worker_set_service(ctx, 'volume', v.id, claimed_by.id)
    return v


def _member(ctx, svc, tmp_path):
    """A clustered VolumeManager on ``svc`` whose redone work is recorded, not run."""
    m = vol_manager.VolumeManager(svc.host, _Conf('file', str(tmp_path)), cluster='c1@file1')
    m.service = objects.Service.get_by_args(ctx, svc.host, 'blockstore-volume')
    m._ready = True
    m.redone = []
    m._redo = lambda c, worker, obj: m.redone.append(obj.id)
    return m


def _wait_redone(*members, n):
    deadline = time.time() + 5
    while sum(len(m.redone) for m in members) < n and time.time() < deadline:
        time.sleep(0.02)


def test_two_live_peers_take_over_a_dead_members_work_once(ctx, tmp_path):
    """Each record of the dead member is claimed by exactly one live member."""
    a = _service(ctx, 'a@file1', '1.9')
    b = _service(ctx, 'b@file1', '1.9')
    c = _service(ctx, 'c@file1', '1.9')
    claimed = [_creating(ctx, 'a@file1#file1', claimed_by=a) for _ in range(6)]
    unclaimed = _creating(ctx, 'a@file1#file1')          # its cast was lost with a
    elsewhere = _creating(ctx, 'b@file1#file1', claimed_by=b)   # b's own, b is up
    _down(ctx, a)
    mb, mc = _member(ctx, b, tmp_path), _member(ctx, c, tmp_path)
    start = threading.Barrier(2)

    def run(m):
        start.wait()
        m.take_over_dead_peers()

    threads = [threading.Thread(target=run, args=(m,)) for m in (mb, mc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _wait_redone(mb, mc, n=7)
    redone = mb.redone + mc.redone
    assert sorted(redone) == sorted([v.id for v in claimed] + [unclaimed.id])
    for vid in redone:   # the record names the member that redoes it
        owner = db.worker_get_all(ctx, resource_id=vid)[0].service_id
        assert owner == (b.id if vid in mb.redone else c.id)
    assert db.worker_get_all(ctx, resource_id=elsewhere.id)[0].service_id == b.id
    # Later rounds find nothing left to take.
    assert mb.take_over_dead_peers() == [] and mc.take_over_dead_peers() == []


def test_no_takeover_of_a_live_member_or_outside_the_cluster(ctx, tmp_path):
    a = _service(ctx, 'a@file1', '1.9')
    other = _service(ctx, 'x@file1', '1.9', cluster='c2@file1')
    b = _service(ctx, 'b@file1', '1.9')
    _creating(ctx, 'a@file1#file1', claimed_by=a)
    _creating(ctx, 'x@file1#file1', cluster='c2@file1#file1', claimed_by=other)
    _down(ctx, other)
    mb = _member(ctx, b, tmp_path)
    assert mb.take_over_dead_peers() == []
    assert mb.redone == []


def test_a_member_coming_back_does_not_redo_what_a_peer_claimed(ctx, tmp_path):
    """a died mid-create; b claimed the work; a restarts: only b redoes it. A record a
    claimed for a volume of the cluster whose host is b (the cluster queue gave it to a)
    is a's to redo."""
    a = _service(ctx, 'a@file1', '1.9')
    b = _service(ctx, 'b@file1', '1.9')
    taken = _creating(ctx, 'a@file1#file1', claimed_by=a)
    _down(ctx, a)
    mb = _member(ctx, b, tmp_path)
    assert mb.take_over_dead_peers() == [taken.id]
    via_queue = _creating(ctx, 'b@file1#file1', claimed_by=a)
    ma = _member(ctx, a, tmp_path)
    ma._recover(ctx)
    _wait_redone(ma, n=1)
    assert ma.redone == [via_queue.id]
    assert db.worker_get_all(ctx, resource_id=taken.id)[0].service_id == b.id


def test_only_clustered_members_run_the_takeover_task(tmp_path):
    plain = vol_manager.VolumeManager('a@file1', _Conf('file', str(tmp_path)))
    member = vol_manager.VolumeManager('a@file1', _Conf('file', str(tmp_path)),
                                       cluster='c1@file1')
    plain_tasks = [fn for fn, _s in plain.periodic_tasks()]
    assert plain.report_capabilities in plain_tasks
    assert plain.take_over_dead_peers not in plain_tasks
    assert member.take_over_dead_peers in [fn for fn, _s in member.periodic_tasks()]


def test_casts_a_dead_member_took_from_the_queue_unclaimed_are_redone(ctx, tmp_path):
    """A record nobody claimed on a volume of the cluster (hosted by a live member),
    older than the dead member's last heartbeat: its cast may have died with it."""
    a = _service(ctx, 'a@file1', '1.9')
    b = _service(ctx, 'b@file1', '1.9')
    lost = _creating(ctx, 'b@file1#file1')
    outside = _creating(ctx, 'z@file9#file9', cluster=None)
    with db._writer(ctx) as session:
        session.execute(db.sa.update(db.models.Worker).where(
            db.models.Worker.resource_id.in_([lost.id, outside.id])).values(
                created_at=db.utcnow().replace(year=1999)))
    _down(ctx, a)
    mb = _member(ctx, b, tmp_path)
    assert mb.take_over_dead_peers() == [lost.id]
    assert mb.take_over_dead_peers() == []            # once per outage
    assert db.worker_get_all(ctx, resource_id=outside.id)[0].service_id is None


def test_a_dead_members_attachment_work_is_taken_over(ctx, tmp_path):
    from blockstore.db import attachments as db_att
    from blockstore.objects import states
    a = _service(ctx, 'a@file1', '1.9')
    b = _service(ctx, 'b@file1', '1.9')
    v = _creating(ctx, 'a@file1#file1')
    db.worker_destroy(ctx, 'volume', v.id)
    with db._writer(ctx) as session:
        att_id = db_att.insert(session, {'volume_id': v.id, 'project_id': 'p',
                                         'attach_status': states.ATTACHING, 'deleted': False})
    db.worker_create(ctx, 'attachment', att_id, 'connect', states.ATTACHING,
                     service_id=a.id, payload={})
    _down(ctx, a)
    mb = _member(ctx, b, tmp_path)
    assert mb.take_over_dead_peers() == [att_id]


def test_volumes_follow_their_services_cluster(ctx, tmp_path):
    """Joining a cluster brings the backend's volumes along; leaving a cluster nobody
    else serves takes them back to the host's queue."""
    a = _service(ctx, 'j@file1', '1.9', cluster=None)
    before = _creating(ctx, 'j@file1#file1', cluster=None)
    db.service_update(ctx, a.id, {'cluster_name': 'cj@file1'})   # restarted with cluster
    vol_manager.VolumeManager('j@file1', _Conf('file', str(tmp_path)),
                              cluster='cj@file1')._follow_cluster(ctx)
    assert objects.Volume.get_by_id(ctx, before.id).cluster_name == 'cj@file1#file1'

    other = _service(ctx, 'k@file1', '1.9', cluster='cj@file1')   # a second member
    db.service_update(ctx, a.id, {'cluster_name': None})          # j leaves the cluster
    vol_manager.VolumeManager('j@file1', _Conf('file', str(tmp_path)))._follow_cluster(ctx)
    assert objects.Volume.get_by_id(ctx, before.id).cluster_name == 'cj@file1#file1'

    db.service_destroy(ctx, other.id)                              # nobody serves cj now
    vol_manager.VolumeManager('j@file1', _Conf('file', str(tmp_path)))._follow_cluster(ctx)
    assert objects.Volume.get_by_id(ctx, before.id).cluster_name is None


def test_a_lock_waits_for_an_unreachable_lock_service(monkeypatch):
    """A lock service restarting (Redis) delays a lock instead of failing the work."""
    from tooz import coordination as tooz_coordination
    calls = []
    real = coordination.COORDINATOR.get_lock

    class Flaky:
        def __init__(self, name):
            self.inner = real(name)

        def acquire(self, blocking=True):
            calls.append(1)
            if len(calls) < 3:
                raise tooz_coordination.ToozConnectionError('connection refused')
            return self.inner.acquire(blocking=blocking)

        def release(self):
            return self.inner.release()

    monkeypatch.setattr(coordination.COORDINATOR, 'get_lock', Flaky)
    monkeypatch.setattr(coordination.time, 'sleep', lambda s: None)
    with coordination.lock('unit-flaky'):
        pass
    assert len(calls) == 3
    monkeypatch.setattr(coordination, 'UNREACHABLE_RETRY', 0)
    calls.clear()
    with pytest.raises(tooz_coordination.ToozConnectionError):
        with coordination.lock('unit-flaky'):
            pass


def test_a_dead_members_exports_are_restored_on_a_live_one_once(ctx, tmp_path):
    a = _service(ctx, 'a@file1', '1.9')
    b = _service(ctx, 'b@file1', '1.9')
    exported = _creating(ctx, 'a@file1#file1')
    db.worker_destroy(ctx, 'volume', exported.id)
    db.conditional_update(ctx, 'volume', exported.id, {'provider_location': '/x'})
    _down(ctx, a)
    mb = _member(ctx, b, tmp_path)
    restored = []
    mb.driver.ensure_export = lambda c, volume: restored.append(volume.id)
    mb.take_over_dead_peers()
    mb.take_over_dead_peers()
    assert restored == [exported.id]
    db.service_heartbeat(ctx, a.id, {})       # a comes back, then goes down again
    mb.take_over_dead_peers()
    _down(ctx, a)
    mb.take_over_dead_peers()
    assert restored == [exported.id] * 2


def test_volumes_recorded_with_an_older_releases_cluster_name_follow_too(ctx, tmp_path):
    """Before RPC 1.9 a service recorded [DEFAULT] cluster as it is ('co'): a scheduler
    then recorded volumes as 'co#pool'. An upgraded member gives them the name its
    queue has ('co@file1#file1'), though older members still run."""
    _service(ctx, 'old@file1', '1.8', cluster='co')
    _service(ctx, 'new@file1', '1.9', cluster='co@file1')
    vol = _creating(ctx, 'new@file1#file1', cluster='co#file1')
    vol_manager.VolumeManager('new@file1', _Conf('file', str(tmp_path)),
                              cluster='co@file1')._follow_cluster(ctx)
    assert objects.Volume.get_by_id(ctx, vol.id).cluster_name == 'co@file1#file1'


def test_a_frozen_member_takes_nothing_over(ctx, tmp_path):
    a = _service(ctx, 'a@file1', '1.9')
    b = _service(ctx, 'b@file1', '1.9')
    _creating(ctx, 'a@file1#file1', claimed_by=a)
    _down(ctx, a)
    mb = _member(ctx, b, tmp_path)
    db.service_update(ctx, b.id, {'frozen': True})    # frozen after it started
    assert mb.take_over_dead_peers() == []
    db.service_update(ctx, b.id, {'frozen': False})
    assert len(mb.take_over_dead_peers()) == 1
