"""Backups through real clients against the embedded blockstore-all (API, scheduler,
volume service and backup service with the posix store under $state_path/backups):
python-cinderclient (API and the ``cinder`` CLI), openstacksdk and the ``openstack`` CLI.

Data goes through for real: bytes written to a volume (through an attachment's local
path) come back from a restore into a new volume, onto an existing one, and into a
volume created from the backup (3.47).
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid

from cinderclient import exceptions as cinder_exc
import pytest

from tests.functional.test_clients_attach import CONNECTOR, _cinder, _sdk, embedded  # noqa: F401

PAYLOAD_AT = 4 * 1024 * 1024   # a little into the volume: the rest stays a hole


def _project():
    return 'bk-' + uuid.uuid4().hex[:8]


def _wait(get, want, timeout=60):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        if obj.status.startswith('error') and not want.startswith('error'):
            break
        time.sleep(0.1)
        obj = get()
    assert obj.status == want, (obj.status, getattr(obj, 'fail_reason', None))
    return obj


def _wait_gone(get, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            get()
        except cinder_exc.NotFound:
            return
        time.sleep(0.1)
    raise AssertionError('still there after %ss' % timeout)


def _available_volume(c, size=1):
    vol = c.volumes.create(size)
    return _wait(lambda: c.volumes.get(vol.id), 'available')


def _with_path(c, volume_id, use):
    """Attach ``volume_id`` to this host, call ``use(path)``, detach; its result."""
    created = c.attachments.create(volume_id, None, instance_id=str(uuid.uuid4()))
    att = c.attachments.update(created['id'], CONNECTOR)
    try:
        info = att.connection_info
        assert info['driver_volume_type'] == 'local'
        return use(info['device_path'])
    finally:
        c.attachments.delete(att.id)
        _wait(lambda: c.volumes.get(volume_id), 'available')


def _write(c, volume_id, payload):
    def write(path):
        with open(path, 'r+b') as f:
            f.seek(PAYLOAD_AT)
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
    _with_path(c, volume_id, write)


def _read(c, volume_id, length):
    def read(path):
        with open(path, 'rb') as f:
            f.seek(PAYLOAD_AT)
            return f.read(length)
    return _with_path(c, volume_id, read)


def _lose_backup_row(dep, backup_id):
    """What a lost database does to a backup: its rows are gone, its objects are not."""
    assert dep.db_url is None, 'the embedded deployment uses its SQLite file'
    db = sqlite3.connect(os.path.join(dep.state_path, 'blockstore.sqlite'))
    try:
        with db:
            db.execute('DELETE FROM backup_metadata WHERE backup_id = ?', (backup_id,))
            db.execute("DELETE FROM workers WHERE resource_type = 'backup' AND "
                       "resource_id = ?", (backup_id,))
            db.execute('DELETE FROM backups WHERE id = ?', (backup_id,))
    finally:
        db.close()


# -- python-cinderclient ---------------------------------------------------------------------

def test_cinderclient_backup_lifecycle(embedded):  # noqa: F811
    project = _project()
    c = _cinder(embedded, project)
    admin = _cinder(embedded)
    vol = _available_volume(c)
    payload = b'cinderclient backup ' + uuid.uuid4().bytes
    _write(c, vol.id, payload)

    backup = c.backups.create(vol.id, name='b1', description='first')
    assert backup.name == 'b1'
    backup = _wait(lambda: c.backups.get(backup.id), 'available')
    assert backup.size == 1 and backup.volume_id == vol.id
    assert backup.is_incremental is False and backup.object_count >= 1
    assert c.volumes.get(vol.id).status == 'available'
    assert [b.id for b in c.backups.list()] == [backup.id]
    assert [b.id for b in c.backups.list(search_opts={'name': 'b1'})] == [backup.id]
    c.backups.update(backup.id, name='b1-renamed')
    assert c.backups.get(backup.id).name == 'b1-renamed'

    # An incremental after a change; its parent cannot be deleted while it lives.
    _write(c, vol.id, payload[::-1])
    inc = c.backups.create(vol.id, incremental=True)
    inc = _wait(lambda: c.backups.get(inc.id), 'available')
    assert inc.is_incremental is True
    assert c.backups.get(backup.id).has_dependent_backups is True
    with pytest.raises(cinder_exc.BadRequest):
        c.backups.delete(backup.id)

    # Restore the full backup to a new volume: the first payload comes back.
    restore = c.restores.restore(backup.id, name='restored')
    assert restore.backup_id == backup.id and restore.volume_name == 'restored'
    restored = _wait(lambda: c.volumes.get(restore.volume_id), 'available', timeout=90)
    _wait(lambda: c.backups.get(backup.id), 'available')
    assert _read(c, restored.id, len(payload)) == payload

    # Restore the incremental onto an existing volume: the second payload.
    target = _available_volume(c)
    restore = c.restores.restore(inc.id, volume_id=target.id)
    assert restore.volume_id == target.id
    _wait(lambda: c.volumes.get(target.id), 'available', timeout=90)
    _wait(lambda: c.backups.get(inc.id), 'available')
    assert _read(c, target.id, len(payload)) == payload[::-1]

    # 3.47: a volume created from a backup.
    from_backup = c.volumes.create(size=None, backup_id=backup.id, name='from-backup')
    from_backup = _wait(lambda: c.volumes.get(from_backup.id), 'available', timeout=90)
    assert from_backup.size == 1
    assert _read(c, from_backup.id, len(payload)) == payload

    # Export (admin); the database loses the backup (its objects stay in the store);
    # importing the record brings it back under its id, and it restores.
    with pytest.raises(cinder_exc.Forbidden):
        c.backups.export_record(inc.id)
    c.backups.delete(inc.id)
    _wait_gone(lambda: c.backups.get(inc.id))
    record = admin.backups.export_record(backup.id)
    assert record['backup_service'] and record['backup_url']
    with pytest.raises(cinder_exc.BadRequest):   # it still exists
        admin.backups.import_record(record['backup_service'], record['backup_url'])
    _lose_backup_row(embedded, backup.id)
    with pytest.raises(cinder_exc.NotFound):
        c.backups.get(backup.id)
    imported = admin.backups.import_record(record['backup_service'], record['backup_url'])
    assert imported['id'] == backup.id
    imported = _wait(lambda: admin.backups.get(imported['id']), 'available')
    assert imported.size == 1
    restore = admin.restores.restore(imported.id, name='from-import')
    again = _wait(lambda: admin.volumes.get(restore.volume_id), 'available', timeout=90)
    assert _read(admin, again.id, len(payload)) == payload
    admin.backups.delete(imported.id)
    _wait_gone(lambda: admin.backups.get(imported.id))
    for v in (vol, restored, target, from_backup):
        c.volumes.delete(v.id)
    admin.volumes.delete(again.id)


def test_cinderclient_admin_actions_and_errors(embedded):  # noqa: F811
    project = _project()
    c = _cinder(embedded, project)
    admin = _cinder(embedded)
    vol = _available_volume(c)
    backup = c.backups.create(vol.id)
    backup = _wait(lambda: c.backups.get(backup.id), 'available')
    with pytest.raises(cinder_exc.NotFound):
        c.backups.get(str(uuid.uuid4()))
    with pytest.raises(cinder_exc.NotFound):
        _cinder(embedded, _project()).backups.get(backup.id)
    with pytest.raises(cinder_exc.Forbidden):
        c.backups.reset_state(backup, 'error')
    admin.backups.reset_state(backup, 'error')
    assert c.backups.get(backup.id).status == 'error'
    with pytest.raises(cinder_exc.BadRequest):
        admin.backups.reset_state(backup, 'bogus')
    # A restore of a backup in error is refused.
    with pytest.raises(cinder_exc.BadRequest):
        c.restores.restore(backup.id)
    # An incremental needs an available parent: the only backup is in error.
    with pytest.raises(cinder_exc.BadRequest):
        c.backups.create(vol.id, incremental=True)
    with pytest.raises(cinder_exc.NotFound):
        c.backups.create(str(uuid.uuid4()))
    admin.backups.delete(backup, force=True)
    _wait_gone(lambda: c.backups.get(backup.id))
    c.volumes.delete(vol.id)


def _cli(dep, project, *args):
    cinder = shutil.which('cinder', path=os.path.dirname(sys.executable))
    base = [cinder, '--os-auth-type', 'noauth', '--os-user-id', project, '--os-project-id',
            project, '--os-endpoint', dep.endpoint + '/v3', '--os-volume-api-version', '3.71']
    out = subprocess.run(base + list(args), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout


def test_cinder_cli_backup_commands(embedded):  # noqa: F811
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    out = _cli(embedded, project, 'backup-create', '--name', 'cli-b', vol.id)
    assert 'cli-b' in out
    backup = [b for b in c.backups.list() if b.name == 'cli-b'][0]
    _wait(lambda: c.backups.get(backup.id), 'available')
    assert backup.id in _cli(embedded, project, 'backup-list')
    assert 'cli-b' in _cli(embedded, project, 'backup-show', backup.id)
    # Restore to a new volume by name (the restore API), and with a volume type (the
    # client then creates the volume from the backup: 3.47).
    out = _cli(embedded, project, 'backup-restore', '--name', 'cli-restored', backup.id)
    assert 'cli-restored' in out
    restored = [v for v in c.volumes.list() if v.name == 'cli-restored'][0]
    _wait(lambda: c.volumes.get(restored.id), 'available', timeout=90)
    _wait(lambda: c.backups.get(backup.id), 'available')
    vtype = c.volume_types.default().name
    out = _cli(embedded, project, 'backup-restore', '--name', 'cli-typed', '--volume-type',
               vtype, backup.id)
    typed = [v for v in c.volumes.list() if v.name == 'cli-typed'][0]
    typed = _wait(lambda: c.volumes.get(typed.id), 'available', timeout=90)
    assert typed.volume_type == vtype
    _wait(lambda: c.backups.get(backup.id), 'available')
    _cli(embedded, project, 'backup-delete', backup.id)
    _wait_gone(lambda: c.backups.get(backup.id))
    for v in (vol, restored, typed):
        c.volumes.delete(v.id)


# -- openstacksdk and the openstack CLI -----------------------------------------------------

def test_openstacksdk_backups(embedded):  # noqa: F811
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    conn = _sdk(embedded, project)
    backup = conn.block_storage.create_backup(volume_id=vol.id, name='sdk-b')
    backup = conn.block_storage.wait_for_status(backup, 'available', failures=['error'],
                                                interval=0.2, wait=60)
    assert backup.volume_id == vol.id and backup.size == 1
    assert [b.id for b in conn.block_storage.backups()] == [backup.id]
    assert conn.block_storage.get_backup(backup.id).name == 'sdk-b'
    restored = conn.block_storage.restore_backup(backup, name='sdk-restored')
    new = _wait(lambda: c.volumes.get(restored['volume_id']), 'available', timeout=90)
    _wait(lambda: c.backups.get(backup.id), 'available')
    conn.block_storage.delete_backup(backup, ignore_missing=False)
    _wait_gone(lambda: c.backups.get(backup.id))
    for v in (vol, new):
        c.volumes.delete(v.id)


def test_openstack_cli_backups(embedded):  # noqa: F811
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    osc = shutil.which('openstack', path=os.path.dirname(sys.executable))
    base = [osc, '--os-auth-type', 'admin_token', '--os-token', '%s:%s' % (project, project),
            '--os-endpoint', embedded.endpoint + '/v3', '--os-volume-api-version', '3.71']

    def run(*args):
        out = subprocess.run(base + list(args), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout

    created = json.loads(run('volume', 'backup', 'create', '--name', 'osc-b', vol.id,
                             '-f', 'json'))
    _wait(lambda: c.backups.get(created['id']), 'available')
    listed = json.loads(run('volume', 'backup', 'list', '-f', 'json'))
    assert [b['ID'] for b in listed] == [created['id']]
    shown = json.loads(run('volume', 'backup', 'show', created['id'], '-f', 'json'))
    assert shown['name'] == 'osc-b' and shown['status'] == 'available'
    run('volume', 'backup', 'delete', created['id'])
    _wait_gone(lambda: c.backups.get(created['id']))
    c.volumes.delete(vol.id)
