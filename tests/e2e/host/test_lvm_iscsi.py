"""LVM volumes exported by a real tgtd and reached by userspace initiators.

A tgtd per test on free ports (tgtd -f -C N --iscsi portal=127.0.0.1:PORT);
the initiators are qemu-io / qemu-img through qemu's libiscsi block driver
(``--image-opts driver=iscsi,...,password-secret=...``: the CHAP password is
read from a 0600 file, never put in argv) and iscsi-inq / iscsi-ls from
libiscsi-bin (``iscsi://user%password@host:port/iqn/lun`` URLs).

Bytes are proven to land in the right place by reading the PV image file at
the LV's extent offset, computed by the test's own lvs/pvs/vgs calls.
"""

import json
import os
import random
import re
import subprocess
import time
import types
import uuid

import pytest

from blockstore.volume.drivers import lvm
from tests.e2e.host import conftest as host

MiB = 1024 ** 2
CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:bs-test', 'ip': '127.0.0.1',
             'host': 'compute1'}
CONNECTOR_2 = {'initiator': 'iqn.1994-05.com.redhat:bs-test2', 'ip': '127.0.0.1',
               'host': 'compute2'}
INTRUDER = 'iqn.1994-05.com.redhat:intruder'


class Initiator:
    """Userspace iSCSI initiator commands against one connection_info."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self._n = 0

    def _secret_file(self, password):
        self._n += 1
        path = os.path.join(self.workdir, 'chap-%d.secret' % self._n)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(password)
        return path

    def _image_opts(self, data, password, initiator):
        portal = data['target_portal']
        opts = ['driver=iscsi', 'transport=tcp', 'portal=%s' % portal,
                'target=%s' % data['target_iqn'], 'lun=%d' % data['target_lun'],
                'initiator-name=%s' % initiator]
        secret_args = []
        if data.get('auth_method') == 'CHAP':
            secret = self._secret_file(password if password is not None
                                       else data['auth_password'])
            secret_args = ['--object', 'secret,id=chap0,file=%s' % secret]
            opts += ['user=%s' % data['auth_username'], 'password-secret=chap0']
        return secret_args, ','.join(opts)

    def qemu_io(self, data, *commands, password=None, initiator=CONNECTOR['initiator']):
        secret_args, opts = self._image_opts(data, password, initiator)
        argv = ['qemu-io'] + secret_args + ['--image-opts']
        for command in commands:
            argv += ['-c', command]
        return host.run(*argv, opts, check=False)

    def write(self, data, offset, payload, **kw):
        path = os.path.join(self.workdir, 'payload.bin')
        with open(path, 'wb') as f:
            f.write(payload)
        proc = self.qemu_io(data, 'write -s %s %d %d' % (path, offset, len(payload)), **kw)
        assert proc.returncode == 0 and 'wrote' in proc.stdout, proc.stdout + proc.stderr
        return proc

    def read(self, data, offset, length, **kw):
        """Read through iSCSI with qemu-img dd (bs = 64 KiB).

        qemu-img dd counts ``count`` from the start of the input, skipped
        blocks included (unlike dd), hence ``count = skip + blocks``.
        """
        bs = 64 * 1024
        assert offset % bs == 0 and length % bs == 0
        out = os.path.join(self.workdir, 'readback.raw')
        if os.path.exists(out):
            os.unlink(out)
        secret_args, opts = self._image_opts(data, kw.get('password'),
                                             kw.get('initiator', CONNECTOR['initiator']))
        proc = host.run('qemu-img', 'dd', *secret_args, '--image-opts', '-O', 'raw',
                        'bs=%d' % bs, 'skip=%d' % (offset // bs),
                        'count=%d' % ((offset + length) // bs),
                        'if=%s' % opts, 'of=%s' % out, check=False)
        assert proc.returncode == 0, proc.stderr
        with open(out, 'rb') as f:
            return f.read()

    def capacity(self, data):
        """The LUN's size in bytes as two initiators see it: (READ CAPACITY(16)
        by iscsi-readcapacity16, qemu-img info's virtual size)."""
        url = 'iscsi://%s%%%s@%s/%s/%d' % (data['auth_username'], data['auth_password'],
                                           data['target_portal'], data['target_iqn'],
                                           data['target_lun'])
        rc16 = host.run('iscsi-readcapacity16', '-i', CONNECTOR['initiator'], url)
        m = re.search(r'Total size:\s*(\d+)', rc16.stdout)
        assert m, rc16.stdout
        secret_args, opts = self._image_opts(data, None, CONNECTOR['initiator'])
        info = host.run('qemu-img', 'info', *secret_args, '--output=json', '--image-opts',
                        opts)
        return int(m.group(1)), json.loads(info.stdout)['virtual-size']

    @staticmethod
    def inq(data, password=None, initiator=CONNECTOR['initiator']):
        """iscsi-inq login with the connection's CHAP user (libiscsi URL form)."""
        portal = data['target_portal']
        if data.get('auth_method') == 'CHAP':
            password = password if password is not None else data['auth_password']
            url = 'iscsi://%s%%%s@%s/%s/%d' % (data['auth_username'], password, portal,
                                               data['target_iqn'], data['target_lun'])
        else:
            url = 'iscsi://%s/%s/%d' % (portal, data['target_iqn'], data['target_lun'])
        return host.run('iscsi-inq', '-i', initiator, url, check=False)


class Exports:
    """The driver under test plus the volumes a test made; undone at the end."""

    def __init__(self, driver):
        self.driver = driver
        self.volumes = []

    def volume(self, size=1):
        vid = str(uuid.uuid4())
        vol = types.SimpleNamespace(id=vid, name='volume-%s' % vid, size=size,
                                    provider_location=None, provider_auth=None,
                                    host=self.driver.host, volume_type=None)
        self.driver.create_volume(vol)
        self.volumes.append(vol)
        return vol

    def cleanup(self):
        errors = []
        for vol in self.volumes:
            for step in (self.driver.remove_export, None):
                try:
                    if step:
                        step(None, vol)
                    else:
                        self.driver.delete_volume(vol)
                except Exception as e:  # keep cleaning the rest
                    errors.append(repr(e))
        return errors


@pytest.fixture
def exports(host_vg, tgtd):
    require = ('qemu-io', 'qemu-img', 'iscsi-inq', 'iscsi-ls')
    host.require_host(*require)
    driver = lvm.LVMDriver(host.backend_conf(host_vg, tgtd), 'e2e@lvm')
    driver.do_setup(None)
    driver.check_for_setup_error()
    ex = Exports(driver)
    yield ex
    errors = ex.cleanup()
    assert not errors, errors


@pytest.fixture
def initiator(tmp_path):
    return Initiator(tmp_path)


def apply(vol, update):
    for key, value in (update or {}).items():
        setattr(vol, key, value)


def pattern(seed, length):
    return random.Random(seed).randbytes(length)


def test_export_chap_acl_and_terminate(exports, host_vg, tgtd, initiator):
    driver = exports.driver
    vol = exports.volume(1)
    update = driver.create_export(None, vol, CONNECTOR)
    apply(vol, update)
    scheme, user, password = vol.provider_auth.split()
    assert scheme == 'CHAP' and len(user) >= 16 and len(password) >= 12
    iqn = 'iqn.2010-10.org.openstack:' + vol.name
    assert vol.provider_location == '127.0.0.1:%d,%s %s 1' % (
        tgtd.port, vol.provider_location.split(',')[1].split()[0], iqn)
    record = os.path.join(host_vg.volumes_dir, vol.name)
    assert os.stat(record).st_mode & 0o777 == 0o600

    info = driver.initialize_connection(vol, CONNECTOR)
    data = info['data']
    assert info['driver_volume_type'] == 'iscsi'
    portal = '127.0.0.1:%d' % tgtd.port
    assert data == {
        'target_discovered': False, 'target_iqn': iqn, 'target_portal': portal,
        'target_lun': 1, 'target_iqns': [iqn], 'target_portals': [portal],
        'target_luns': [1], 'volume_id': vol.id, 'auth_method': 'CHAP',
        'auth_username': user, 'auth_password': password, 'discard': True,
        'qos_specs': None, 'access_mode': 'rw', 'encrypted': False}

    # Login with the returned CHAP credentials, write and read through iSCSI.
    inq = initiator.inq(data)
    assert inq.returncode == 0, inq.stdout + inq.stderr
    head, tail = pattern('iscsi-head', 256 * 1024), pattern('iscsi-tail', 64 * 1024)
    initiator.write(data, 3 * MiB, head)
    initiator.write(data, 1024 * MiB - len(tail), tail)
    assert initiator.read(data, 3 * MiB, len(head)) == head
    assert initiator.read(data, 1024 * MiB - len(tail), len(tail)) == tail

    # The bytes are in this LV's extents inside the PV image file.
    offset, size = host_vg.lv_byte_range(vol.name)
    assert size == 1024 * MiB
    assert host_vg.read_pv(offset + 3 * MiB, len(head)) == head
    assert host_vg.read_pv(offset + size - len(tail), len(tail)) == tail

    # Wrong CHAP password, no password and a foreign initiator are refused.
    wrong = initiator.inq(data, password='Wr0ngPassw0rd123')
    assert wrong.returncode != 0 and 'Authentication failure' in wrong.stdout + wrong.stderr
    io = initiator.qemu_io(data, 'read 0 4k', password='Wr0ngPassw0rd123')
    assert io.returncode != 0 and 'Authentication failure' in io.stderr
    anonymous = dict(data, auth_method=None)
    assert initiator.inq(anonymous).returncode != 0
    intruder = initiator.inq(data, initiator=INTRUDER)
    assert intruder.returncode != 0 and 'Target not found' in intruder.stdout + intruder.stderr

    # terminate_connection with nobody left removes the target and its loop device.
    driver.terminate_connection(vol, CONNECTOR, remaining_attachments=[])
    assert iqn not in tgtd.target_iqns()
    listing = host.run('iscsi-ls', '-i', CONNECTOR['initiator'], '-s',
                       'iscsi://%s' % portal, check=False)
    assert iqn not in listing.stdout
    assert initiator.inq(data).returncode != 0
    assert not os.path.exists(record)
    assert host_vg.loops_of_file(offset, size) == []
    accounts = tgtd.tgtadm('--lld', 'iscsi', '--op', 'show', '--mode', 'account').stdout
    assert user not in accounts  # the per-volume CHAP account is gone too
    # The volume's data outlives its export.
    assert host_vg.read_pv(offset + 3 * MiB, len(head)) == head


def test_terminate_keeps_export_for_remaining_attachments(exports, tgtd, initiator):
    driver = exports.driver
    vol = exports.volume(1)
    apply(vol, driver.create_export(None, vol, CONNECTOR))
    data_a = driver.initialize_connection(vol, CONNECTOR)['data']
    data_b = driver.initialize_connection(vol, CONNECTOR_2)['data']
    assert data_a == data_b  # one target, one CHAP account, two ACL entries
    for conn in (CONNECTOR, CONNECTOR_2):
        assert initiator.inq(data_a, initiator=conn['initiator']).returncode == 0

    data = pattern('shared', 64 * 1024)
    initiator.write(data_a, 0, data, initiator=CONNECTOR_2['initiator'])

    driver.terminate_connection(vol, CONNECTOR, remaining_attachments=[CONNECTOR_2])
    assert data_a['target_iqn'] in tgtd.target_iqns()
    refused = initiator.inq(data_a, initiator=CONNECTOR['initiator'])
    assert refused.returncode != 0 and 'Target not found' in refused.stdout + refused.stderr
    assert initiator.read(data_a, 0, len(data), initiator=CONNECTOR_2['initiator']) == data

    # A count only: the export and the ACL stay as they are.
    driver.terminate_connection(vol, CONNECTOR_2, remaining_attachments=1)
    assert initiator.inq(data_a, initiator=CONNECTOR_2['initiator']).returncode == 0

    driver.terminate_connection(vol, CONNECTOR_2, remaining_attachments=[])
    assert data_a['target_iqn'] not in tgtd.target_iqns()


def test_tgtd_restart_then_ensure_export_restores_the_target(exports, host_vg, tgtd,
                                                             initiator):
    driver = exports.driver
    vol = exports.volume(1)
    never_exported = exports.volume(1)
    apply(vol, driver.create_export(None, vol, CONNECTOR))
    data = driver.initialize_connection(vol, CONNECTOR)['data']
    payload = pattern('restart', 128 * 1024)
    initiator.write(data, 5 * MiB, payload)
    offset, size = host_vg.lv_byte_range(vol.name)
    (export_loop,) = host_vg.loops_of_file(offset, size)

    # tgtd dies (SIGKILL, as on a crash) and, like after a reboot, the export's
    # loop device is gone too; a new tgtd comes up on the same ports, empty.
    tgtd.kill()
    host.run('losetup', '-d', export_loop)
    tgtd.start()
    assert tgtd.target_iqns() == []
    assert initiator.inq(data).returncode != 0

    assert driver.ensure_export(None, never_exported) is None
    update = driver.ensure_export(None, vol)
    assert update['provider_auth'] == vol.provider_auth
    assert tgtd.target_iqns() == [data['target_iqn']]
    assert len(host_vg.loops_of_file(offset, size)) == 1

    # Same credentials, same ACL, same bytes.
    inq = initiator.inq(data)
    assert inq.returncode == 0, inq.stdout + inq.stderr
    assert initiator.read(data, 5 * MiB, len(payload)) == payload
    assert initiator.inq(data, password='Wr0ngPassw0rd123').returncode != 0
    assert initiator.inq(data, initiator=INTRUDER).returncode != 0

    # ensure_export is idempotent while the target is live.
    assert driver.ensure_export(None, vol) == update
    assert tgtd.target_iqns() == [data['target_iqn']]


def test_extend_while_exported_reports_the_new_size(exports, host_vg, tgtd, initiator):
    """Online extend with tgt: the target and its CHAP/ACL stay, its LUN is
    re-added over the longer extent range, and READ CAPACITY says 2 GiB."""
    driver = exports.driver
    vol = exports.volume(1)
    apply(vol, driver.create_export(None, vol, CONNECTOR))
    data = driver.initialize_connection(vol, CONNECTOR)['data']
    tid = vol.provider_location.split(',')[1].split()[0]
    assert initiator.capacity(data) == (1024 * MiB, 1024 * MiB)
    tail = pattern('old-end', 64 * 1024)
    initiator.write(data, 1024 * MiB - len(tail), tail)

    # A logged-in initiator (a qemu-io session kept open) stays logged in.
    secret_args, opts = initiator._image_opts(data, None, CONNECTOR['initiator'])
    held = subprocess.Popen(['qemu-io'] + secret_args + ['--image-opts', opts],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        held.stdin.write('read 0 64k\n')
        held.stdin.flush()

        def nexuses():
            show = tgtd.tgtadm('--lld', 'iscsi', '--op', 'show', '--mode', 'target').stdout
            return re.findall(r'I_T nexus: (\d+)', show), show

        deadline = time.monotonic() + 20
        while not nexuses()[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        before, _ = nexuses()
        assert before, 'qemu-io did not log in'

        driver.extend_volume(vol, 2)
        vol.size = 2
        assert initiator.capacity(data) == (2048 * MiB, 2048 * MiB)
        after, show = nexuses()
        assert 'Target %s: %s' % (tid, data['target_iqn']) in show  # not re-created
        assert set(before) <= set(after), 'the open session was dropped'
        held.stdin.write('read 0 64k\nquit\n')
        held.stdin.flush()
        out, _ = held.communicate(timeout=30)
        assert out.count('read 65536/65536 bytes at offset 0') == 2, out
    finally:
        if held.poll() is None:
            held.kill()
            held.wait()
    assert initiator.read(data, 1024 * MiB - len(tail), len(tail)) == tail
    end = pattern('new-end', 64 * 1024)
    initiator.write(data, 2048 * MiB - len(end), end)
    offset, size = host_vg.lv_byte_range(vol.name)
    assert size == 2048 * MiB
    assert host_vg.read_pv(offset + size - len(end), len(end)) == end
    assert host_vg.read_pv(offset + 1024 * MiB - len(tail), len(tail)) == tail
    # One loop device backs the export: the one over the longer range.
    assert len(host_vg.loops_of_file()) == 2  # the PV's and the export's
    assert host_vg.loops_of_file(offset, size)
    # The initiator is still the only one let in.
    intruder = initiator.inq(data, initiator=INTRUDER)
    assert intruder.returncode != 0
