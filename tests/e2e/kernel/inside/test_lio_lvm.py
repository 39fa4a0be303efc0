"""The LVM driver, thick and thin, exported by LIO and used by the kernel initiator.

One scenario per ``lvm_type``, in steps that build on each other (a failed
step skips the rest of its scenario). The driver is driven directly, as the
conformance tests do, with ``target_helper = lioadm``, CHAP and
``volume_clear = zero``. The guest logs in with iscsiadm, using the
connection_info the driver returned, and every byte check reads both sides
with direct I/O: the iSCSI disk /dev/sdX and the LV /dev/VG/LV.
"""

import os
import shutil
import tempfile
import threading
import types
import uuid

import pytest
from oslo_config import cfg

from blockstore.common import conf as bs_conf
from blockstore.volume.drivers import lvm
from tests.e2e.kernel.inside import guest
from tests.e2e.kernel.inside.guest import GiB, MiB

DISK = '/dev/vda'
A, A_END, B, C, D = (guest.pattern(seed) for seed in ('A', 'A-end', 'B', 'C', 'D'))
INITIATOR_B = 'iqn.2026-11.org.blockstore:kernel-tier-b'


def lvm_conf_dir(tmp, disks=(DISK,)):
    """A private lvm.conf: LVM looks at the guest's scratch disk (or ``disks``) only."""
    path = os.path.join(tmp, 'lvm')
    os.makedirs(path, exist_ok=True)
    accept = ''.join('"a|^%s$|", ' % disk for disk in disks)
    with open(os.path.join(path, 'lvm.conf'), 'w') as f:
        f.write('devices { global_filter = [ %s"r|.*|" ] }\n' % accept)
    return path


def backend_conf(lvm_type, vg_name, tmp, disks=(DISK,), **overrides):
    group = 'lvm-kernel-%s' % lvm_type
    conf = cfg.ConfigOpts()
    conf.register_opts(bs_conf.backend_opts, group=group)
    values = dict(volume_driver='lvm', volume_backend_name=group, volume_group=vg_name,
                  lvm_type=lvm_type, lvm_activation=True,
                  volumes_dir=os.path.join(tmp, 'targets'), target_helper='lioadm',
                  target_ip_address='127.0.0.1', target_port=3260, use_chap_auth=True,
                  volume_clear='zero', storage_command_timeout=180)
    values['lvm_conf_dir'] = lvm_conf_dir(tmp, disks)
    values.update(overrides)
    for key, value in values.items():
        conf.set_override(key, value, group=group)
    conf([], project='blockstore-kernel-tier', default_config_files=[])
    return conf[group]


def pe_ranges(extents):
    """``{0, 1, 2, 7}`` -> ``['/dev/vda:0-2', '/dev/vda:7-7']`` (lvcreate's PV arguments)."""
    ranges = []
    for pe in sorted(extents):
        if ranges and ranges[-1][1] == pe - 1:
            ranges[-1][1] = pe
        else:
            ranges.append([pe, pe])
    return ['%s:%d-%d' % (DISK, first, last) for first, last in ranges]


class Backend:
    """The driver under test on a VG of /dev/vda, and the objects of one scenario."""

    def __init__(self, lvm_type):
        self.lvm_type = lvm_type
        self.tmp = tempfile.mkdtemp(prefix='bs-kernel-%s-' % lvm_type)
        self.vg = 'bs-kt-%s' % ('thin' if lvm_type == 'thin' else 'thick')
        self.conf = backend_conf(lvm_type, self.vg, self.tmp)
        self.env = {'LVM_SYSTEM_DIR': self.conf.lvm_conf_dir}
        self.lvm('pvcreate', '-ff', '-y', DISK)
        self.lvm('vgcreate', '-y', self.vg, DISK)
        self.driver = lvm.LVMDriver(self.conf, 'bs-guest@lvm-%s' % lvm_type)
        self.connector = {'initiator': guest.initiator_name(), 'ip': '127.0.0.1',
                          'host': 'bs-guest', 'multipath': False, 'platform': 'x86_64',
                          'os_type': 'linux2'}
        self.volumes, self.snapshots = {}, {}
        self.conn = None        # connection_info['data'] of the main volume
        self.disk = None        # its /dev/sdX while logged in
        self.first_mib = None   # what the main volume's first MiB holds

    def lvm(self, *argv, check=True):
        return guest.run(*argv, env=self.env, check=check)

    def volume(self, key, size=1):
        vid = str(uuid.uuid4())
        vol = types.SimpleNamespace(id=vid, name='volume-%s' % vid, size=size,
                                    provider_location=None, provider_auth=None,
                                    host=self.driver.host, volume_type=None,
                                    encryption_key_id=None)
        self.volumes[key] = vol
        return vol

    def snapshot(self, key, volume):
        sid = str(uuid.uuid4())
        snap = types.SimpleNamespace(id=sid, name='snapshot-%s' % sid, volume_id=volume.id,
                                     volume_size=volume.size, volume=volume,
                                     provider_location=None)
        self.snapshots[key] = snap
        return snap

    def lv_path(self, name):
        return '/dev/%s/%s' % (self.vg, name)

    def lv_dev(self, obj):
        """The LV device of a volume or snapshot (thin snapshots skip activation: -K)."""
        name = lvm.snapshot_lv_name(obj) if obj.name.startswith('snapshot-') else obj.name
        if not os.path.exists(self.lv_path(name)):
            self.lvm('lvchange', '-ay', '-K', '%s/%s' % (self.vg, name))
        return self.lv_path(name)

    def lv_exists(self, name):
        return self.lvm('lvs', '%s/%s' % (self.vg, name), check=False).returncode == 0

    def extents(self, name):
        """The set of physical extent numbers of LV ``name`` on /dev/vda."""
        out = self.lvm('lvs', '--noheadings', '-o', 'seg_pe_ranges',
                       '%s/%s' % (self.vg, name)).stdout
        pes = set()
        for item in out.split():
            pv, _, span = item.rpartition(':')
            assert pv == DISK, item
            first, last = span.split('-')
            pes.update(range(int(first), int(last) + 1))
        return pes

    def teardown(self):
        errors = []
        if self.conn:
            guest.logout(self.conn['target_portal'], self.conn['target_iqn'])
        main = self.volumes.get('main')
        if main is not None and self.driver.target.is_exported(main):  # a step failed
            try:
                self.driver.remove_export(None, main)
            except Exception as e:  # keep tearing down
                errors.append('remove_export: %r' % e)
        # The rest goes with the VG: a driver delete_volume costs three targetcli
        # runs (remove_export of a stray target), ~20 s each volume under TCG.
        self.lvm('vgremove', '-f', self.vg, check=False)
        self.lvm('pvremove', '-ff', '-y', DISK, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return errors


@pytest.fixture(scope='class', params=['default', 'thin'])
def backend(request, iscsid, lio_modules):
    b = Backend(request.param)
    yield b
    errors = b.teardown()
    assert not errors, errors


@pytest.mark.usefixtures('backend')
class TestLIOKernelInitiator:
    """Steps of one scenario; ``backend`` carries the state between them."""

    def test_setup(self, backend):
        backend.driver.do_setup(None)
        backend.driver.check_for_setup_error()
        assert backend.driver.device_mapper
        if backend.lvm_type == 'thin':
            assert backend.lv_exists(backend.driver.pool_name)

    def test_removing_an_export_that_never_existed(self, backend):
        """Deleting LIO objects that are not there is tolerated (regression:
        targetcli says "No storage object named ..." for a missing backstore,
        which also broke every first export, as that starts with deletes)."""
        vol = backend.volume('main')
        backend.driver.create_volume(vol)
        if backend.lvm_type == 'thin':
            pytest.skip('target helper only: checked once, with the thick backend')
        backend.driver.remove_export(None, vol)

    def test_create_export(self, backend):
        """Cinder's attach sequence: create_export, then initialize_connection.

        Thick runs both; thin runs initialize_connection alone (it creates a
        missing export), as each LIO rebuild costs about a minute under TCG.
        """
        vol = backend.volumes['main']
        if backend.lvm_type != 'thin':
            update = backend.driver.create_export(None, vol, backend.connector)
            vol.provider_location = update['provider_location']
            vol.provider_auth = update['provider_auth']
            assert vol.provider_auth.startswith('CHAP ')
        info = backend.driver.initialize_connection(vol, backend.connector)
        assert info['driver_volume_type'] == 'iscsi'
        data = backend.conn = info['data']
        assert data['auth_method'] == 'CHAP'
        if vol.provider_auth:
            assert vol.provider_auth == 'CHAP %s %s' % (data['auth_username'],
                                                        data['auth_password'])
        assert data['target_portal'] == '127.0.0.1:3260'
        assert guest.lio_target_exists(data['target_iqn'])
        assert guest.discover(data['target_portal']) == [data['target_iqn']]

    def test_wrong_chap_is_refused(self, backend):
        data = backend.conn
        proc = guest.login(data['target_portal'], data['target_iqn'], data['auth_username'],
                           data['auth_password'] + 'x', check=False)
        assert proc.returncode != 0, proc.stdout
        assert 'authorization failure' in proc.stderr.lower(), proc.stderr
        proc = guest.login(data['target_portal'], data['target_iqn'], None, None, check=False)
        assert proc.returncode != 0, 'a login without CHAP was let in: %s' % proc.stdout
        assert not guest.sessions(data['target_iqn'])

    def test_login_write_read(self, backend):
        data = backend.conn
        guest.login(data['target_portal'], data['target_iqn'], data['auth_username'],
                    data['auth_password'])
        disk = backend.disk = guest.session_disk(data['target_iqn'])
        assert guest.size(disk) == 1 * GiB
        guest.write(disk, 0, A)
        guest.write(disk, GiB - MiB, A_END)
        assert guest.read(disk, 0) == A
        assert guest.read(disk, GiB - MiB) == A_END
        lv = backend.lv_dev(backend.volumes['main'])
        assert guest.read(lv, 0) == A, 'bytes written to %s are not in %s' % (disk, lv)
        assert guest.read(lv, GiB - MiB) == A_END

    def test_second_initiator_acl_leaves_first_session_alone(self, backend):
        """Initiator B's ACL is added, used and removed while A stays logged in
        and reading: LIO's ACLs change one at a time, the target is not rebuilt."""
        if backend.lvm_type == 'thin':
            pytest.skip('target helper only: checked once, with the thick backend')
        vol, data = backend.volumes['main'], backend.conn
        iqn, portal = data['target_iqn'], data['target_portal']
        (session_a, disk_a), = guest.session_devices(iqn).items()
        assert disk_a == backend.disk
        reads, errors, stop = [0], [], threading.Event()

        def keep_reading():
            while not stop.is_set():
                try:
                    if guest.read(disk_a, 0) != A:
                        errors.append('A read other bytes')
                    reads[0] += 1
                except Exception as e:  # report, keep going
                    errors.append(repr(e))

        reader = threading.Thread(target=keep_reading, daemon=True)
        reader.start()
        try:
            connector_b = dict(backend.connector, initiator=INITIATOR_B, host='bs-guest-b')
            info = backend.driver.initialize_connection(vol, connector_b)
            assert info['data']['target_iqn'] == iqn
            assert guest.lio_acls(iqn) == sorted([backend.connector['initiator'],
                                                  INITIATOR_B])
            guest.add_iface('bs-b', INITIATOR_B)
            guest.login_iface('bs-b', portal, iqn, info['data']['auth_username'],
                              info['data']['auth_password'])
            devices = guest.wait_for(
                lambda: (lambda d: d if len(d) == 2 and all(d.values()) else None)(
                    guest.session_devices(iqn)), 'the SCSI disk of initiator B')
            (session_b, disk_b), = [(s, d) for s, d in devices.items() if s != session_a]
            assert guest.read(disk_b, 0) == A
            guest.logout_iface('bs-b', portal, iqn)
            backend.driver.terminate_connection(vol, connector_b,
                                                remaining_attachments=[backend.connector])
            assert guest.lio_acls(iqn) == [backend.connector['initiator']]
            # A few more reads by A after B's ACL is gone.
            seen = reads[0]
            guest.wait_for(lambda: reads[0] >= seen + 3, 'initiator A to keep reading')
        finally:
            stop.set()
            reader.join(timeout=60)
            guest.logout_iface('bs-b', portal, iqn)
            guest.remove_iface('bs-b')
        assert not errors, errors[:5]
        assert reads[0] > 3
        assert list(guest.session_devices(iqn).items()) == [(session_a, disk_a)], \
            'initiator A\'s session was replaced or lost'
        assert guest.read(backend.disk, 0) == A

    def test_snapshot_keeps_point_in_time(self, backend):
        vol = backend.volumes['main']
        snap = backend.snapshot('snap', vol)
        backend.driver.create_snapshot(snap)
        guest.write(backend.disk, 0, B)
        backend.first_mib = B
        assert guest.read(backend.lv_dev(snap), 0) == A
        assert guest.read(backend.lv_dev(snap), GiB - MiB) == A_END
        assert guest.read(backend.lv_dev(vol), 0) == B
        assert guest.read(backend.disk, 0) == B

    def test_volume_from_snapshot(self, backend):
        vol = backend.volume('from-snap')
        backend.driver.create_volume_from_snapshot(vol, backend.snapshots['snap'])
        dev = backend.lv_dev(vol)
        assert guest.size(dev) == GiB
        assert guest.read(dev, 0) == A
        assert guest.read(dev, GiB - MiB) == A_END

    def test_clone_is_a_copy_and_independent(self, backend):
        vol = backend.volume('clone')
        backend.driver.create_cloned_volume(vol, backend.volumes['main'])
        dev = backend.lv_dev(vol)
        assert guest.read(dev, 0) == B
        assert guest.read(dev, GiB - MiB) == A_END
        guest.write(dev, 0, C)
        assert guest.read(backend.disk, 0) == B
        assert guest.read(backend.lv_dev(backend.volumes['main']), 0) == B

    def test_revert_to_snapshot(self, backend):
        vol = backend.volumes['main']
        backend.driver.revert_to_snapshot(None, vol, backend.snapshots['snap'])
        backend.first_mib = A
        assert guest.read(backend.disk, 0) == A, 'the initiator does not see the reverted bytes'
        assert guest.read(backend.lv_dev(vol), 0) == A
        assert guest.read(backend.disk, GiB - MiB) == A_END

    def test_extend_while_logged_in(self, backend):
        vol = backend.volumes['main']
        if backend.lvm_type != 'thin':
            # LVM resizes a thick snapshot origin only while it is inactive (and an
            # exported volume stays active): drop the snapshot first, as Cinder must.
            backend.driver.delete_snapshot(backend.snapshots.pop('snap'))
        backend.driver.extend_volume(vol, 2)
        vol.size = 2
        data = backend.conn
        guest.rescan(data['target_portal'], data['target_iqn'])
        guest.wait_for(lambda: guest.size(backend.disk) == 2 * GiB,
                       'the initiator to see 2 GiB after the rescan', timeout=30)
        assert guest.read(backend.disk, GiB - MiB) == A_END  # the old end is intact
        guest.write(backend.disk, 2 * GiB - MiB, D)
        assert guest.read(backend.lv_dev(vol), 2 * GiB - MiB) == D
        assert guest.read(backend.disk, 0) == backend.first_mib
        assert backend.driver.get_volume_stats(refresh=True)['pools'][0][
            'online_extend_support'] is True
        if 'snap' in backend.snapshots:
            backend.driver.delete_snapshot(backend.snapshots.pop('snap'))

    def test_terminate_connection_removes_target(self, backend):
        vol, data = backend.volumes['main'], backend.conn
        guest.logout(data['target_portal'], data['target_iqn'])
        assert not guest.sessions(data['target_iqn'])
        backend.disk = None
        backend.driver.terminate_connection(vol, backend.connector)
        assert not guest.lio_target_exists(data['target_iqn'])
        assert vol.name not in guest.lio_backstores()
        assert data['target_iqn'] not in guest.discover(data['target_portal'])
        backend.conn = None

    def test_delete_with_volume_clear_zero(self, backend):
        vol = backend.volumes.pop('main')
        name = vol.name
        extents = backend.extents(name)
        backend.driver.delete_volume(vol)
        assert not backend.lv_exists(name)
        if backend.lvm_type == 'thin':
            # Thin: the pool hands out zeroed blocks; a new thin LV reads zeros.
            backend.lvm('lvcreate', '-y', '-V', '2g', '-T',
                        '%s/%s' % (backend.vg, backend.driver.pool_name), '-n', 'probe')
            dev = backend.lv_path('probe')
        else:
            # Thick: a new LV over exactly the freed extents (not zeroed by lvcreate:
            # -Zn -Wn) must read zeros where the patterns were.
            backend.lvm('lvcreate', '-y', '-Zn', '-Wn', '-l', len(extents), '-n', 'probe',
                        backend.vg, *pe_ranges(extents))
            assert backend.extents('probe') == extents
            dev = backend.lv_path('probe')
        zeros = bytes(MiB)
        for offset in (0, GiB - MiB, 2 * GiB - MiB):
            assert guest.read(dev, offset) == zeros, 'old bytes at %d after delete' % offset
        backend.lvm('lvremove', '-f', '%s/probe' % backend.vg)
