"""Volume migration and on-demand retype through python-cinderclient's CLI against the
embedded deployment with two file backends (enabled_backends = a,b) on one node.

The bytes written into a volume's file on backend a must be found in its file on
backend b afterwards, and nothing of it left on a.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from keystoneauth1 import session as ks_session
import pytest

from tests.fixtures import deployment as depfix
from tests.fixtures.deployment import MEMBER_HEADERS

MiB = 1024 ** 2


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    dep = depfix.Deployment(tmp_path_factory.mktemp('migrate'), backends=('a', 'b'))
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        yield dep
    finally:
        dep.stop_all()


def _cinder(dep, project):
    auth = noauth.CinderNoAuthPlugin(project, project, endpoint=dep.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client('3.71', session=sess)


def _cli(dep, project, *args):
    cinder = shutil.which('cinder', path=os.path.dirname(sys.executable))
    cmd = [cinder, '--os-auth-type', 'noauth', '--os-user-id', project,
           '--os-project-id', project, '--os-endpoint', dep.endpoint + '/v3',
           '--os-volume-api-version', '3.71'] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (cmd, out.stdout, out.stderr)
    return out.stdout


@pytest.fixture(scope='module')
def types(embedded):
    admin = _cinder(embedded, 'admin')
    names = {}
    for backend in ('a', 'b'):
        name = 'on-%s-%s' % (backend, uuid.uuid4().hex[:6])
        vtype = admin.volume_types.create(name)
        vtype.set_keys({'volume_backend_name': backend})
        names[backend] = name
    return names


def _wait(get, done, timeout=60):
    deadline = time.time() + timeout
    obj = get()
    while not done(obj) and time.time() < deadline:
        time.sleep(0.2)
        obj = get()
    assert done(obj), obj._info
    return obj


def _volume_with_data(dep, c, vtype):
    vol = c.volumes.create(1, volume_type=vtype)
    vol = _wait(lambda: c.volumes.get(vol.id), lambda v: v.status == 'available')
    path = os.path.join(dep.volumes_dir('a'), 'volume-%s' % vol.id)
    data = {0: os.urandom(65536), 700 * MiB + 3: b'blockstore' * 999}
    fd = os.open(path, os.O_WRONLY)
    try:
        for offset, chunk in data.items():
            os.pwrite(fd, chunk, offset)
    finally:
        os.close(fd)
    return vol, path, data


def _moved(dep, admin, vol_id, data):
    """The path of the volume's file on b, checked to hold ``data``."""
    info = admin.volumes.get(vol_id)._info
    assert info['os-vol-host-attr:host'].split('@')[1] == 'b#b', info
    name_id = info['os-vol-mig-status-attr:name_id'] or vol_id
    path = os.path.join(dep.volumes_dir('b'), 'volume-%s' % name_id)
    with open(path, 'rb') as f:
        for offset, chunk in data.items():
            f.seek(offset)
            assert f.read(len(chunk)) == chunk
    return path


def test_cinder_migrate_moves_the_bytes_and_removes_the_source(embedded, types):
    project = 'mig-' + uuid.uuid4().hex[:8]
    c = _cinder(embedded, project)
    admin = _cinder(embedded, 'admin')
    vol, src, data = _volume_with_data(embedded, c, types['a'])

    _cli(embedded, 'admin', 'migrate', vol.id, embedded.host + '@b')
    done = _wait(lambda: admin.volumes.get(vol.id),
                 lambda v: getattr(v, 'os-vol-mig-status-attr:migstat') in ('success', 'error'))
    assert getattr(done, 'os-vol-mig-status-attr:migstat') == 'success', done._info
    assert done.status == 'available'
    moved = _moved(embedded, admin, vol.id, data)
    assert not os.path.exists(src)
    # The user sees one volume, the same id; deleting it removes the moved file.
    assert [v.id for v in c.volumes.list()] == [vol.id]
    c.volumes.delete(vol.id)
    deadline = time.time() + 30
    while os.path.exists(moved) and time.time() < deadline:
        time.sleep(0.2)
    assert not os.path.exists(moved)


def test_cinder_retype_on_demand_moves_the_volume(embedded, types):
    project = 'mig-' + uuid.uuid4().hex[:8]
    c = _cinder(embedded, project)
    admin = _cinder(embedded, 'admin')
    vol, src, data = _volume_with_data(embedded, c, types['a'])

    _cli(embedded, project, 'retype', '--migration-policy', 'on-demand', vol.id, types['b'])
    done = _wait(lambda: c.volumes.get(vol.id),
                 lambda v: v.status == 'available' and v.volume_type == types['b'])
    assert done.volume_type == types['b']
    _moved(embedded, admin, vol.id, data)
    assert not os.path.exists(src)


def test_cinder_migrate_of_an_attached_volume_says_why(embedded, types):
    project = 'mig-' + uuid.uuid4().hex[:8]
    c = _cinder(embedded, project)
    vol, _, _ = _volume_with_data(embedded, c, types['a'])
    # What an attach leaves, as far as the API's check is concerned.
    _cinder(embedded, 'admin').volumes.reset_state(vol, 'in-use', attach_status='attached')
    cinder = shutil.which('cinder', path=os.path.dirname(sys.executable))
    out = subprocess.run([cinder, '--os-auth-type', 'noauth', '--os-user-id', 'admin',
                          '--os-project-id', 'admin', '--os-endpoint',
                          embedded.endpoint + '/v3', '--os-volume-api-version', '3.71',
                          'migrate', vol.id, embedded.host + '@b'],
                         capture_output=True, text=True, timeout=60)
    # cinder migrate prints the refusal and exits 0 (it reports, per volume, on stdout).
    said = out.stdout + out.stderr
    assert 'only detached volumes can be migrated' in said and 'HTTP 400' in said, said
    info = _cinder(embedded, 'admin').volumes.get(vol.id)._info
    assert info['os-vol-mig-status-attr:migstat'] is None
    assert info['os-vol-host-attr:host'].split('@')[1] == 'a#a'
