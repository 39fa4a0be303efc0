"""A volume created through the API on the LVM backend, exported over iSCSI with CHAP.

The embedded ``blockstore-all`` runs as a real process with one LVM backend
on the host tier's throw-away VG (loop-device PV, private lvm.conf,
``lvm_activation = False``) and a private tgtd on free ports. It is driven
only as a compute host and a user would: python-cinderclient and the
``cinder`` CLI in noauth mode, then a userspace initiator (qemu-io /
qemu-img / iscsi-inq over the connection_info the API returned, CHAP
included).

What it proves: the bytes written through iSCSI land in the LV's extents in
the PV image; the wrong CHAP secret is refused; after the volume service and
tgtd are both killed and restarted, ``init_host``'s ensure_export brings the
target back with the same credentials and the same bytes; terminating the
connection removes the target; deleting the volume removes the LV.
"""

import os
import subprocess
import sys
import time

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from keystoneauth1 import session as ks_session
import pytest

from tests.e2e.host import conftest as host
from tests.e2e.host import test_lvm_iscsi
from tests.fixtures import deployment as depfix
from tests.fixtures.deployment import MEMBER_HEADERS

MiB = 1024 ** 2
BACKEND = 'lvm1'
CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:bs-api-test', 'ip': '127.0.0.1',
             'host': 'compute1', 'multipath': False, 'platform': 'x86_64',
             'os_type': 'linux'}


def lvm_conf(vg, tgtd):
    return host.service_backend_section(vg, tgtd, BACKEND)


@pytest.fixture
def deployment(tmp_path, host_vg, tgtd):
    """blockstore-all on the LVM backend; stopped by PID before the VG and tgtd go."""
    host.require_host('qemu-io', 'qemu-img', 'iscsi-inq')
    workdir = tmp_path / 'deployment'
    workdir.mkdir()
    dep = depfix.Deployment(workdir, backends=(BACKEND,), volume_driver='lvm',
                            extra_conf=lvm_conf(host_vg, tgtd))
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        yield dep
    finally:
        dep.stop_all()


def _cinder(dep):
    auth = noauth.CinderNoAuthPlugin('demo', 'demo', endpoint=dep.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client('3.71', session=sess)


def _wait(get, want, timeout=40):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        assert not obj.status.startswith('error'), obj.status
        time.sleep(0.2)
        obj = get()
    assert obj.status == want, obj.status
    return obj


def _wait_gone(c, vid, timeout=40):
    from cinderclient import exceptions
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            vol = c.volumes.get(vid)
        except exceptions.NotFound:
            return
        assert not vol.status.startswith('error'), vol.status
        time.sleep(0.2)
    raise AssertionError('volume %s was not deleted' % vid)


def _until(check, timeout=30, what='condition'):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError('timed out waiting for %s' % what)


def test_api_volume_on_lvm_over_iscsi_with_chap(deployment, host_vg, tgtd, tmp_path):
    dep = deployment
    c = _cinder(dep)
    initiator = test_lvm_iscsi.Initiator(tmp_path)
    name = CONNECTOR['initiator']

    # The cinder CLI reaches 'available' on this backend (issue 4's "Done when").
    cinder = os.path.join(os.path.dirname(sys.executable), 'cinder')
    out = subprocess.run(
        [cinder, '--os-auth-type', 'noauth', '--os-user-id', 'demo', '--os-project-id', 'demo',
         '--os-endpoint', dep.endpoint + '/v3', '--os-volume-api-version', '3.71',
         'create', '--name', 'from-cli', '1'],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    cli_vol = [v for v in c.volumes.list() if v.name == 'from-cli'][0]
    cli_vol = _wait(lambda: c.volumes.get(cli_vol.id), 'available')
    assert host_vg.lv_exists('volume-%s' % cli_vol.id)
    c.volumes.delete(cli_vol)
    _wait_gone(c, cli_vol.id)
    assert not host_vg.lv_exists('volume-%s' % cli_vol.id)

    # create 1 -> available, an LV of 1 GiB in our VG
    vol = c.volumes.create(1, name='api-lvm')
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    lv = 'volume-%s' % vol.id
    assert host_vg.lv_size(lv) == 1024 * MiB
    iqn = 'iqn.2010-10.org.openstack:%s' % lv

    # initialize a connection as a compute host would
    info = c.volumes.initialize_connection(vol, CONNECTOR)
    assert info['driver_volume_type'] == 'iscsi'
    data = info['data']
    assert data['auth_method'] == 'CHAP' and data['auth_username'] and data['auth_password']
    assert data['target_iqn'] == iqn and data['target_lun'] == 1
    assert data['target_portal'] == '127.0.0.1:%d' % tgtd.port
    assert data['volume_id'] == vol.id
    assert iqn in tgtd.target_iqns()
    assert c.volumes.get(vol.id).status == 'available'
    for logged in ('blockstore.log', 'all.out'):
        with open(os.path.join(dep.workdir, logged), errors='replace') as f:
            assert data['auth_password'] not in f.read(), logged

    # write a pattern through iSCSI; read it back; find it in the LV's extents
    offset = 3 * MiB
    pattern = os.urandom(256 * 1024)
    initiator.write(data, offset, pattern, initiator=name)
    assert initiator.read(data, offset, len(pattern), initiator=name) == pattern
    lv_offset, lv_size = host_vg.lv_byte_range(lv)
    assert lv_size == 1024 * MiB
    assert host_vg.read_pv(lv_offset + offset, len(pattern)) == pattern

    # the wrong CHAP secret is refused
    assert initiator.inq(data, password='not-the-secret-x', initiator=name).returncode != 0
    assert initiator.inq(data, initiator=name).returncode == 0

    # kill the volume service and tgtd; both come back; ensure_export restores the target
    dep.kill('all')
    tgtd.kill()
    tgtd.start()
    assert iqn not in tgtd.target_iqns()
    dep.start('all')
    dep.wait_for_api()
    _until(lambda: iqn in tgtd.target_iqns(), what='ensure_export to restore %s' % iqn)
    with open(os.path.join(dep.workdir, 'blockstore.log'), errors='replace') as f:
        assert 'Restored the export of volume %s' % vol.id in f.read()
    _until(lambda: initiator.inq(data, initiator=name).returncode == 0,
           what='a CHAP login after the restart')
    assert initiator.read(data, offset, len(pattern), initiator=name) == pattern
    assert initiator.inq(data, password='not-the-secret-x', initiator=name).returncode != 0

    # terminate the connection: the target and its record are gone
    c.volumes.terminate_connection(vol, CONNECTOR)
    assert iqn not in tgtd.target_iqns()
    assert initiator.inq(data, initiator=name).returncode != 0
    if os.path.isdir(host_vg.volumes_dir):
        assert not os.listdir(host_vg.volumes_dir)

    # delete: the LV is gone
    c.volumes.delete(vol)
    _wait_gone(c, vol.id)
    assert not host_vg.lv_exists(lv)
