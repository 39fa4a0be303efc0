"""Attach through the API with os-brick and the kernel iSCSI initiator (in the guest).

A whole blockstore (``blockstore-all``: API, scheduler, volume service) runs
in the guest on the LVM driver with activated LVs (device-mapper) on a
loop-file PV, exported by a private tgtd. Simulated compute hosts
(tests.fixtures.compute_host) speak only REST and connect as Nova does:
os-brick's ISCSIConnector with the kernel initiator, each host logging in
through its own open-iscsi iface and initiator name, so the target's ACL
decides. A third host uses the userspace initiator at the same time
(multiattach), since one kernel cannot hold two initiator identities on
the same target through os-brick.

Bytes are checked with direct I/O on /dev/sdX and on the LV itself.
"""

import os
import tempfile
import time
import uuid

import pytest

from tests.e2e.host import conftest as host
from tests.e2e.kernel.inside import guest
from tests.fixtures import compute_host as ch
from tests.fixtures import deployment as depfix

pytest.importorskip('os_brick', reason='the kernel-tier attach test needs os-brick '
                                       '(setup.cfg test extras)')

MiB = 1024 ** 2
GiB = 1024 ** 3
BACKEND = 'lvm1'
VG = 'bs-kt-attach'
IQN_PREFIX = 'iqn.2010-10.org.openstack:volume-'


class Cloud:
    def __init__(self, dep, tgtd, workdir):
        self.dep, self.tgtd, self.workdir = dep, tgtd, workdir
        self.user = ch.RestClient(dep.endpoint, 'demo', 'demo', timeout=180)
        self.admin = ch.RestClient(dep.endpoint, 'admin', 'admin', timeout=180)
        self.nova = ch.RestClient(dep.endpoint, 'demo', 'nova', roles=ch.NOVA_ROLES,
                                  timeout=180)

    def wait_status(self, vid, want, timeout=180):
        deadline = time.monotonic() + timeout
        while True:
            vol = self.user.volume(vid)
            if vol['status'] == want:
                return vol
            assert not vol['status'].startswith('error'), vol
            assert time.monotonic() < deadline, 'volume %s is %s' % (vid, vol['status'])
            time.sleep(0.5)

    def lv_read(self, vid, offset, length):
        """The LV's own bytes, around iSCSI entirely."""
        return ch.BlockDevice({'path': '/dev/%s/volume-%s' % (VG, vid)}).read(offset, length)


@pytest.fixture(scope='module')
def cloud():
    workdir = tempfile.mkdtemp(prefix='bs-kt-attach-')
    conf_dir = os.path.join(workdir, 'lvm')
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, 'lvm.conf'), 'w') as f:
        f.write('devices { global_filter = [ "a|^/dev/loop|", "r|.*|" ] }\n')
    os.makedirs(host.TGTD_SOCKET_DIR, exist_ok=True)
    tgtd = host.Tgtd(workdir).start()
    os.makedirs(os.path.join(workdir, 'deployment'))
    dep = depfix.Deployment(os.path.join(workdir, 'deployment'), backends=(BACKEND,),
                            volume_driver='lvm', extra_conf='''
        [%(b)s]
        volume_group = %(vg)s
        lvm_conf_dir = %(conf_dir)s
        lvm_activation = True
        lvm_pv_loop_file = %(pv)s
        lvm_pv_loop_size_gb = 4
        volume_clear = none
        target_helper = tgtadm
        target_ip_address = 127.0.0.1
        target_port = %(port)d
        tgt_control_port = %(control)d
        volumes_dir = %(targets)s
        storage_command_timeout = 180
        ''' % dict(b=BACKEND, vg=VG, conf_dir=conf_dir, pv=os.path.join(workdir, 'pv.img'),
                   port=tgtd.port, control=tgtd.control_port,
                   targets=os.path.join(workdir, 'targets')))
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api(timeout=300)
        yield Cloud(dep, tgtd, workdir)
    finally:
        dep.stop_all()
        tgtd.stop()
        env = {'LVM_SYSTEM_DIR': conf_dir}
        guest.run('vgremove', '-f', VG, env=env, check=False)


def _sessions_to(iqn):
    return guest.sessions(iqn)


def test_attach_with_os_brick_and_the_kernel_initiator(cloud, iscsid, tmp_path):
    t0 = time.monotonic()
    type_name = 'multiattach-%s' % uuid.uuid4().hex[:6]
    cloud.admin.request('POST', '/types', {'volume_type': {
        'name': type_name, 'extra_specs': {'multiattach': '<is> True'}}}, expect=200)
    vid = cloud.user.request('POST', '/volumes', {'volume': {
        'size': 1, 'volume_type': type_name}}, expect=202).json()['volume']['id']
    cloud.wait_status(vid, 'available')
    iqn = IQN_PREFIX + vid
    a = ch.ComputeHost(cloud.nova, 'kernel-a', '10.0.2.15',
                       ch.OsBrickInitiator(tmp_path / 'a', 'bs-host-a'))
    b = ch.ComputeHost(cloud.nova, 'kernel-b', '10.0.2.16',
                       ch.OsBrickInitiator(tmp_path / 'b', 'bs-host-b'))
    instance = str(uuid.uuid4())

    # Host A: the attachments API (3.54 mode); os-brick gives a /dev/sdX.
    att_a = a.attach(vid, instance, mode='rw')
    path_a = att_a.device.path
    assert path_a.startswith('/dev/sd'), path_a
    assert guest.size(path_a) == GiB
    assert cloud.user.volume(vid)['status'] == 'in-use'
    assert len(_sessions_to(iqn)) == 1
    p1 = guest.pattern('attach-p1')
    att_a.write(MiB, p1)
    assert att_a.read(MiB, len(p1)) == p1
    assert cloud.lv_read(vid, MiB, len(p1)) == p1
    assert not b.can_login(att_a.data)          # B's IQN is not in the ACL
    assert a.detach(att_a) == []
    assert _sessions_to(iqn) == [] and not os.path.exists(path_a)
    assert cloud.user.volume(vid)['status'] == 'available'
    assert iqn not in cloud.tgtd.target_iqns()

    # Host B: the legacy sequence; reads what A wrote; A is refused now.
    att_b = b.legacy_attach(vid, instance)
    assert att_b.read(MiB, len(p1)) == p1
    assert not a.can_login(att_b.data)
    assert len(_sessions_to(iqn)) == 1

    # Host C (userspace initiator) attaches too: multiattach next to B's kernel session.
    c = ch.ComputeHost(cloud.nova, 'userspace-c', '10.0.2.17',
                       ch.QemuIoInitiator(tmp_path / 'c'))
    try:
        att_c = c.attach(vid, str(uuid.uuid4()))
        assert att_c.read(MiB, 64 * 1024) == p1[:64 * 1024]
        p2 = guest.pattern('attach-p2')
        att_c.write(4 * MiB, p2[:64 * 1024])
        assert att_b.read(4 * MiB, 64 * 1024) == p2[:64 * 1024]
        remaining = c.detach(att_c)
        assert [r['id'] for r in remaining] == [att_b.attachment_id]
    finally:
        c.backend.close_all()
    # B's kernel session still does I/O after C left; C may not log in again.
    p3 = guest.pattern('attach-p3')
    att_b.write(8 * MiB, p3)
    assert att_b.read(8 * MiB, len(p3)) == p3
    assert not c.can_login(att_b.data)
    assert cloud.user.volume(vid)['status'] == 'in-use'

    path_b = att_b.device.path
    b.legacy_detach(att_b)
    assert _sessions_to(iqn) == [] and not os.path.exists(path_b)
    vol = cloud.user.volume(vid)
    assert (vol['status'], vol['attachments']) == ('available', [])
    assert iqn not in cloud.tgtd.target_iqns()
    assert cloud.lv_read(vid, 8 * MiB, len(p3)) == p3
    assert cloud.lv_read(vid, 4 * MiB, 64 * 1024) == p2[:64 * 1024]
    for h in (a, b):
        h.backend.close_all()
    print('kernel-tier attach scenario: %.1f s' % (time.monotonic() - t0))
