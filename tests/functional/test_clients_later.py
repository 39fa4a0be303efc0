"""Resources whose backend is a later issue (backups, groups), through real clients.

The routes exist now: listings are empty, creating is a clear 501 naming
what is missing, and clients show that message instead of crashing.
"""

import os
import shutil
import subprocess
import sys
import uuid

from cinderclient import exceptions as cinder_exc
import pytest

from tests.functional.test_clients_attach import _available_volume, _cinder, _sdk, embedded  # noqa: F401,E501


def test_cinderclient_backups_and_groups(embedded):  # noqa: F811
    project = 'later-' + uuid.uuid4().hex[:8]
    c = _cinder(embedded, project)
    assert c.backups.list() == []
    assert c.groups.list() == []
    assert c.group_snapshots.list() == []
    assert c.group_types.list() == []
    vol = _available_volume(c)
    with pytest.raises(cinder_exc.ClientException) as info:
        c.backups.create(vol.id)
    assert info.value.code == 501 and 'backup service' in str(info.value)
    with pytest.raises(cinder_exc.NotFound):
        c.backups.get(str(uuid.uuid4()))


def test_cinder_cli_backup_create_says_why(embedded):  # noqa: F811
    project = 'later-' + uuid.uuid4().hex[:8]
    vol = _available_volume(_cinder(embedded, project))
    cinder = shutil.which('cinder', path=os.path.dirname(sys.executable))
    base = [cinder, '--os-auth-type', 'noauth', '--os-user-id', project, '--os-project-id',
            project, '--os-endpoint', embedded.endpoint + '/v3', '--os-volume-api-version',
            '3.71']
    out = subprocess.run(base + ['backup-list'], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    out = subprocess.run(base + ['backup-create', vol.id], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode != 0
    assert 'backup service' in out.stderr and '501' in out.stderr


def test_openstacksdk_and_cli_listings(embedded):  # noqa: F811
    project = 'later-' + uuid.uuid4().hex[:8]
    conn = _sdk(embedded, project)
    assert list(conn.block_storage.backups()) == []
    assert list(conn.block_storage.groups()) == []
    osc = shutil.which('openstack', path=os.path.dirname(sys.executable))
    base = [osc, '--os-auth-type', 'admin_token', '--os-token', '%s:%s' % (project, project),
            '--os-endpoint', embedded.endpoint + '/v3', '--os-volume-api-version', '3.71']
    for what in (['volume', 'backup', 'list'], ['volume', 'group', 'list'],
                 ['volume', 'group', 'type', 'list']):
        out = subprocess.run(base + what + ['-f', 'json'], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, (what, out.stderr)
        assert out.stdout.strip() == '[]', (what, out.stdout)
