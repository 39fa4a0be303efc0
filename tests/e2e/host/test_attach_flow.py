"""The attach flow end to end: simulated compute hosts, real LVM, real tgtd, real iSCSI.

One embedded ``blockstore-all`` process per module on the LVM backend (the
host tier's throw-away VG on a loop-device PV) exporting through a private
tgtd. Compute hosts are ``tests.fixtures.compute_host.ComputeHost``: they
speak only REST (with the service role Nova's token carries) and reach the
volume through a userspace initiator that logs in with the host's own IQN
and keeps the session open while attached (one interactive qemu-io per
attached disk), so the target's CHAP and initiator ACL are really exercised.

Every scenario asserts bytes: written through one host's session, read
through another's, and found in the LV's extents in the PV image.
"""

import os
import time
import uuid

import pytest

from blockstore.volume.targets import tgt
from tests.e2e.host import conftest as host
from tests.fixtures import compute_host as ch
from tests.fixtures import deployment as depfix

MiB = 1024 ** 2
KiB = 1024
BACKEND = 'lvm1'
IQN_PREFIX = 'iqn.2010-10.org.openstack:volume-'
TOOLS = ('losetup', 'pvcreate', 'lvs', 'tgtd', 'tgtadm', 'qemu-io', 'iscsi-inq')


def _lvm_conf(vg, tgtd):
    return host.service_backend_section(vg, tgtd, BACKEND)


class Cloud:
    def __init__(self, dep, vg, tgtd, workdir):
        self.dep, self.vg, self.tgtd, self.workdir = dep, vg, tgtd, workdir
        self.user = ch.RestClient(dep.endpoint, 'demo', 'demo')
        self.admin = ch.RestClient(dep.endpoint, 'admin', 'admin')
        self.nova = ch.RestClient(dep.endpoint, 'demo', 'nova', roles=ch.NOVA_ROLES)

    def create_volume(self, volume_type=None, size=1):
        body = {'size': size, 'name': 'attach-e2e-%s' % uuid.uuid4().hex[:6]}
        if volume_type:
            body['volume_type'] = volume_type
        vid = self.user.request('POST', '/volumes', {'volume': body},
                                expect=202).json()['volume']['id']
        self.wait_status(vid, 'available')
        return vid

    def wait_status(self, vid, want, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            vol = self.user.volume(vid)
            if vol['status'] == want:
                return vol
            assert not vol['status'].startswith('error'), vol
            assert time.monotonic() < deadline, 'volume %s is %s, not %s' % (
                vid, vol['status'], want)
            time.sleep(0.2)

    def lv_bytes(self, vid, offset, length):
        lv_offset, _size = self.vg.lv_byte_range('volume-%s' % vid)
        return self.vg.read_pv(lv_offset + offset, length)

    def targets(self):
        return self.tgtd.target_iqns()


@pytest.fixture(scope='module')
def cloud(tmp_path_factory):
    host.require_host(*TOOLS)
    workdir = tmp_path_factory.mktemp('attach-flow')
    vg = host.HostVG(workdir / 'vg')
    tgtd = None
    dep = None
    try:
        for attempt in range(3):
            tgtd = host.Tgtd(workdir)
            try:
                tgtd.start()
                break
            except RuntimeError:
                tgtd.stop()
                if attempt == 2:
                    raise
        (workdir / 'deployment').mkdir()
        dep = depfix.Deployment(workdir / 'deployment', backends=(BACKEND,),
                                volume_driver='lvm', extra_conf=_lvm_conf(vg, tgtd))
        dep.write_config()
        dep.start('all')
        dep.wait_for_api()
        yield Cloud(dep, vg, tgtd, workdir)
    finally:
        if dep is not None:
            dep.stop_all()
        if tgtd is not None:
            tgtd.stop()
        errors = vg.teardown()
        assert not errors, errors


@pytest.fixture
def hosts(cloud, tmp_path):
    """A factory of simulated compute hosts; their open sessions are closed at the end."""
    made = []

    def make(name, ip):
        backend = ch.QemuIoInitiator(tmp_path / name)
        made.append(backend)
        return ch.ComputeHost(cloud.nova, name, ip, backend)
    yield make
    for backend in made:
        backend.close_all()


def _check_iscsi_data(cloud, vid, data, access_mode='rw'):
    """What Nova hands to os-brick: the target, the LUN, CHAP, the access mode."""
    assert data['target_iqn'] == IQN_PREFIX + vid
    assert data['target_portal'] == '127.0.0.1:%d' % cloud.tgtd.port
    assert data['target_lun'] == 1
    assert data['auth_method'] == 'CHAP'
    assert data['auth_username'] and data['auth_password']
    assert data['access_mode'] == access_mode
    assert 'driver_volume_type' not in data and 'attachment_id' not in data


def _attachments(cloud, vid):
    return {a['attachment_id']: a for a in cloud.admin.volume(vid)['attachments']}


def test_attach_write_detach_reattach_from_another_host(cloud, hosts):
    vid = cloud.create_volume()
    a = hosts('compute-a', '192.0.2.11')
    b = hosts('compute-b', '192.0.2.12')
    assert a.iqn != b.iqn
    instance = str(uuid.uuid4())

    att_a = a.attach(vid, instance, mode='rw')          # 3.54: mode
    _check_iscsi_data(cloud, vid, att_a.data)
    vol = cloud.user.volume(vid)
    assert vol['status'] == 'in-use'
    shown = _attachments(cloud, vid)[att_a.attachment_id]
    assert (shown['server_id'], shown['host_name']) == (instance, 'compute-a')
    assert IQN_PREFIX + vid in cloud.targets()

    offset = 1 * MiB
    pattern = os.urandom(64 * KiB)
    att_a.write(offset, pattern)
    assert att_a.read(offset, len(pattern)) == pattern
    assert cloud.lv_bytes(vid, offset, len(pattern)) == pattern
    # Only A is in the ACL: B's IQN is refused even with the right CHAP secret.
    assert a.can_login(att_a.data)
    assert not b.can_login(att_a.data)

    assert a.detach(att_a) == []
    vol = cloud.user.volume(vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert IQN_PREFIX + vid not in cloud.targets()
    assert not a.can_login(att_a.data)

    att_b = b.attach(vid, instance)                      # 3.44: no mode
    _check_iscsi_data(cloud, vid, att_b.data)
    assert cloud.user.volume(vid)['status'] == 'in-use'
    assert att_b.read(offset, len(pattern)) == pattern
    # A's access was revoked with its detach: its IQN is refused, B's accepted.
    assert not a.can_login(att_b.data)
    assert b.can_login(att_b.data)
    assert att_b.read(offset, len(pattern)) == pattern   # B's session survived the probes

    assert b.detach(att_b) == []
    assert cloud.user.volume(vid)['status'] == 'available'
    assert IQN_PREFIX + vid not in cloud.targets()
    assert cloud.lv_bytes(vid, offset, len(pattern)) == pattern


def test_legacy_attach_detach_and_reattach_from_another_host(cloud, hosts):
    vid = cloud.create_volume()
    a = hosts('legacy-a', '192.0.2.21')
    b = hosts('legacy-b', '192.0.2.22')
    instance = str(uuid.uuid4())

    att_a = a.legacy_attach(vid, instance, mountpoint='/dev/vdc')
    _check_iscsi_data(cloud, vid, att_a.data)
    vol = cloud.user.volume(vid)
    assert vol['status'] == 'in-use'
    (shown,) = vol['attachments']
    assert (shown['server_id'], shown['device']) == (instance, '/dev/vdc')

    offset = 2 * MiB
    pattern = os.urandom(64 * KiB)
    att_a.write(offset, pattern)
    assert att_a.read(offset, len(pattern)) == pattern
    assert cloud.lv_bytes(vid, offset, len(pattern)) == pattern
    assert not b.can_login(att_a.data)

    a.legacy_detach(att_a)
    vol = cloud.user.volume(vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert IQN_PREFIX + vid not in cloud.targets()

    att_b = b.legacy_attach(vid, instance)
    assert cloud.user.volume(vid)['status'] == 'in-use'
    assert att_b.read(offset, len(pattern)) == pattern
    assert not a.can_login(att_b.data)
    assert b.can_login(att_b.data)

    b.legacy_detach(att_b)
    assert cloud.user.volume(vid)['status'] == 'available'
    assert IQN_PREFIX + vid not in cloud.targets()


def test_multiattach_two_hosts_at_once(cloud, hosts):
    type_name = 'multiattach-%s' % uuid.uuid4().hex[:6]
    cloud.admin.request('POST', '/types', {'volume_type': {
        'name': type_name, 'extra_specs': {'multiattach': '<is> True'}}}, expect=200)
    vid = cloud.create_volume(volume_type=type_name)
    assert cloud.user.volume(vid)['multiattach'] is True
    a = hosts('multi-a', '192.0.2.31')
    b = hosts('multi-b', '192.0.2.32')

    att_a = a.attach(vid, str(uuid.uuid4()))
    att_b = b.attach(vid, str(uuid.uuid4()))
    assert set(_attachments(cloud, vid)) == {att_a.attachment_id, att_b.attachment_id}
    assert cloud.user.volume(vid)['status'] == 'in-use'
    # One target, one set of credentials, both hosts in its ACL.
    assert att_a.data['target_iqn'] == att_b.data['target_iqn']
    assert att_a.data['auth_password'] == att_b.data['auth_password']
    assert cloud.targets().count(IQN_PREFIX + vid) == 1
    assert a.can_login(att_a.data) and b.can_login(att_b.data)

    # Both read what one wrote; and the other way round.
    p1, p2 = os.urandom(64 * KiB), os.urandom(64 * KiB)
    att_a.write(0, p1)
    assert att_b.read(0, len(p1)) == p1
    assert att_a.read(0, len(p1)) == p1
    att_b.write(4 * MiB, p2)
    assert att_a.read(4 * MiB, len(p2)) == p2

    # A detaches: B's open session keeps working, B may log in again, A may not.
    remaining = a.detach(att_a)
    assert [r['id'] for r in remaining] == [att_b.attachment_id]
    assert cloud.user.volume(vid)['status'] == 'in-use'
    assert IQN_PREFIX + vid in cloud.targets()
    p3 = os.urandom(64 * KiB)
    att_b.write(8 * MiB, p3)
    assert att_b.read(8 * MiB, len(p3)) == p3
    assert att_b.read(0, len(p1)) == p1
    assert b.can_login(att_b.data)
    assert not a.can_login(att_b.data)

    # B detaches: the target is gone; the bytes stay on the LV.
    assert b.detach(att_b) == []
    vol = cloud.user.volume(vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert IQN_PREFIX + vid not in cloud.targets()
    assert not b.can_login(att_b.data)
    for offset, payload in ((0, p1), (4 * MiB, p2), (8 * MiB, p3)):
        assert cloud.lv_bytes(vid, offset, len(payload)) == payload


def test_live_migration_keeps_the_volume_in_use(cloud, hosts):
    vid = cloud.create_volume()
    a = hosts('migrate-src', '192.0.2.41')
    b = hosts('migrate-dst', '192.0.2.42')
    instance = str(uuid.uuid4())
    att_a = a.attach(vid, instance)
    pattern = os.urandom(64 * KiB)
    att_a.write(3 * MiB, pattern)

    with ch.StatusWatcher(cloud.user, vid) as watch:
        # pre_live_migration on B: a second attachment of the same instance,
        # created with B's connector at once; B connects and completes.
        att_b = b.attach_for_migration(vid, instance)
        _check_iscsi_data(cloud, vid, att_b.data)
        assert set(_attachments(cloud, vid)) == {att_a.attachment_id, att_b.attachment_id}
        assert att_b.read(3 * MiB, len(pattern)) == pattern
        # post_live_migration on A: A disconnects and deletes its attachment.
        remaining = a.detach(att_a)
        assert [r['id'] for r in remaining] == [att_b.attachment_id]
        assert att_b.read(3 * MiB, len(pattern)) == pattern
        p2 = os.urandom(64 * KiB)
        att_b.write(5 * MiB, p2)
        assert att_b.read(5 * MiB, len(p2)) == p2
        time.sleep(0.3)   # a few more polls after the last change
    assert not watch.errors, watch.errors[:3]
    assert watch.polls >= 5, watch.polls
    assert watch.seen == ['in-use'], watch.seen

    (shown,) = _attachments(cloud, vid).values()
    assert (shown['attachment_id'], shown['server_id'], shown['host_name']) == (
        att_b.attachment_id, instance, 'migrate-dst')
    assert not a.can_login(att_b.data)
    assert b.can_login(att_b.data)
    assert cloud.lv_bytes(vid, 5 * MiB, len(p2)) == p2

    assert b.detach(att_b) == []
    assert cloud.user.volume(vid)['status'] == 'available'
    assert IQN_PREFIX + vid not in cloud.targets()


def test_legacy_live_migration_keeps_the_destination_connected(cloud, hosts):
    """Nova's live migration of a volume attached the legacy way (a BDM without an
    attachment_id): os-initialize_connection for the destination, then
    os-terminate_connection for the source; no detach, the volume stays in-use."""
    vid = cloud.create_volume()
    a = hosts('legacy-src', '192.0.2.51')
    b = hosts('legacy-dst', '192.0.2.52')
    instance = str(uuid.uuid4())
    att_a = a.legacy_attach(vid, instance)
    pattern = os.urandom(64 * KiB)
    att_a.write(6 * MiB, pattern)

    with ch.StatusWatcher(cloud.user, vid) as watch:
        info = cloud.nova.action(vid, 'os-initialize_connection', {'connector': b.connector},
                                 expect=200).json()['connection_info']
        dev_b = b.backend.connect_volume(info['data'])
        assert dev_b.read(6 * MiB, len(pattern)) == pattern
        a.backend.disconnect_volume(att_a.data, att_a.device)
        cloud.nova.action(vid, 'os-terminate_connection', {'connector': a.connector})
        time.sleep(0.3)
    assert watch.seen == ['in-use'], watch.seen
    assert not a.can_login(info['data'])
    assert IQN_PREFIX + vid in cloud.targets()
    assert b.can_login(info['data'])
    assert dev_b.read(6 * MiB, len(pattern)) == pattern

    # The detach from the destination, the legacy way, removes the target.
    moved = ch.Attached(b, vid, instance, info, dev_b, attachment_id=att_a.attachment_id,
                        legacy=True)
    b.legacy_detach(moved)
    vol = cloud.user.volume(vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert IQN_PREFIX + vid not in cloud.targets()


def test_deleted_attachment_loses_its_open_session(cloud, hosts):
    """A host whose attachment is deleted while it is still logged in (a compute
    host that never disconnected) loses access at once, not only for new logins:
    the other host of the multiattach volume keeps working."""
    type_name = 'multiattach-%s' % uuid.uuid4().hex[:6]
    cloud.admin.request('POST', '/types', {'volume_type': {
        'name': type_name, 'extra_specs': {'multiattach': '<is> True'}}}, expect=200)
    vid = cloud.create_volume(volume_type=type_name)
    a = hosts('stale-a', '192.0.2.61')
    b = hosts('stale-b', '192.0.2.62')
    att_a = a.attach(vid, str(uuid.uuid4()))
    att_b = b.attach(vid, str(uuid.uuid4()))
    pattern = os.urandom(64 * KiB)
    att_b.write(0, pattern)
    assert att_a.read(0, len(pattern)) == pattern

    remaining = a.delete_attachment(att_a.attachment_id)     # A never disconnected
    assert [r['id'] for r in remaining] == [att_b.attachment_id]
    before = cloud.lv_bytes(vid, MiB, 64 * KiB)
    att_a.device.timeout = 8
    with pytest.raises(ch.APIError):
        att_a.write(MiB, os.urandom(64 * KiB))
    assert att_b.read(0, len(pattern)) == pattern
    assert cloud.lv_bytes(vid, MiB, 64 * KiB) == before
    state = tgt.parse_show_targets(cloud.tgtd.tgtadm(
        '--lld', 'iscsi', '--op', 'show', '--mode', 'target').stdout)
    (target,) = [t for t in state.values() if t.iqn == IQN_PREFIX + vid]
    assert a.iqn not in target.sessions and b.iqn in target.sessions
    assert not a.can_login(att_b.data)
    assert b.detach(att_b) == []
