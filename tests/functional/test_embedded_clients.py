"""The embedded blockstore-all driven by real clients: python-cinderclient (API and CLI)
and openstacksdk, in noauth mode, exactly as a user would run them.
"""

import os
import subprocess
import sys
import time

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import openstack.connection
import pytest

from tests.fixtures import deployment as depfix
from tests.fixtures.deployment import MEMBER_HEADERS

GiB = 1024 ** 3


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    dep = depfix.Deployment(tmp_path_factory.mktemp('embedded'))
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        yield dep
    finally:
        dep.stop_all()


def _cinder(dep, project='demo', user='demo', version='3.71'):
    auth = noauth.CinderNoAuthPlugin(user, project, endpoint=dep.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client(version, session=sess)


def _wait(get, want, timeout=30):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        assert not obj.status.startswith('error'), obj.status
        time.sleep(0.1)
        obj = get()
    assert obj.status == want, obj.status
    return obj


def _file(dep, vid):
    return os.path.join(dep.volumes_dir('file1'), 'volume-%s' % vid)


def test_cinderclient_volume_lifecycle(embedded):
    c = _cinder(embedded)
    vol = c.volumes.create(1, name='cc-vol', description='d', metadata={'a': '1'})
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    assert os.path.getsize(_file(embedded, vol.id)) == GiB
    assert vol.metadata == {'a': '1'} and vol.name == 'cc-vol'

    # show / list summary and detail / filters
    assert vol.id in [v.id for v in c.volumes.list(detailed=False)]
    listed = c.volumes.list(search_opts={'name': 'cc-vol'})
    assert [v.id for v in listed] == [vol.id]

    # update name/description and metadata
    c.volumes.update(vol, name='renamed', description='new')
    c.volumes.set_metadata(vol, {'b': '2'})
    c.volumes.delete_metadata(vol, ['a'])
    vol = c.volumes.get(vol.id)
    assert (vol.name, vol.description, vol.metadata) == ('renamed', 'new', {'b': '2'})

    # extend
    c.volumes.extend(vol, 2)
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    assert vol.size == 2 and os.path.getsize(_file(embedded, vol.id)) == 2 * GiB

    # snapshot, volume from snapshot, clone
    with open(_file(embedded, vol.id), 'r+b') as f:
        f.write(b'blockstore-pattern')
    snap = c.volume_snapshots.create(vol.id, name='cc-snap')
    snap = _wait(lambda: c.volume_snapshots.get(snap.id), 'available')
    assert snap.id in [s.id for s in c.volume_snapshots.list()]
    from_snap = c.volumes.create(2, snapshot_id=snap.id)
    clone = c.volumes.create(3, source_volid=vol.id)
    for v in (from_snap, clone):
        v = _wait(lambda: c.volumes.get(v.id), 'available')
        with open(_file(embedded, v.id), 'rb') as f:
            assert f.read(18) == b'blockstore-pattern'
    assert c.volumes.get(clone.id).size == 3

    # a volume with snapshots cannot be deleted: 400 naming the reason
    with pytest.raises(Exception) as err:
        c.volumes.delete(vol)
    assert 'snapshots' in str(err.value)

    # delete everything
    c.volume_snapshots.delete(snap)
    deadline = time.time() + 30
    while snap.id in [s.id for s in c.volume_snapshots.list()] and time.time() < deadline:
        time.sleep(0.1)
    for v in (vol, from_snap, clone):
        c.volumes.delete(v.id)
    deadline = time.time() + 30
    while time.time() < deadline and {vol.id, from_snap.id, clone.id} & {
            v.id for v in c.volumes.list()}:
        time.sleep(0.1)
    assert not {vol.id, from_snap.id, clone.id} & {v.id for v in c.volumes.list()}
    assert not os.path.exists(_file(embedded, vol.id))


def test_cinderclient_volume_types(embedded):
    admin = _cinder(embedded, project='admin', user='admin')
    vt = admin.volume_types.create('gold-%s' % embedded.uid, description='fast')
    vt.set_keys({'volume_backend_name': 'file1'})
    assert 'gold-%s' % embedded.uid in [t.name for t in _cinder(embedded).volume_types.list()]
    c = _cinder(embedded)
    vol = c.volumes.create(1, volume_type=vt.name)
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    assert vol.volume_type == vt.name
    # a type no backend can satisfy: the volume goes to error, with a reason
    bad = admin.volume_types.create('nowhere-%s' % embedded.uid)
    bad.set_keys({'volume_backend_name': 'no-such-backend'})
    v2 = c.volumes.create(1, volume_type=bad.name)
    _wait(lambda: c.volumes.get(v2.id), 'error')
    c.volumes.delete(v2)
    c.volumes.delete(vol)


def test_cinderclient_bad_input_is_400(embedded):
    from cinderclient import exceptions
    c = _cinder(embedded)
    with pytest.raises(exceptions.BadRequest):
        c.volumes.create(0)
    with pytest.raises(exceptions.NotFound):
        c.volumes.get('00000000-0000-0000-0000-000000000000')


def test_cinder_cli_create(embedded):
    """The README's example: `cinder --os-auth-type noauth ... create 1`."""
    cinder = os.path.join(os.path.dirname(sys.executable), 'cinder')
    out = subprocess.run(
        [cinder, '--os-auth-type', 'noauth', '--os-user-id', 'demo', '--os-project-id',
         'demo', '--os-endpoint', embedded.endpoint + '/v3', '--os-volume-api-version',
         '3.71', 'create', '--name', 'from-cli', '1'],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    c = _cinder(embedded)
    vol = [v for v in c.volumes.list() if v.name == 'from-cli'][0]
    _wait(lambda: c.volumes.get(vol.id), 'available')
    out = subprocess.run(
        [cinder, '--os-auth-type', 'noauth', '--os-user-id', 'demo', '--os-project-id',
         'demo', '--os-endpoint', embedded.endpoint + '/v3', 'list'],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and vol.id in out.stdout, out.stderr


def _sdk(dep, project='demo'):
    auth = token_endpoint.Token(dep.endpoint + '/v3/' + project, '%s:%s' % (project, project))
    return openstack.connection.Connection(
        session=ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS),
        block_storage_endpoint_override=dep.endpoint + '/v3/' + project,
        block_storage_api_version='3')


def test_openstacksdk_volume_lifecycle(embedded):
    conn = _sdk(embedded)
    bs = conn.block_storage
    vol = bs.create_volume(size=1, name='sdk-vol', metadata={'k': 'v'})
    vol = bs.wait_for_status(vol, 'available', failures=['error'], interval=0.2, wait=30)
    assert vol.size == 1 and vol.metadata == {'k': 'v'}
    assert vol.id in [v.id for v in bs.volumes(details=True)]
    bs.extend_volume(vol, 2)
    vol = bs.wait_for_status(bs.get_volume(vol.id), 'available', interval=0.2, wait=30)
    assert bs.get_volume(vol.id).size == 2
    snap = bs.create_snapshot(volume_id=vol.id, name='sdk-snap')
    snap = bs.wait_for_status(snap, 'available', failures=['error'], interval=0.2, wait=30)
    from_snap = bs.create_volume(size=2, snapshot_id=snap.id)
    bs.wait_for_status(from_snap, 'available', failures=['error'], interval=0.2, wait=30)
    assert {t.name for t in bs.types()} >= {'__DEFAULT__'}
    bs.delete_volume(from_snap)
    bs.delete_snapshot(snap)
    bs.wait_for_delete(snap, interval=0.2, wait=30)
    bs.delete_volume(vol)
    bs.wait_for_delete(vol, interval=0.2, wait=30)
