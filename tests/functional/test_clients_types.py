"""Types, QoS, volume actions, transfers and manage/unmanage through real clients
(python-cinderclient, openstacksdk and the openstack CLI) against the embedded deployment.

Projects: 'demo' and 'alice' (plain users) and 'admin'.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from cinderclient import exceptions as cinder_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import openstack.connection
from openstack import exceptions as sdk_exc
import pytest

from tests.fixtures import deployment as depfix
from tests.fixtures.deployment import MEMBER_HEADERS

GiB = 1024 ** 3


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    dep = depfix.Deployment(tmp_path_factory.mktemp('types'))
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        yield dep
    finally:
        dep.stop_all()


def _cinder(dep, project='demo', user=None, version='3.71'):
    auth = noauth.CinderNoAuthPlugin(user or project, project, endpoint=dep.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client(version, session=sess)


def _sdk(dep, project='demo'):
    auth = token_endpoint.Token(dep.endpoint + '/v3/' + project, '%s:%s' % (project, project))
    return openstack.connection.Connection(
        session=ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS),
        block_storage_endpoint_override=dep.endpoint + '/v3/' + project,
        block_storage_api_version='3').block_storage


def _wait(get, want, timeout=30):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        assert not obj.status.startswith('error') or want.startswith('error'), obj.status
        time.sleep(0.1)
        obj = get()
    assert obj.status == want, obj.status
    return obj


def _wait_gone(get, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            get()
        except (cinder_exc.NotFound, sdk_exc.NotFoundException):
            return
        time.sleep(0.1)
    raise AssertionError('still there')


def _path(dep, name):
    return os.path.join(dep.volumes_dir('file1'), name)


def _name(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:6])


def _available_volume(c, size=1, **kw):
    vol = c.volumes.create(size, **kw)
    return _wait(lambda: c.volumes.get(vol.id), 'available')


# -- cinderclient ------------------------------------------------------------------------------

def test_cinderclient_type_access(embedded):
    admin, demo, alice = (_cinder(embedded, p) for p in ('admin', 'demo', 'alice'))
    vt = admin.volume_types.create(_name('private'), is_public=False)
    assert vt.name not in [t.name for t in demo.volume_types.list()]
    with pytest.raises(cinder_exc.NotFound):
        demo.volumes.create(1, volume_type=vt.name)
    admin.volume_type_access.add_project_access(vt, 'demo')
    assert [a.project_id for a in admin.volume_type_access.list(vt)] == ['demo']
    assert vt.name in [t.name for t in demo.volume_types.list()]
    assert vt.name not in [t.name for t in alice.volume_types.list()]
    vol = _available_volume(demo, volume_type=vt.name)
    assert vol.volume_type == vt.name
    admin.volume_type_access.remove_project_access(vt, 'demo')
    assert vt.name not in [t.name for t in demo.volume_types.list()]
    admin.volume_type_access.add_project_access(vt, 'alice')
    with pytest.raises(cinder_exc.ClientException) as err:
        admin.volume_type_access.add_project_access(vt, 'alice')
    assert err.value.code == 409
    demo.volumes.delete(vol)


def test_cinderclient_default_type(embedded):
    admin, demo = _cinder(embedded, 'admin'), _cinder(embedded, 'demo', user='demo2')
    vt = admin.volume_types.create(_name('dflt'))
    admin.default_types.create(vt.id, 'carol')
    carol = _cinder(embedded, 'carol')
    assert admin.default_types.list('carol').volume_type_id == vt.id
    assert ('carol', vt.id) in [(d.project_id, d.volume_type_id)
                                for d in admin.default_types.list()]
    vol = _available_volume(carol)
    assert vol.volume_type == vt.name
    assert _available_volume(demo).volume_type == '__DEFAULT__'
    admin.default_types.delete('carol')
    carol.volumes.delete(vol)


def test_cinderclient_encryption_type_and_qos(embedded):
    admin, demo = _cinder(embedded, 'admin'), _cinder(embedded)
    vt = admin.volume_types.create(_name('enc'))
    specs = {'provider': 'luks', 'cipher': 'aes-xts-plain64', 'key_size': 256,
             'control_location': 'front-end'}
    admin.volume_encryption_types.create(vt, specs)
    got = admin.volume_encryption_types.get(vt)
    assert (got.provider, got.key_size, got.volume_type_id) == ('luks', 256, vt.id)
    assert vt.id in [e.volume_type_id for e in admin.volume_encryption_types.list()]
    admin.volume_encryption_types.update(vt, {'key_size': 512})
    assert admin.volume_encryption_types.get(vt).key_size == 512
    vol = _available_volume(demo, volume_type=vt.name)
    assert vol.encrypted is True
    with pytest.raises(cinder_exc.BadRequest):          # in use
        admin.volume_encryption_types.delete(vt)
    demo.volumes.delete(vol)
    _wait_gone(lambda: demo.volumes.get(vol.id))
    admin.volume_encryption_types.delete(vt)
    assert not hasattr(admin.volume_encryption_types.get(vt), 'provider')

    qos = admin.qos_specs.create(_name('qos'), {'read_iops_sec': '100', 'consumer': 'both'})
    assert (qos.consumer, qos.specs) == ('both', {'read_iops_sec': '100'})
    admin.qos_specs.set_keys(qos.id, {'write_iops_sec': '50'})
    admin.qos_specs.unset_keys(qos.id, ['read_iops_sec'])
    assert admin.qos_specs.get(qos.id).specs == {'write_iops_sec': '50'}
    admin.qos_specs.associate(qos, vt.id)
    assert [a.id for a in admin.qos_specs.get_associations(qos)] == [vt.id]
    assert admin.volume_types.get(vt.id).qos_specs_id == qos.id
    with pytest.raises(cinder_exc.BadRequest):
        admin.qos_specs.delete(qos)
    admin.qos_specs.disassociate(qos, vt.id)
    admin.qos_specs.associate(qos, vt.id)
    admin.qos_specs.disassociate_all(qos)
    assert admin.qos_specs.get_associations(qos) == []
    admin.qos_specs.associate(qos, vt.id)
    admin.qos_specs.delete(qos, force=True)
    assert qos.id not in [q.id for q in admin.qos_specs.list()]


def test_cinderclient_volume_actions(embedded):
    admin, demo = _cinder(embedded, 'admin'), _cinder(embedded)
    vol = _available_volume(demo)
    admin.volumes.reset_state(vol, 'error')
    assert demo.volumes.get(vol.id).status == 'error'
    admin.volumes.reset_state(vol, 'available', attach_status='detached')
    with pytest.raises(cinder_exc.Forbidden):
        demo.volumes.reset_state(vol, 'error')
    demo.volumes.update_readonly_flag(vol, True)
    assert demo.volumes.get(vol.id).metadata['readonly'] == 'True'
    demo.volumes.set_bootable(vol, True)
    assert demo.volumes.get(vol.id).bootable == 'true'
    demo.volumes.set_image_metadata(vol, {'image_name': 'debian', 'os_distro': 'debian'})
    _resp, body = demo.volumes.show_image_metadata(vol)
    assert body['metadata'] == {'image_name': 'debian', 'os_distro': 'debian'}
    demo.volumes.delete_image_metadata(vol, ['os_distro'])
    assert demo.volumes.get(vol.id).volume_image_metadata == {'image_name': 'debian'}

    # Retype: a type the backend also satisfies works; one it does not is a 400.
    same = admin.volume_types.create(_name('same'))
    same.set_keys({'volume_backend_name': 'file1'})
    elsewhere = admin.volume_types.create(_name('elsewhere'))
    elsewhere.set_keys({'volume_backend_name': 'no-such-backend'})
    demo.volumes.retype(vol, same.name, 'never')
    deadline = time.time() + 30
    while demo.volumes.get(vol.id).volume_type != same.name and time.time() < deadline:
        time.sleep(0.1)
    vol = _wait(lambda: demo.volumes.get(vol.id), 'available')
    assert vol.volume_type == same.name
    with pytest.raises(cinder_exc.BadRequest) as err:
        demo.volumes.retype(vol, elsewhere.name, 'on-demand')
    assert 'no backend suits volume type %s' % elsewhere.name in str(err.value)
    with pytest.raises(cinder_exc.BadRequest) as err:
        demo.volumes.retype(vol, elsewhere.name, 'never')
    assert 'the migration policy is never' in str(err.value)
    assert demo.volumes.get(vol.id).status == 'available'

    with pytest.raises(cinder_exc.BadRequest):
        admin.volumes.migrate_volume(vol, embedded.host + '@file1#file1', False, False)
    demo.volumes.update_readonly_flag(vol, False)
    demo.volumes.delete(vol)


def test_cinderclient_revert_to_snapshot(embedded):
    demo = _cinder(embedded)
    vol = _available_volume(demo)
    path = _path(embedded, 'volume-%s' % vol.id)
    with open(path, 'r+b') as f:
        f.write(b'snapshot-time')
        f.seek(GiB - 4)
        f.write(b'tail')
    snap = demo.volume_snapshots.create(vol.id)
    snap = _wait(lambda: demo.volume_snapshots.get(snap.id), 'available')
    with open(path, 'r+b') as f:
        f.write(b'later-content')
        f.seek(4096)
        f.write(b'more')
    old = _cinder(embedded, version='3.39')
    with pytest.raises(Exception):
        old.volumes.revert_to_snapshot(vol, snap)
    demo.volumes.revert_to_snapshot(vol, snap)
    _wait(lambda: demo.volumes.get(vol.id), 'available')
    assert demo.volume_snapshots.get(snap.id).status == 'available'
    with open(path, 'rb') as f:
        assert f.read(13) == b'snapshot-time'
        f.seek(4096)
        assert f.read(4) == bytes(4)
        f.seek(GiB - 4)
        assert f.read(4) == b'tail'
    # Only the latest snapshot: a newer one makes the old one refused.
    snap2 = demo.volume_snapshots.create(vol.id)
    _wait(lambda: demo.volume_snapshots.get(snap2.id), 'available')
    with pytest.raises(cinder_exc.BadRequest):
        demo.volumes.revert_to_snapshot(vol, snap)
    for s in (snap, snap2):
        demo.volume_snapshots.delete(s)
        _wait_gone(lambda: demo.volume_snapshots.get(s.id))
    demo.volumes.delete(vol)


def test_cinderclient_transfer_between_projects(embedded):
    demo, alice = _cinder(embedded), _cinder(embedded, 'alice')
    vol = _available_volume(demo)
    snap = demo.volume_snapshots.create(vol.id)
    _wait(lambda: demo.volume_snapshots.get(snap.id), 'available')
    transfer = demo.transfers.create(vol.id, name='to-alice')
    assert transfer.auth_key and demo.volumes.get(vol.id).status == 'awaiting-transfer'
    assert transfer.id in [t.id for t in demo.transfers.list()]
    with pytest.raises(cinder_exc.NotFound):
        alice.transfers.get(transfer.id)
    with pytest.raises(cinder_exc.BadRequest):
        alice.transfers.accept(transfer.id, 'not-the-key')
    alice.transfers.accept(transfer.id, transfer.auth_key)
    got = alice.volumes.get(vol.id)
    assert got.status == 'available'
    assert alice.volume_snapshots.get(snap.id).id == snap.id
    with pytest.raises(cinder_exc.NotFound):
        demo.volumes.get(vol.id)
    # The legacy API (before 3.55) and cancelling.
    legacy = _cinder(embedded, 'alice', version='3.0')
    t2 = legacy.transfers.create(vol.id)
    assert alice.volumes.get(vol.id).status == 'awaiting-transfer'
    legacy.transfers.delete(t2.id)
    assert alice.volumes.get(vol.id).status == 'available'
    alice.volume_snapshots.delete(snap)
    _wait_gone(lambda: alice.volume_snapshots.get(snap.id))
    alice.volumes.delete(vol)


def test_cinderclient_manage_unmanage(embedded):
    admin = _cinder(embedded, 'admin')
    host = embedded.host + '@file1'
    with open(_path(embedded, 'legacy.img'), 'wb') as f:
        f.write(b'legacy-data')
        f.truncate(GiB + 1)
    listed = admin.volumes.list_manageable(host, detailed=True)
    entry = [e for e in listed if e.reference == {'source-name': 'legacy.img'}][0]
    assert entry.safe_to_manage is True and entry.size == 2
    vol = admin.volumes.manage(host + '#file1', {'source-name': 'legacy.img'}, name='adopted')
    vol = _wait(lambda: admin.volumes.get(vol.id), 'available')
    assert vol.size == 2 and vol.name == 'adopted'
    assert not os.path.exists(_path(embedded, 'legacy.img'))
    with open(_path(embedded, 'volume-%s' % vol.id), 'rb') as f:
        assert f.read(11) == b'legacy-data'
    listed = admin.volumes.list_manageable(host, detailed=True)
    mine = [e for e in listed if e.reference == {'source-name': 'volume-%s' % vol.id}][0]
    assert mine.safe_to_manage is False and mine.cinder_id == vol.id
    admin.volumes.unmanage(vol)
    _wait_gone(lambda: admin.volumes.get(vol.id))
    assert os.path.exists(_path(embedded, 'volume-%s' % vol.id))     # the data stays
    again = admin.volumes.manage(host, {'source-name': 'volume-%s' % vol.id})
    _wait(lambda: admin.volumes.get(again.id), 'available')
    with pytest.raises(cinder_exc.BadRequest):
        admin.volumes.manage(host, {'source-name': 'volume-%s' % again.id})
    bad = admin.volumes.manage(host, {'source-name': 'no-such-file'})
    _wait(lambda: admin.volumes.get(bad.id), 'error')        # error_managing, shown as error
    admin.volumes.delete(bad)
    admin.volumes.delete(again)


# -- openstacksdk ------------------------------------------------------------------------------

def test_openstacksdk(embedded):
    admin, demo, alice = (_sdk(embedded, p) for p in ('admin', 'demo', 'alice'))
    vt = admin.create_type(name=_name('sdk-private'), is_public=False)
    admin.add_type_access(vt, 'demo')
    assert [a['project_id'] for a in admin.get_type_access(vt)] == ['demo']
    enc = admin.create_type_encryption(vt, provider='luks', control_location='front-end',
                                       cipher='aes-xts-plain64', key_size=256)
    assert admin.get_type_encryption(vt).provider == 'luks'
    admin.delete_type_encryption(encryption=enc, volume_type=vt)
    vol = demo.create_volume(size=1, volume_type=vt.id)
    vol = demo.wait_for_status(vol, 'available', failures=['error'], interval=0.2, wait=30)
    admin.reset_volume_status(vol, status='error', attach_status=None, migration_status=None)
    assert demo.get_volume(vol.id).status == 'error'
    admin.reset_volume_status(vol, status='available', attach_status=None,
                              migration_status=None)
    demo.set_volume_readonly(vol, True)
    demo.set_volume_bootable_status(vol, True)
    demo.set_volume_image_metadata(vol, image_name='sdk')
    got = demo.get_volume(vol.id)
    assert got.metadata['readonly'] == 'True' and got.is_bootable is True
    assert got.volume_image_metadata == {'image_name': 'sdk'}
    demo.delete_volume_image_metadata(vol, keys=['image_name'])

    snap = demo.create_snapshot(volume_id=vol.id)
    snap = demo.wait_for_status(snap, 'available', failures=['error'], interval=0.2, wait=30)
    demo.revert_volume_to_snapshot(vol, snap)
    demo.wait_for_status(demo.get_volume(vol.id), 'available', interval=0.2, wait=30)

    same = admin.create_type(name=_name('sdk-same'), extra_specs={'volume_backend_name': 'file1'})
    demo.retype_volume(vol, same.name, migration_policy='never')
    deadline = time.time() + 30
    while demo.get_volume(vol.id).volume_type != same.name and time.time() < deadline:
        time.sleep(0.1)
    vol = demo.wait_for_status(demo.get_volume(vol.id), 'available', interval=0.2, wait=30)
    assert vol.volume_type == same.name

    transfer = demo.create_transfer(volume_id=vol.id, name='sdk')
    alice.accept_transfer(transfer.id, transfer.auth_key)
    assert alice.get_volume(vol.id).status == 'available'
    alice.delete_snapshot(snap)
    alice.wait_for_delete(snap, interval=0.2, wait=30)

    host = embedded.host + '@file1#file1'
    with open(_path(embedded, 'sdk.img'), 'wb') as f:
        f.truncate(GiB)
    managed = admin.manage_volume(host=host, ref={'source-name': 'sdk.img'}, name='sdk-m')
    managed = admin.wait_for_status(admin.get_volume(managed.id), 'available', interval=0.2,
                                    wait=30)
    admin.unmanage_volume(managed)
    admin.wait_for_delete(managed, interval=0.2, wait=30)
    alice.delete_volume(vol)


# -- openstack CLI ------------------------------------------------------------------------------

def _openstack():
    path = os.path.join(os.path.dirname(sys.executable), 'openstack')
    if not os.path.exists(path):
        path = shutil.which('openstack')
    if not path:
        pytest.skip('python-openstackclient is not installed (pip install '
                    'python-openstackclient)')
    return path


def test_openstack_cli(embedded):
    osc = _openstack()
    endpoint = embedded.endpoint + '/v3'
    admin = [osc, '--os-auth-type', 'admin_token', '--os-token', 'admin:admin',
             '--os-endpoint', endpoint, '--os-volume-api-version', '3.71']
    demo = [osc, '--os-auth-type', 'admin_token', '--os-token', 'demo:demo',
            '--os-endpoint', endpoint, '--os-volume-api-version', '3.71']

    def run(cmd, *args, fmt=True):
        out = subprocess.run(cmd + list(args) + (['-f', 'value'] if fmt else []),
                             capture_output=True, text=True, timeout=90)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout.strip()

    # (volume type access needs Keystone in the CLI, to resolve project names: not here)
    name = _name('osc-type')
    type_id = run(admin, 'volume', 'type', 'create', '-c', 'id', name)
    run(admin, 'volume', 'type', 'set', '--encryption-provider', 'luks',
        '--encryption-control-location', 'front-end', type_id, fmt=False)
    assert 'luks' in run(admin, 'volume', 'type', 'show', '--encryption-type', '-c',
                         'encryption', type_id)
    run(admin, 'volume', 'qos', 'create', '--property', 'read_iops_sec=10', _name('osc-qos'),
        '-c', 'id')
    vid = run(demo, 'volume', 'create', '--size', '1', '--type', name, '-c', 'id',
              _name('osc-vol'))
    deadline = time.time() + 30
    while run(demo, 'volume', 'show', '-c', 'status', vid) != 'available' \
            and time.time() < deadline:
        time.sleep(0.2)
    run(admin, 'volume', 'set', '--state', 'error', vid, fmt=False)
    assert run(demo, 'volume', 'show', '-c', 'status', vid) == 'error'
    run(admin, 'volume', 'set', '--state', 'available', vid, fmt=False)
    run(demo, 'volume', 'set', '--bootable', '--read-only', vid, fmt=False)
    assert run(demo, 'volume', 'show', '-c', 'bootable', vid).lower() == 'true'
    out = run(demo, 'volume', 'transfer', 'request', 'create', '-c', 'auth_key', '-c', 'id',
              vid).split()
    alice = [osc, '--os-auth-type', 'admin_token', '--os-token', 'alice:alice',
             '--os-endpoint', endpoint, '--os-volume-api-version', '3.71']
    run(alice, 'volume', 'transfer', 'request', 'accept', '--auth-key', out[0], out[1],
        fmt=False)
    assert run(alice, 'volume', 'show', '-c', 'status', vid) == 'available'
    run(alice, 'volume', 'delete', vid, fmt=False)
