"""A backup service on another node backs up a thin LVM volume over iSCSI and restores it.

In the guest: API, scheduler and the volume service (LVM thin on a loop-file
PV, activated LVs, a private tgtd) with ``[DEFAULT] host`` = the deployment's
host, and a backup service whose host is another node
(``backup_elsewhere.py``: the same process, since the guest has no broker
for two). With ``[backup] backup_use_export = auto`` the backup service asks
for an export: the volume service exports the thin backup base snapshot
(``_backup-<id>``) as a target of its own to the backup service's os-brick
connector, the backup service logs in with the kernel initiator, reads the
/dev/sdX os-brick gives (only what the pool maps, or what thin_delta says
changed), logs out, and the export is removed. A restore onto another volume
goes the same way (the target is discarded by the volume service first, so
holes stay holes). Bytes are checked on the LVs themselves.
"""

import os
import tempfile
import time

import pytest

from tests.e2e.host import conftest as host
from tests.e2e.kernel.inside import guest
from tests.fixtures import compute_host as ch
from tests.fixtures import deployment as depfix

pytest.importorskip('os_brick', reason='reading volumes over an export needs os-brick')

MiB = 1024 ** 2
GiB = 1024 ** 3
BACKEND, THICK = 'lvm1', 'lvm2'
VG, VG_THICK = 'bs-kt-bkremote', 'bs-kt-bkremote2'
BACKUP_HOST = 'backup-node'
IQN_PREFIX = 'iqn.2010-10.org.openstack:'
# Data at the start, after a long hole and at the end of a 1 GiB volume.
WRITES = [(0, 2 * MiB), (512 * MiB, MiB), (GiB - MiB, MiB)]
CHANGE = (700 * MiB, MiB)
HOLES = [(128 * MiB, MiB), (300 * MiB, MiB), (900 * MiB, MiB)]


class Cloud:
    def __init__(self, dep, tgtd, workdir, conf_dir):
        self.dep, self.tgtd, self.workdir, self.conf_dir = dep, tgtd, workdir, conf_dir
        self.user = ch.RestClient(dep.endpoint, 'demo', 'demo', timeout=180)
        self.admin = ch.RestClient(dep.endpoint, 'admin', 'admin', timeout=180)

    def wait(self, kind, rid, want, timeout=300):
        deadline = time.monotonic() + timeout
        while True:
            body = self.user.request('GET', '/%ss/%s' % (kind, rid), expect=200).json()[kind]
            if body['status'] == want:
                return body
            if body['status'].startswith('error'):
                pytest.fail('%s %s is %s (%s)\n%s' % (kind, rid, body['status'],
                                                     body.get('fail_reason'), self.errors()),
                            pytrace=False)
            assert time.monotonic() < deadline, '%s %s is %s' % (kind, rid, body['status'])
            time.sleep(0.5)

    def new_volume(self, volume_type='thin'):
        vid = self.user.request('POST', '/volumes', {'volume': {
            'size': 1, 'volume_type': volume_type}}, expect=202).json()['volume']['id']
        self.wait('volume', vid, 'available')
        return vid

    def lv(self, vid, vg=VG):
        return ch.BlockDevice({'path': '/dev/%s/volume-%s' % (vg, vid)})

    def lvs(self, *fields, vg=VG):
        out = guest.run('lvs', '--noheadings', '--separator', '|', '-o',
                        'lv_name,' + ','.join(fields), vg,
                        env={'LVM_SYSTEM_DIR': self.conf_dir}).stdout
        return {line.split('|')[0].strip(): [f.strip() for f in line.split('|')[1:]]
                for line in out.splitlines() if line.strip()}

    def backup(self, vid, incremental=False, force=False):
        bid = self.user.request('POST', '/backups', {'backup': {
            'volume_id': vid, 'name': 'remote', 'incremental': incremental,
            'force': force}},
            expect=202).json()['backup']['id']
        return self.wait('backup', bid, 'available')

    def restore(self, bid, vid):
        self.user.request('POST', '/backups/%s/restore' % bid,
                          {'restore': {'volume_id': vid}}, expect=202)
        self.wait('backup', bid, 'available')
        return self.wait('volume', vid, 'available')

    def log(self):
        with open(os.path.join(self.dep.workdir, 'blockstore.log'), errors='replace') as f:
            return f.read()

    def errors(self):
        lines = self.log().splitlines()
        return '\n'.join(line for i, line in enumerate(lines) if ' ERROR ' in line
                         or ' WARNING ' in line or (i and ' ERROR ' in lines[i - 1]))[-6000:]

    def log_tail(self):
        return self.log()[-3000:]

    def leftovers(self):
        """Backup or restore targets still in tgtd, iSCSI sessions still logged in."""
        targets = [i for i in self.tgtd.target_iqns()
                   if i.startswith(IQN_PREFIX + 'backup-') or
                   i.startswith(IQN_PREFIX + 'restore-')]
        return targets, guest.sessions()


def _lvm_section(backend, vg, lvm_type, conf_dir, pv, tgtd, targets):
    """The config section of one LVM backend on a loop-file PV, exported by ``tgtd``."""
    return '''
        [%(b)s]
        volume_group = %(vg)s
        lvm_type = %(type)s
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
        ''' % dict(b=backend, vg=vg, type=lvm_type, conf_dir=conf_dir, pv=pv,
                    port=tgtd.port, control=tgtd.control_port, targets=targets)


@pytest.fixture(scope='module')
def cloud(iscsid):
    workdir = tempfile.mkdtemp(prefix='bs-kt-bkremote-')
    conf_dir = os.path.join(workdir, 'lvm')
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, 'lvm.conf'), 'w') as f:
        f.write('devices { global_filter = [ "a|^/dev/loop|", "r|.*|" ] }\n')
    os.makedirs(host.TGTD_SOCKET_DIR, exist_ok=True)
    tgtd = host.Tgtd(workdir).start()
    os.makedirs(os.path.join(workdir, 'deployment'))
    sections = ''.join(
        _lvm_section(backend, vg, lvm_type, conf_dir, os.path.join(workdir, pv), tgtd,
                     os.path.join(workdir, 'targets'))
        for backend, vg, lvm_type, pv in ((BACKEND, VG, 'thin', 'pv.img'),
                                          (THICK, VG_THICK, 'default', 'pv2.img')))
    dep = depfix.Deployment(os.path.join(workdir, 'deployment'), backends=(BACKEND, THICK),
                            volume_driver='lvm', extra_conf=sections + '''
        [backup]
        backup_use_export = auto
        backup_chunk_size = 4194304
        backup_block_size = 1048576
        backup_workers = 2
        ''')
    dep.write_config()
    dep.start('all', module='tests.e2e.kernel.inside.backup_elsewhere',
              env={'BLOCKSTORE_BACKUP_HOST': BACKUP_HOST})
    try:
        dep.wait_for_api(timeout=300)
        c = Cloud(dep, tgtd, workdir, conf_dir)
        for name, backend in (('thin', BACKEND), ('thick', THICK)):
            c.admin.request('POST', '/types', {'volume_type': {
                'name': name, 'extra_specs': {'volume_backend_name': backend}}}, expect=200)
        yield c
    finally:
        dep.stop_all()
        tgtd.stop()
        for vg in (VG, VG_THICK):
            guest.run('vgremove', '-f', vg, env={'LVM_SYSTEM_DIR': conf_dir}, check=False)


def _check(cloud, vid, expected, vg=VG):
    lv = cloud.lv(vid, vg)
    for (offset, length), data in expected.items():
        assert lv.read(offset, length) == data, 'volume %s differs at %d' % (vid, offset)


def test_backup_service_on_another_node_reads_and_writes_over_iscsi(cloud):
    t0 = time.monotonic()
    services = cloud.admin.request('GET', '/os-services', expect=200).json()['services']
    backup_hosts = [s['host'] for s in services
                    if s['binary'] in ('cinder-backup', 'blockstore-backup')]
    volume_hosts = [s['host'] for s in services if s['binary'] == 'blockstore-volume']
    assert backup_hosts == [BACKUP_HOST], services
    assert volume_hosts and all(h.split('@')[0] != BACKUP_HOST for h in volume_hosts)

    src = cloud.new_volume()
    expected = {}
    for offset, length in WRITES:
        expected[(offset, length)] = guest.pattern('src%d' % offset, length)
        cloud.lv(src).write(offset, expected[(offset, length)])
    for offset, length in HOLES + [CHANGE]:
        expected[(offset, length)] = bytes(length)

    # Full backup over an export of the thin base snapshot.
    full = cloud.backup(src)
    log = cloud.log()
    assert 'Exported /dev/%s/_backup-%s' % (VG, full['id']) in log, cloud.log_tail()
    assert 'Connected the iscsi export %sbackup-%s' % (IQN_PREFIX, full['id']) in log
    assert cloud.leftovers() == ([], [])
    assert '_backup-%s' % full['id'] in cloud.lvs('origin')   # the next incremental's base

    # Restore onto another volume that holds other data where the source has holes.
    dst = cloud.new_volume()
    cloud.lv(dst).write(300 * MiB, guest.pattern('junk', MiB))
    cloud.restore(full['id'], dst)
    assert 'Connected the iscsi export %srestore-%s' % (IQN_PREFIX, full['id']) in cloud.log()
    assert cloud.leftovers() == ([], [])
    _check(cloud, dst, expected)
    # Holes stay holes: the thin target maps about what the source holds (4 MiB of 1 GiB).
    assert float(cloud.lvs('data_percent')['volume-%s' % dst][0]) < 3.0

    # Change 1 MiB; the incremental reads what thin_delta says changed, over iSCSI too.
    expected[CHANGE] = guest.pattern('change', CHANGE[1])
    cloud.lv(src).write(CHANGE[0], expected[CHANGE])
    incr = cloud.backup(src, incremental=True)
    assert incr['is_incremental'] is True
    log = cloud.log()
    assert 'Connected the iscsi export %sbackup-%s' % (IQN_PREFIX, incr['id']) in log
    assert 'changed since backup %s' % full['id'] in log
    lvs = cloud.lvs('origin')
    assert '_backup-%s' % incr['id'] in lvs and '_backup-%s' % full['id'] not in lvs
    cloud.restore(incr['id'], dst)      # the chain: full, then the incremental
    assert cloud.leftovers() == ([], [])
    _check(cloud, dst, expected)
    assert cloud.user.volume(src)['status'] == 'available'
    print('kernel-tier remote backup scenario: %.1f s' % (time.monotonic() - t0))


def test_thick_volume_in_use_through_its_temporary_snapshot_and_detached(cloud):
    """Thick LVs: an in-use volume is read through a temporary (COW) snapshot exported
    to the backup service, a detached one through an export of the volume itself;
    every byte is read (the pipeline skips zero blocks). Restored onto a thin volume."""
    t0 = time.monotonic()
    src = cloud.new_volume('thick')
    expected = {}
    for offset, length in WRITES:
        expected[(offset, length)] = guest.pattern('thick%d' % offset, length)
        cloud.lv(src, VG_THICK).write(offset, expected[(offset, length)])
    for offset, length in HOLES:
        expected[(offset, length)] = bytes(length)

    # In use (status set by an admin: the attach flow is test_attach_osbrick's).
    cloud.admin.action(src, 'os-reset_status', {'status': 'in-use'})
    attached = cloud.backup(src, force=True)
    log = cloud.log()
    exported = [line for line in log.splitlines()
                if 'for the backup of backup %s' % attached['id'] in line]
    assert exported and '/dev/%s/_snapshot-' % VG_THICK in exported[0], cloud.log_tail()
    assert 'Connected the iscsi export %sbackup-%s' % (IQN_PREFIX, attached['id']) in log
    assert cloud.user.volume(src)['status'] == 'in-use'
    assert not [n for n in cloud.lvs('origin', vg=VG_THICK) if n.startswith('_snapshot-')]
    assert cloud.leftovers() == ([], [])
    cloud.admin.action(src, 'os-reset_status', {'status': 'available'})

    # Detached: the volume's own LV is exported (a target apart from any attachment's).
    detached = cloud.backup(src)
    assert ('Exported /dev/%s/volume-%s' % (VG_THICK, src)) in cloud.log()
    assert cloud.leftovers() == ([], [])

    for backup in (attached, detached):
        dst = cloud.new_volume('thin')
        cloud.restore(backup['id'], dst)
        _check(cloud, dst, expected)
    assert cloud.leftovers() == ([], [])
    print('kernel-tier remote thick backups: %.1f s' % (time.monotonic() - t0))
