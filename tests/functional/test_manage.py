"""blockstore-manage and blockstore-status as an operator runs them (subprocesses)."""

import os
import subprocess
import sys

import pytest

from tests.fixtures import database as dbfix


def run(conf_file, *args, ok=True):
    p = subprocess.run([sys.executable, '-m', 'blockstore.cmd.manage', '--config-file',
                        conf_file, *args], capture_output=True, text=True, timeout=120)
    if ok:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


@pytest.fixture(params=['sqlite', 'mysql', 'postgresql'])
def conf_file(request, tmp_path):
    db = dbfix.Database(request.param, sqlite_dir=str(tmp_path))
    dbfix.create_or_skip(db)
    path = tmp_path / 'blockstore.conf'
    path.write_text('[DEFAULT]\nservice_down_time = 5\n[database]\nconnection = %s\n' % db.url)
    try:
        yield str(path), db
    finally:
        db.drop()


def test_db_sync_version_and_status(conf_file):
    conf, db = conf_file
    assert run(conf, 'db', 'version').stdout.strip() == 'empty'
    status = subprocess.run([sys.executable, '-m', 'blockstore.cmd.status', 'upgrade', 'check',
                             '--config-file', conf], capture_output=True, text=True, timeout=60)
    assert status.returncode == 2 and 'db sync' in status.stdout
    out = run(conf, 'db', 'sync').stdout
    from blockstore.db import migration
    assert migration.head_version() in out
    assert run(conf, 'db', 'version').stdout.strip() == migration.head_version()
    run(conf, 'db', 'sync')   # idempotent
    status = subprocess.run([sys.executable, '-m', 'blockstore.cmd.status', 'upgrade', 'check',
                             '--config-file', conf], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout


def test_service_list_remove_and_volume_delete(conf_file):
    conf, db = conf_file
    run(conf, 'db', 'sync')
    db.activate()
    try:
        from blockstore.common import context
        from blockstore.db import api
        from blockstore import objects
        from blockstore.volume import volume_types
        ctx = context.get_admin_context()
        api.service_create(ctx, {'host': 'gone@b1', 'binary': 'blockstore-volume',
                                 'topic': 't', 'rpc_current_version': '1.0',
                                 'object_current_version': '1.0'})
        vt = volume_types.get_default(ctx)
        vol = objects.Volume(ctx, project_id='p', size=1, volume_type_id=vt.id,
                             attach_status='detached', bootable=False, multiattach=False,
                             use_quota=True, deleted=False, metadata={}, admin_metadata={})
        vol.create()   # never scheduled: stuck in 'creating' with no host
    finally:
        db.deactivate()

    listing = run(conf, 'service', 'list').stdout
    assert 'gone@b1' in listing and 'blockstore-volume' in listing
    run(conf, 'service', 'remove', 'blockstore-volume', 'gone@b1')
    assert 'gone@b1' not in run(conf, 'service', 'list').stdout
    bad = run(conf, 'service', 'remove', 'blockstore-volume', 'gone@b1', ok=False)
    assert bad.returncode != 0 and 'not found' in bad.stderr

    out = run(conf, 'volume', 'delete', vol.id).stdout
    assert 'done' in out
    db.activate()
    try:
        gone = objects.Volume.get_by_id(ctx, vol.id, read_deleted=True)
        assert gone.deleted and gone.status == 'deleted'
    finally:
        db.deactivate()
    missing = run(conf, 'volume', 'delete', vol.id, ok=False)
    assert missing.returncode != 0 and 'not found' in missing.stderr

    purged = run(conf, 'db', 'purge', '--before-days', '0').stdout
    assert 'Purged 1 volumes' in purged


def test_version():
    p = subprocess.run([sys.executable, '-m', 'blockstore.cmd.manage', 'version'],
                       capture_output=True, text=True, timeout=60)
    import blockstore
    assert p.returncode == 0 and p.stdout.strip() == blockstore.__version__


def test_online_data_migrations_cluster_and_host_commands(conf_file):
    """Rows a 0.1 service wrote: the upgrade check fails until online_data_migrations
    exits 0; cluster list/remove and host list show and retire services."""
    conf, db = conf_file
    run(conf, 'db', 'sync')
    db.activate()
    try:
        from blockstore.common import context
        from blockstore.db import api
        ctx = context.get_admin_context()
        for host in ('n1@file', 'n2@file'):
            api.service_create(ctx, {'host': host, 'binary': 'blockstore-volume',
                                     'topic': 't', 'cluster_name': 'c1@file',
                                     'availability_zone': 'zone-a',
                                     'rpc_current_version': '1.8',
                                     'object_current_version': '1.3'})
        api.service_create(ctx, {'host': 'n1', 'binary': 'blockstore-scheduler',
                                 'topic': 't', 'rpc_current_version': '1.2',
                                 'object_current_version': '1.3'})
    finally:
        db.deactivate()

    def status():
        return subprocess.run([sys.executable, '-m', 'blockstore.cmd.status', 'upgrade',
                               'check', '--config-file', conf],
                              capture_output=True, text=True, timeout=60)
    before = status()
    assert before.returncode == 2 and 'online_data_migrations' in before.stdout, before.stdout
    partial = run(conf, 'db', 'online_data_migrations', '--max-count', '1', ok=False)
    assert partial.returncode == 1 and '2 row(s) still to migrate' in partial.stdout, \
        partial.stdout + partial.stderr
    assert run(conf, 'db', 'online_data_migrations').returncode == 0
    after = status()
    # Migrated; what remains is a warning that the services run release 0.1.
    assert after.returncode == 1 and 'n1@file (0.1)' in after.stdout, after.stdout
    assert '0.1' in run(conf, 'service', 'list').stdout

    hosts = run(conf, 'host', 'list').stdout.splitlines()
    assert hosts[0].split() == ['Host', 'Zone']
    assert sorted(tuple(h.split()) for h in hosts[1:]) == [
        ('n1', 'nova'), ('n1@file', 'zone-a'), ('n2@file', 'zone-a')]
    assert [h.split()[0] for h in run(conf, 'host', 'list', 'zone-a').stdout.splitlines()[1:]] \
        == ['n1@file', 'n2@file']

    clusters = run(conf, 'cluster', 'list').stdout.splitlines()
    assert clusters[1].split()[:6] == ['c1@file', 'blockstore-volume', 'down', 'enabled',
                                       '2', '2'], clusters
    run(conf, 'cluster', 'remove', 'blockstore-volume', 'c1@file')
    assert len(run(conf, 'cluster', 'list').stdout.splitlines()) == 1
    assert 'n1@file' not in run(conf, 'service', 'list').stdout
    missing = run(conf, 'cluster', 'remove', 'blockstore-volume', 'c1@file', ok=False)
    assert missing.returncode != 0 and 'not found' in missing.stderr
