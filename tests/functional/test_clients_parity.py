"""Cinder parity seen through the unmodified ``cinder`` CLI against the embedded blockstore-all.

``cinder delete --cascade``, the Request-ID cinderclient prints with an error,
and noauth callers that are administrators unless they send X-Roles.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.fixtures.deployment import MEMBER_HEADERS
from tests.functional.test_clients_attach import _cinder, _wait, embedded  # noqa: F401


def _cli(dep, project, *args):
    cinder = shutil.which('cinder', path=os.path.dirname(sys.executable))
    if cinder is None:
        pytest.skip('the cinder CLI (python-cinderclient) is not installed')
    cmd = [cinder, '--os-auth-type', 'noauth', '--os-user-id', project, '--os-project-id',
           project, '--os-endpoint', dep.endpoint + '/v3', '--os-volume-api-version', '3.71']
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=90)


def _project():
    return 'par-' + uuid.uuid4().hex[:8]


def _gone(dep, project, kind, rid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = dep.request('GET', '/%ss/%s' % (kind, rid), project=project, user=project)
        if r.status_code == 404:
            return True
        time.sleep(0.1)
    return False


def test_cinder_delete_cascade(embedded):  # noqa: F811
    project = _project()
    c = _cinder(embedded, project)
    vol = c.volumes.create(1)
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    snaps = [c.volume_snapshots.create(vol.id) for _ in range(2)]
    for s in snaps:
        _wait(lambda: c.volume_snapshots.get(s.id), 'available')
    files = [os.path.join(embedded.volumes_dir('file1'), name)
             for name in ['volume-%s' % vol.id] + ['snapshot-%s' % s.id for s in snaps]]
    assert all(os.path.exists(f) for f in files), os.listdir(embedded.volumes_dir('file1'))

    out = _cli(embedded, project, 'delete', vol.id)        # snapshots refuse a plain delete
    assert out.returncode != 0 and 'the volume has snapshots' in out.stderr + out.stdout
    out = _cli(embedded, project, 'delete', '--cascade', vol.id)
    assert out.returncode == 0, out.stderr
    assert _gone(embedded, project, 'volume', vol.id)
    for s in snaps:
        assert _gone(embedded, project, 'snapshot', s.id)
    assert [f for f in files if os.path.exists(f)] == []


def test_cinder_cascade_names_the_snapshot_it_cannot_delete(embedded):  # noqa: F811
    project = _project()
    c = _cinder(embedded, project)
    vol = c.volumes.create(1)
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    snap = c.volume_snapshots.create(vol.id)
    _wait(lambda: c.volume_snapshots.get(snap.id), 'available')
    admin = _cinder(embedded, 'admin')
    admin.volume_snapshots.reset_state(snap, 'creating')
    out = _cli(embedded, project, 'delete', '--cascade', vol.id)
    assert out.returncode != 0
    assert snap.id in out.stderr + out.stdout
    assert c.volumes.get(vol.id).status == 'available'
    assert c.volume_snapshots.get(snap.id).status == 'creating'


def _server_logged(dep, rid, method, path_re, status):
    """The API's log line of that response, itself logged under the request's id."""
    with open(os.path.join(dep.workdir, 'blockstore.log')) as f:
        log = f.read()
    rid = re.escape(rid)
    return re.search(r'\[None %s .*\] %s %s %s returned %s' % (rid, rid, method, path_re,
                                                             status), log)


def test_cinder_prints_the_servers_request_id(embedded):  # noqa: F811
    # `cinder show UNKNOWN` looks the name up after the 404 and says "No volume with a
    # name or ID ..." (with Cinder too); attachment-show reports the 404 itself.
    missing = str(uuid.uuid4())
    out = _cli(embedded, _project(), 'attachment-show', missing)
    assert out.returncode != 0
    found = re.search(r'\(HTTP 404\) \(Request-ID: (req-[0-9a-f-]+)\)', out.stderr)
    assert found, out.stderr
    assert _server_logged(embedded, found.group(1), 'GET',
                          r'/v3/(\S+/)?attachments/' + missing, 404), found.group(1)
    # A refused request (400) too.
    project = _project()
    c = _cinder(embedded, project)
    vol = c.volumes.create(1)
    _wait(lambda: c.volumes.get(vol.id), 'available')
    c.volume_snapshots.create(vol.id)
    out = _cli(embedded, project, 'delete', vol.id)
    found = re.search(r'\(HTTP 400\) \(Request-ID: (req-[0-9a-f-]+)\)', out.stderr + out.stdout)
    assert out.returncode != 0 and found, (out.stdout, out.stderr)
    assert _server_logged(embedded, found.group(1), 'DELETE',
                          r'/v3/(\S+/)?volumes/' + vol.id, 400)


def test_noauth_without_roles_is_an_admin(embedded):  # noqa: F811
    project = _project()
    name = 'par-type-' + uuid.uuid4().hex[:6]
    out = _cli(embedded, project, 'type-create', name)
    assert out.returncode == 0, out.stderr
    assert name in out.stdout
    c = _cinder(embedded, project)
    vol = c.volumes.create(1)
    _wait(lambda: c.volumes.get(vol.id), 'available')
    # ... while a member (X-Roles) is still refused both.
    base = '%s/v3/%s' % (embedded.endpoint, project)
    headers = dict(MEMBER_HEADERS, **{'X-Auth-Token': '%s:%s' % (project, project),
                                      'OpenStack-API-Version': 'volume 3.71'})
    r = requests.post(base + '/types', json={'volume_type': {'name': name + '-m'}},
                      headers=headers, timeout=30)
    assert r.status_code == 403, r.text
    r = requests.post(base + '/volumes/%s/action' % vol.id, json={'os-force_delete': {}},
                      headers=headers, timeout=30)
    assert r.status_code == 403, r.text
    assert c.volumes.get(vol.id).status == 'available'

    out = _cli(embedded, project, 'force-delete', vol.id)
    assert out.returncode == 0, out.stderr
    assert _gone(embedded, project, 'volume', vol.id)
