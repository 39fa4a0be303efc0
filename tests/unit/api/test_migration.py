"""Volume migration and on-demand retype through the API and two in-process managers.

Two file backends of one node (``a`` and ``b``), each a real ``VolumeManager``
with the real file driver in its own directory; RPC casts and calls go
straight to the manager of the addressed backend, in this thread. Every
assertion is on what the API answers and what the database and the volume
directories then hold.
"""

import os
import types

import pytest

from blockstore.common import context
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db import volume_migration as db_migration
from blockstore import objects
from blockstore.objects import states
from blockstore.volume import manager as vol_manager
from blockstore.volume.migrate import worker as migrate_worker
from blockstore.volume.drivers import base as driver_base
from blockstore.volume.drivers import file as file_driver
from tests.unit.api.conftest import Client, fault_of

V = '3.71'
MiB = 1024 ** 2


class Node:
    """The volume services of one node and the RPC that reaches them."""

    def __init__(self, ctx, tmp_path, backends=('a', 'b')):
        self.name = 'node-%s' % os.urandom(3).hex()
        self.managers = {}
        for b in backends:
            conf = types.SimpleNamespace(
                volume_driver='file', volume_backend_name=b,
                file_volumes_dir=str(tmp_path / b), file_capacity_gb=100,
                reserved_percentage=0, max_over_subscription_ratio=20.0)
            host = '%s@%s' % (self.name, b)
            m = vol_manager.VolumeManager(host, conf)
            svc = objects.Service(ctx, host=host, binary='blockstore-volume', topic='t',
                                  report_count=0, disabled=False, frozen=False,
                                  availability_zone='nova', replication_status='not-capable',
                                  rpc_current_version='1.7', object_current_version='1.2')
            svc.create()
            db.service_heartbeat(ctx, svc.id, {})
            m.service = svc
            m.volume_rpcapi = self
            m.init_host(ctx)
            self.managers[host] = m

    def mgr(self, backend):
        return self.managers['%s@%s' % (self.name, backend)]

    def _to(self, host):
        return self.managers[utils.backend_of(host)]

    def dir(self, backend):
        return self.mgr(backend).driver._dir

    # -- the volume RPC API -----------------------------------------------------

    def require_actions(self, what):
        pass

    def require_migration(self):
        pass

    def create_volume(self, ctx, volume, request_spec):
        self._to(volume.host).create_volume(ctx, volume, request_spec)

    def delete_volume(self, ctx, volume):
        self._to(volume.host).delete_volume(ctx, volume)

    def create_snapshot(self, ctx, volume, snapshot):
        self._to(volume.host).create_snapshot(ctx, snapshot)

    def delete_snapshot(self, ctx, volume, snapshot):
        self._to(volume.host).delete_snapshot(ctx, snapshot)

    def retype(self, ctx, volume, new_type_id, target):
        self._to(volume.host).retype(ctx, volume, new_type_id, target)

    def migrate_volume(self, ctx, volume, dest, force_host_copy=False, new_type_id=None,
                       retype_target=None):
        self._to(volume.host).migrate_volume(ctx, volume, dest, force_host_copy,
                                             new_type_id, retype_target)

    def get_manageable_volumes(self, ctx, host):
        return self._to(host).get_manageable_volumes(ctx)

    def migration_local_path(self, ctx, volume):
        return self._to(volume.host).migration_local_path(ctx, volume)


class Scheduler:
    """Places a volume on the backend its type names (volume_backend_name), else on a."""

    def __init__(self, node):
        self.node = node

    def _pools(self):
        return ['%s@%s#%s' % (self.node.name, b, b) for b in ('a', 'b')]

    def get_pools(self, ctx, filters=None):
        return [{'name': p, 'capabilities': {'volume_backend_name': p.rpartition('#')[2]}}
                for p in self._pools()]

    def _fits(self, pool, spec):
        wanted = ((spec.get('volume_type') or {}).get('extra_specs') or {}).get(
            'volume_backend_name')
        return wanted is None or pool.rpartition('#')[2] == wanted

    def find_backend_pool(self, ctx, host, spec):
        for pool in self._pools():
            if (host is None or utils.backend_of(pool) == utils.backend_of(host)) and \
                    self._fits(pool, spec):
                return pool
        return None

    def create_volume(self, ctx, volume, request_spec):
        host = self.find_backend_pool(ctx, None, request_spec)
        db.volume_update(ctx, volume.id, {'host': host})
        volume.refresh()
        self.node.create_volume(ctx, volume, request_spec)


@pytest.fixture
def node(database, ctx, tmp_path):
    return Node(ctx, tmp_path)


@pytest.fixture
def volume_rpcapi(node):
    return node


@pytest.fixture
def scheduler_rpcapi(node):
    return Scheduler(node)


@pytest.fixture
def c(app, project):
    return Client(app, 'user1:%s' % project, version=V)


@pytest.fixture
def admin(app):
    return Client(app, 'admin:admin', version=V)


def _vol(client, vid):
    return client.get('/v3/volumes/%s' % vid).json['volume']


def _act(client, vid, body):
    return client.post('/v3/volumes/%s/action' % vid, body)


def _volume_with_data(c, node, admin, **fields):
    """An available 1 GiB volume on backend a, with recognisable bytes at three places."""
    vol = c.create_volume(**fields)
    vid = vol['id']
    shown = _vol(admin, vid)
    assert shown['status'] == 'available', shown
    path = os.path.join(node.dir('a'), 'volume-%s' % vid)
    data = {0: os.urandom(4096), 300 * MiB + 17: b'middle' * 1000,
            1024 * MiB - 4096: os.urandom(4096)}
    fd = os.open(path, os.O_WRONLY)
    try:
        for offset, chunk in data.items():
            os.pwrite(fd, chunk, offset)
    finally:
        os.close(fd)
    return vid, data


def _read(path, data):
    with open(path, 'rb') as f:
        out = {}
        for offset, chunk in data.items():
            f.seek(offset)
            out[offset] = f.read(len(chunk))
        return out


def test_generic_migration_copies_the_bytes_swaps_the_name_and_deletes_the_source(
        c, admin, node, ctx):
    vid, data = _volume_with_data(c, node, admin)
    src = os.path.join(node.dir('a'), 'volume-%s' % vid)
    assert _vol(admin, vid)['os-vol-host-attr:host'] == node.name + '@a#a'

    resp = _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b'}})
    assert resp.status_int == 202, resp.body

    shown = _vol(admin, vid)
    assert shown['status'] == 'available'
    assert shown['os-vol-host-attr:host'] == node.name + '@b#b'
    assert shown['os-vol-mig-status-attr:migstat'] == 'success'
    name_id = shown['os-vol-mig-status-attr:name_id']
    assert name_id and name_id != vid
    # The bytes are on b, under the target's name; nothing is left on a.
    moved = os.path.join(node.dir('b'), 'volume-%s' % name_id)
    assert _read(moved, data) == data
    assert os.path.getsize(moved) == 1024 ** 3
    assert os.stat(moved).st_blocks * 512 < 64 * MiB   # still sparse
    assert not os.path.exists(src)
    assert os.listdir(node.dir('a')) == []
    # The target row is gone; no work is left; the volume is the user's, as before.
    target = db.volume_get(ctx, name_id, read_deleted=True)
    assert target.deleted and target.status == 'deleted'
    assert db.worker_get_all(ctx, resource_id=vid) == []
    assert [v['id'] for v in c.get('/v3/volumes').json['volumes']] == [vid]
    # b's listing of manageable volumes knows the moved file as this volume's.
    listed = admin.get('/v3/manageable_volumes/detail?host=%s@b' % node.name).json
    assert [(m['reference']['source-name'], m['cinder_id'], m['safe_to_manage'])
            for m in listed['manageable-volumes']] == [('volume-' + name_id, vid, False)]
    resp = admin.post('/v3/manageable_volumes', {
        'volume': {'host': node.name + '@b#b', 'ref': {'source-name': 'volume-' + name_id}}})
    assert resp.status_int == 400, resp.body
    assert vid in fault_of(resp)[2]
    # It works where it is now: a snapshot reads the moved file, a delete removes it.
    snap = c.create_snapshot(vid)
    assert os.path.exists(os.path.join(node.dir('b'), 'snapshot-%s' % snap['id']))
    assert c.delete('/v3/snapshots/%s' % snap['id']).status_int == 202
    assert c.delete('/v3/volumes/%s' % vid).status_int == 202
    assert not os.path.exists(moved)


def test_migrating_again_moves_it_back(c, admin, node):
    vid, data = _volume_with_data(c, node, admin)
    for there in ('b', 'a'):
        resp = _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@' + there,
                                                       'force_host_copy': True}})
        assert resp.status_int == 202, resp.body
        shown = _vol(admin, vid)
        assert shown['os-vol-host-attr:host'] == '%s@%s#%s' % (node.name, there, there)
        path = os.path.join(node.dir(there),
                            'volume-%s' % shown['os-vol-mig-status-attr:name_id'])
        assert _read(path, data) == data
    assert os.listdir(node.dir('b')) == []


def test_retype_on_demand_moves_the_volume_to_a_backend_of_the_new_type(c, admin, node, ctx):
    for name, backend in (('on-a', 'a'), ('on-b', 'b')):
        resp = admin.post('/v3/types', {'volume_type': {
            'name': name + node.name, 'extra_specs': {'volume_backend_name': backend}}})
        assert resp.status_int == 200, resp.body
    vid, data = _volume_with_data(c, node, admin, volume_type='on-a' + node.name)

    resp = _act(c, vid, {'os-retype': {'new_type': 'on-b' + node.name}})
    assert resp.status_int == 400 and 'use on-demand' in fault_of(resp)[2]
    resp = _act(c, vid, {'os-retype': {'new_type': 'on-b' + node.name,
                                       'migration_policy': 'on-demand'}})
    assert resp.status_int == 202, resp.body

    shown = _vol(admin, vid)
    assert (shown['status'], shown['volume_type']) == ('available', 'on-b' + node.name)
    assert shown['os-vol-host-attr:host'] == node.name + '@b#b'
    path = os.path.join(node.dir('b'), 'volume-%s' % shown['os-vol-mig-status-attr:name_id'])
    assert _read(path, data) == data
    assert os.listdir(node.dir('a')) == []
    assert db.worker_get_all(ctx, resource_id=vid) == []


def test_a_failed_copy_keeps_the_source_and_drops_the_target(c, admin, node, ctx,
                                                             monkeypatch):
    vid, data = _volume_with_data(c, node, admin)

    def broken(*args, **kwargs):
        raise OSError(5, 'Input/output error')
    monkeypatch.setattr(migrate_worker.os, 'pwrite', broken)
    resp = _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b'}})
    assert resp.status_int == 202

    shown = _vol(admin, vid)
    assert shown['status'] == 'available'
    assert shown['os-vol-mig-status-attr:migstat'] == 'error'
    assert shown['os-vol-host-attr:host'] == node.name + '@a#a'
    assert shown['os-vol-mig-status-attr:name_id'] is None
    assert _read(os.path.join(node.dir('a'), 'volume-%s' % vid), data) == data
    assert os.listdir(node.dir('b')) == []
    assert db.worker_get_all(ctx, resource_id=vid) == []
    msgs = c.get('/v3/messages', headers={'OpenStack-API-Version': 'volume 3.3'})
    assert [m['user_message'] for m in msgs.json['messages'] if m['resource_uuid'] == vid] \
        == ['migrate volume: An unknown error occurred.']
    assert 'Input/output error' in db.message_get_all(ctx, resource_uuid=vid)[0].detail
    # An error is not a migration in progress: it may be migrated again.
    monkeypatch.undo()
    assert _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b'}}).status_int == 202
    assert _vol(admin, vid)['os-vol-mig-status-attr:migstat'] == 'success'


def test_no_common_data_path_refuses_the_generic_copy(c, admin, node, ctx, monkeypatch):
    vid, data = _volume_with_data(c, node, admin)
    # The destination is on another node: nothing on this one reaches its volumes.
    volume = objects.Volume.get_by_id(ctx, vid)
    assert states.migration_transition(ctx, vid, 'migrate', work={
        'operation': 'migrate', 'status': 'available', 'payload': {}})
    node.mgr('a').migrate_volume(ctx, volume, {'host': 'elsewhere@b#b'})
    row = db.volume_get(ctx, vid)
    assert (row.status, row.migration_status, row.host) == ('available', 'error',
                                                            node.name + '@a#a')
    assert _read(os.path.join(node.dir('a'), 'volume-%s' % vid), data) == data
    assert db_migration.target_id_of(ctx, vid, 'target:') is None
    assert os.listdir(node.dir('b')) == []


def test_an_interrupted_copy_is_rolled_back_on_restart(c, admin, node, ctx):
    vid, data = _volume_with_data(c, node, admin)
    volume = objects.Volume.get_by_id(ctx, vid)
    # The state a crash mid-copy leaves: migrating, a target created on b, the record.
    assert states.migration_transition(ctx, vid, 'migrate', work={
        'operation': 'migrate', 'status': 'available',
        'payload': {'dest': {'host': node.name + '@b#b'}}})
    assert states.migration_transition(ctx, vid, 'migrate_copy')
    dest = {'host': node.name + '@b#b'}
    target = node.mgr('a').migration._create_target(ctx, volume, dest, None)
    assert os.path.exists(os.path.join(node.dir('b'), target.name))

    node.mgr('a').migration.redo_migration(ctx, volume, {'dest': dest})
    row = db.volume_get(ctx, vid)
    assert (row.migration_status, row.host) == ('error', node.name + '@a#a')
    assert db.volume_get(ctx, target.id, read_deleted=True).deleted
    assert os.listdir(node.dir('b')) == []
    assert _read(os.path.join(node.dir('a'), 'volume-%s' % vid), data) == data


def test_target_creation_failure_ends_the_migration(c, admin, node, ctx, monkeypatch):
    vid, _ = _volume_with_data(c, node, admin)

    def no_create(volume):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(node.mgr('b').driver, 'create_volume', no_create)
    monkeypatch.setattr(migrate_worker, '_POLL', 0.01)
    assert _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b'}}).status_int == 202
    row = db.volume_get(ctx, vid)
    assert (row.status, row.migration_status) == ('available', 'error')
    assert db_migration.target_id_of(ctx, vid, 'target:') is None
    assert os.listdir(node.dir('b')) == []


class MovingFileDriver(file_driver.FileDriver, driver_base.MigrateOps):
    """A file backend that moves a volume itself into the directory the destination's
    location_info names (as LVM does between volume groups of one node)."""

    seen = []

    def migrate_volume(self, context, volume, host):
        MovingFileDriver.seen.append(host)
        kind, _, where = host['capabilities'].get('location_info', '').partition(':')
        if kind != 'MovingFileDriver':
            return False, None
        os.rename(self.local_path(volume), os.path.join(where, volume.name))
        return True, {'provider_location': os.path.join(where, volume.name)}

    def retype(self, context, volume, new_type, diff, host):
        return False, None


def test_driver_assisted_move_keeps_the_name_and_changes_the_host(c, admin, node, ctx, app):
    MovingFileDriver.seen = []
    a = node.mgr('a')
    a.driver = MovingFileDriver(a.backend_conf, a.host)
    a.driver.do_setup(ctx)
    pools = app.volume_api.scheduler_rpcapi.get_pools

    def with_location(ctx, filters=None):
        found = pools(ctx, filters)
        for p in found:
            backend = p['name'].rpartition('#')[2]
            p['capabilities']['location_info'] = 'MovingFileDriver:' + node.dir(backend)
        return found
    app.volume_api.scheduler_rpcapi.get_pools = with_location
    vid, data = _volume_with_data(c, node, admin)

    # force_host_copy skips the driver: the generic copy runs.
    assert _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b',
                                                   'force_host_copy': True}}).status_int == 202
    assert MovingFileDriver.seen == []
    name_id = _vol(admin, vid)['os-vol-mig-status-attr:name_id']
    assert name_id != vid
    # Back to a by b's (plain file) driver's generic path, then a's driver moves it.
    assert _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@a'}}).status_int == 202
    shown = _vol(admin, vid)
    assert shown['os-vol-host-attr:host'] == node.name + '@a#a'
    name_id = shown['os-vol-mig-status-attr:name_id']
    assert _act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b'}}).status_int == 202
    (seen,) = MovingFileDriver.seen
    assert seen == {'host': node.name + '@b#b', 'capabilities': {
        'volume_backend_name': 'b', 'location_info': 'MovingFileDriver:' + node.dir('b')}}
    shown = _vol(admin, vid)
    assert shown['os-vol-host-attr:host'] == node.name + '@b#b'
    assert shown['os-vol-mig-status-attr:migstat'] == 'success'
    assert shown['os-vol-mig-status-attr:name_id'] == name_id     # the driver kept the name
    assert _read(os.path.join(node.dir('b'), 'volume-%s' % name_id), data) == data
    assert os.listdir(node.dir('a')) == []
    assert db.volume_get(ctx, vid).provider_location == os.path.join(
        node.dir('b'), 'volume-%s' % name_id)
