"""Resources whose backend is a later issue (groups), through real clients, and the
empty backup listings of a new project (backups themselves: test_clients_backups.py).

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

from tests.functional.test_clients_attach import _cinder, _sdk, embedded  # noqa: F401


def test_cinderclient_backups_and_groups(embedded):  # noqa: F811
    project = 'later-' + uuid.uuid4().hex[:8]
    c = _cinder(embedded, project)
    assert c.backups.list() == []
    assert c.groups.list() == []
    assert c.group_snapshots.list() == []
    assert c.group_types.list() == []
    with pytest.raises(cinder_exc.NotFound):
        c.backups.get(str(uuid.uuid4()))


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
