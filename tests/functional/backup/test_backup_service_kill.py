"""blockstore-backup as its own process on MariaDB/PostgreSQL + RabbitMQ, SIGKILLed mid-work.

The API, scheduler, volume and backup services run as separate processes;
the backup service reads volumes through the volume service (RPC 1.8) and
stores them in the real posix store, slowed (tests/fixtures/slow_backup.py)
so a kill lands in the middle of a backup or a restore. Work is started by
the real service layer (backup/api.py, in a process of its own:
tests/fixtures/backup_request.py) casting over the real broker; after each kill the service is started again and nothing
may stay in a transitional state: the interrupted backup runs again from
the start and ends ``available`` (the first run's objects and temporary
snapshot gone, its volume given back); the interrupted restore is written
again and the volume holds the backup's bytes; later work still succeeds.
"""

import os
import subprocess
import sys
import time

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import states
from tests.fixtures import database as dbfix
from tests.fixtures import deployment as depfix

objects.register_all()
MiB = 1024 ** 2
GiB = 1024 ** 3
SLOW = '0.4'   # seconds per data object put or get


def _require_rabbit():
    if not depfix.port_open('127.0.0.1', 5672):
        msg = 'RabbitMQ is not listening on 127.0.0.1:5672 (start it: see .ci/run)'
        if dbfix.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


EXTRA_CONF = """
[backup]
backup_chunk_size = 1048576
backup_block_size = 262144
backup_workers = 1
backup_max_inflight = 2
"""


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def deployment(request, tmp_path_factory):
    _require_rabbit()
    database = dbfix.Database(request.param)
    dbfix.create_or_skip(database)
    try:
        database.sync()
        dep = depfix.Deployment(tmp_path_factory.mktemp('backup-%s' % request.param),
                                db_url=database.url, transport_url=depfix.RABBIT_URL,
                                extra_conf=EXTRA_CONF)
        dep.write_config()
        dep.phase = 0
        for name in ('scheduler', 'volume', 'api'):
            dep.start(name)
        _start_backup_service(dep)
        _service_output[0] = lambda: dep.output('backup')
        database.activate()   # this process reads and claims like the service layer
        try:
            dep.wait_for_api()
            yield dep
        finally:
            database.deactivate()
            dep.stop_all()
    finally:
        database.drop()


def _start_backup_service(dep):
    """A new phase: a fresh markers directory, then the (slow) backup service."""
    dep.phase += 1
    dep.markers = os.path.join(dep.workdir, 'markers-%d' % dep.phase)
    os.makedirs(dep.markers)
    dep.start('backup', module='tests.fixtures.slow_backup',
              env={'BLOCKSTORE_TEST_SLOW_STORE': SLOW,
                   'BLOCKSTORE_TEST_STORE_MARKERS': dep.markers})


def _forget_markers(dep):
    """Remove this phase's markers, so the next put or get is the next work's own (a
    backup run again after a restart leaves its marker in the new phase's directory)."""
    for kind in ('put', 'get'):
        try:
            os.remove(os.path.join(dep.markers, kind))
        except FileNotFoundError:
            pass


def _restart_backup_service(dep):
    dep.kill('backup')                 # SIGKILL
    _start_backup_service(dep)


def _request(dep, *args):
    """The service layer (backup/api.py) in a process of its own; its output line."""
    out = subprocess.run(
        [sys.executable, '-m', 'tests.fixtures.backup_request', '--config-file',
         dep.config_file, '--'] + list(args),
        cwd=dep.workdir, capture_output=True, text=True, timeout=60,
        env=dict(os.environ, PYTHONPATH=depfix.REPO_ROOT))
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout.strip().splitlines()[-1]


# What the backup service logged, for a failure's message (set by the fixture).
_service_output = [lambda: '']


def _wait(what, fn, timeout=120):
    deadline = time.time() + timeout
    value = fn()
    while not value and time.time() < deadline:
        time.sleep(0.2)
        value = fn()
    assert value, 'timed out waiting for %s; the backup service said:\n%s' % (
        what, _service_output[0]())
    return value


def _status(cls, rid):
    return cls.get_by_id(context.get_admin_context(), rid, read_deleted=True).status


def _new_volume(dep, name):
    vid = dep.request('POST', '/volumes', body={'volume': {'size': 1, 'name': name}},
                      expect=202).json()['volume']['id']
    dep.wait_status('volume', vid, 'available')
    return objects.Volume.get_by_id(context.get_admin_context(), vid)


def _fill(volume):
    fd = os.open(volume.provider_location, os.O_WRONLY)
    try:
        os.pwrite(fd, os.urandom(12 * MiB), 0)          # 12 data objects at 1 MiB
        os.pwrite(fd, os.urandom(MiB), GiB // 2)
    finally:
        os.close(fd)


def _start_backup(dep, volume):
    return objects.Backup.get_by_id(context.get_admin_context(),
                                    _request(dep, 'create', volume.id))


def _start_restore(dep, backup, volume):
    _request(dep, 'restore', backup.id, volume.id)


def _store_objects(dep, backup):
    root = os.path.join(dep.state_path, 'backups', 'backups', 'volume_%s' % backup.volume_id)
    if not os.path.isdir(root):
        return []
    return [n for n in os.listdir(root) if n.startswith('backup_%s' % backup.id)]


def _backup_work(ctx):
    return [w for w in db.worker_get_all(ctx) if w.resource_type == 'backup']


def _same_data(a, b):
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
        for offset, length in ((0, 12 * MiB), (GiB // 2, MiB), (100 * MiB, MiB)):
            fa.seek(offset)
            fb.seek(offset)
            if fa.read(length) != fb.read(length):
                return False
    return True


def test_backup_service_killed_mid_backup_and_mid_restore_recovers(deployment):
    dep = deployment
    ctx = context.get_admin_context()
    source = _new_volume(dep, 'kill-source')
    _fill(source)

    # 1. Killed in the middle of a backup of a detached volume.
    backup = _start_backup(dep, source)
    _wait('the first object put', lambda: os.path.exists(os.path.join(dep.markers, 'put')))
    assert _status(objects.Backup, backup.id) == states.CREATING
    assert _status(objects.Volume, source.id) == states.BACKING_UP
    _restart_backup_service(dep)
    _wait('the interrupted backup to run again to its end',
          lambda: _status(objects.Backup, backup.id) in (states.AVAILABLE, states.ERROR))
    backup.refresh()
    assert backup.status == states.AVAILABLE, backup.fail_reason
    assert _status(objects.Volume, source.id) == states.AVAILABLE
    assert len(_store_objects(dep, backup)) == backup.object_count + 2   # + metadata, block map
    assert _backup_work(ctx) == []

    # 2. Killed in the middle of a backup of an attached volume (a temporary snapshot).
    assert source.transition('reset', target=states.IN_USE)
    _forget_markers(dep)
    attached = _start_backup(dep, source)
    _wait('the first object put', lambda: os.path.exists(os.path.join(dep.markers, 'put')))
    attached.refresh()
    temp_id = attached.temp_snapshot_id
    assert temp_id and _status(objects.Snapshot, temp_id) == states.AVAILABLE
    _restart_backup_service(dep)
    _wait('the interrupted attached backup to run again to its end',
          lambda: _status(objects.Backup, attached.id) in (states.AVAILABLE, states.ERROR))
    attached.refresh()
    assert attached.status == states.AVAILABLE, attached.fail_reason
    _wait('its first temporary snapshot to be deleted',
          lambda: _status(objects.Snapshot, temp_id) == states.DELETED)
    assert not os.path.exists(os.path.join(dep.volumes_dir('file1'), 'snapshot-%s' % temp_id))
    assert db.live_snapshot_ids(ctx, source.id) == []
    assert _status(objects.Volume, source.id) == states.IN_USE
    assert len(_store_objects(dep, attached)) == attached.object_count + 2
    assert source.transition('reset', target=states.AVAILABLE)

    # 3. Requested while the service is down (not yet seen as down): the request waits
    # in its queue and the restarted service backs up to the end.
    dep.kill('backup')
    good = _start_backup(dep, source)
    time.sleep(1)
    assert _status(objects.Backup, good.id) == states.CREATING
    _start_backup_service(dep)
    _wait('a whole backup', lambda: _status(objects.Backup, good.id) == states.AVAILABLE,
          timeout=90)
    good.refresh()
    assert good.object_count == 13 and good.progress == 100
    assert _status(objects.Volume, source.id) == states.AVAILABLE

    # 4. Killed in the middle of a restore.
    target = _new_volume(dep, 'kill-target')
    _forget_markers(dep)
    _start_restore(dep, good, target)
    _wait('the first object get', lambda: os.path.exists(os.path.join(dep.markers, 'get')))
    assert _status(objects.Volume, target.id) == states.RESTORING_BACKUP
    _restart_backup_service(dep)
    _wait('the interrupted restore to be written again to its end',
          lambda: _status(objects.Volume, target.id) in (states.AVAILABLE,
                                                         states.ERROR_RESTORING), timeout=90)
    assert _status(objects.Volume, target.id) == states.AVAILABLE
    _wait('the backup to be available again',
          lambda: _status(objects.Backup, good.id) == states.AVAILABLE)
    target.refresh()
    assert _same_data(source.provider_location, target.provider_location)
    assert _backup_work(ctx) == []

    # 5. ... and a restore after the restart completes, byte for byte.
    fresh = _new_volume(dep, 'restore-target')
    good.refresh()
    _start_restore(dep, good, fresh)
    _wait('a whole restore', lambda: _status(objects.Volume, fresh.id) == states.AVAILABLE
          and _status(objects.Backup, good.id) == states.AVAILABLE, timeout=90)
    fresh.refresh()
    assert _same_data(source.provider_location, fresh.provider_location)

    # Nothing is left in flight: no work records of backups, no live temporary snapshot.
    assert _backup_work(ctx) == []
    assert db.live_snapshot_ids(ctx, source.id) == []
    for name in ('scheduler', 'volume', 'api', 'backup'):
        assert dep.procs[name].poll() is None, dep.output(name)
