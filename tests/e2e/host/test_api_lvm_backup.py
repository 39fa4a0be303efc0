"""Backups of a thick LVM volume through the API on the host tier.

The embedded ``blockstore-all`` (API, scheduler, volume service on the host
tier's loop-device VG exported by a private tgtd, backup service with the
posix store under its state directory) is driven as a user and a compute
host would: python-cinderclient for backup-create / backup-restore, and a
userspace iSCSI initiator (qemu-io / qemu-img over the connection_info the
API returned) for the bytes.

What it proves: data written through iSCSI at the start, after a long hole
and at the end of a 2 GiB volume is backed up in full and, after a 1 MiB
change, incrementally; each restores (to a new volume, and onto the
existing volume) with the same bytes read back through iSCSI, zeros in the
holes; the store holds little more than the data and the PV file stays
sparse. A forced backup of an attached volume (a temporary snapshot) ends
in error saying device-mapper is needed, the volume still in-use.
"""

import os
import time
import uuid

from tests.e2e.host import conftest as host
from tests.e2e.host import test_api_lvm_iscsi as api
from tests.e2e.host import test_lvm_iscsi

MiB = 1024 ** 2
GiB = 1024 ** 3
SIZE_GB = 2
WRITES = [0, GiB, SIZE_GB * GiB - MiB]     # 1 MiB at each
CHANGE = 700 * MiB
HOLE = 1500 * MiB
NAME = api.CONNECTOR['initiator']

deployment = api.deployment    # the fixture: blockstore-all on the LVM backend


def _wait(get, want, timeout=120):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        assert want.startswith('error') or not obj.status.startswith('error'), (
            obj.status, getattr(obj, 'fail_reason', None))
        time.sleep(0.2)
        obj = get()
    assert obj.status == want, (obj.status, getattr(obj, 'fail_reason', None))
    return obj


class Host:
    """A compute host reaching volumes over iSCSI, one connection at a time."""

    def __init__(self, c, workdir):
        self.c = c
        self.initiator = test_lvm_iscsi.Initiator(workdir)

    def _connected(self, vol, use):
        data = self.c.volumes.initialize_connection(vol, api.CONNECTOR)['data']
        try:
            return use(data)
        finally:
            self.c.volumes.terminate_connection(vol, api.CONNECTOR)

    def write(self, vol, writes):
        def write(data):
            for offset, payload in writes:
                self.initiator.write(data, offset, payload, initiator=NAME)
        self._connected(vol, write)

    def read(self, vol, offsets, length=MiB):
        return self._connected(vol, lambda data: {
            o: self.initiator.read(data, o, length, initiator=NAME) for o in offsets})


def _stored_bytes(dep):
    total = 0
    for root, _dirs, files in os.walk(os.path.join(dep.state_path, 'backups')):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def _pv_allocated(vg):
    return os.stat(vg.pv_file).st_blocks * 512


def test_api_thick_lvm_backup_incremental_and_restores(deployment, host_vg, tmp_path):
    host.require_host('qemu-io', 'qemu-img')
    dep = deployment
    c = api._cinder(dep)
    compute = Host(c, tmp_path)
    vol = c.volumes.create(SIZE_GB, name='src')
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    first = {o: os.urandom(MiB) for o in WRITES}
    compute.write(vol, first.items())

    started = time.monotonic()
    full = c.backups.create(vol.id, name='full')
    full = _wait(lambda: c.backups.get(full.id), 'available')
    full_seconds = time.monotonic() - started
    assert full.is_incremental is False and full.size == SIZE_GB
    assert c.volumes.get(vol.id).status == 'available'
    # The holes were not stored (random data: it does not compress).
    stored_full = _stored_bytes(dep)
    assert 3 * MiB <= stored_full <= 3 * MiB + 2 * MiB, stored_full
    assert host_vg.loops_of_file() == [host_vg.pv_device()], 'a loop device was left over'

    change = os.urandom(MiB)
    compute.write(vol, [(CHANGE, change)])
    inc = c.backups.create(vol.id, name='inc', incremental=True)
    inc = _wait(lambda: c.backups.get(inc.id), 'available')
    assert inc.is_incremental is True
    assert _stored_bytes(dep) - stored_full <= MiB + MiB, 'the incremental stored too much'

    # The incremental to a new volume: the data and the change; zeros in the holes.
    pv_before = _pv_allocated(host_vg)
    restore = c.restores.restore(inc.id, name='restored')
    restored = _wait(lambda: c.volumes.get(restore.volume_id), 'available')
    _wait(lambda: c.backups.get(inc.id), 'available')
    assert _pv_allocated(host_vg) - pv_before <= 4 * MiB + MiB, 'the restore filled holes'
    got = compute.read(restored, WRITES + [CHANGE, HOLE])
    assert {o: got[o] for o in WRITES} == first
    assert got[CHANGE] == change and got[HOLE] == bytes(MiB)

    # The full backup onto the existing source volume: the change is undone.
    c.restores.restore(full.id, volume_id=vol.id)
    _wait(lambda: c.volumes.get(vol.id), 'available')
    _wait(lambda: c.backups.get(full.id), 'available')
    got = compute.read(vol, WRITES + [CHANGE])
    assert {o: got[o] for o in WRITES} == first
    assert got[CHANGE] == bytes(MiB)
    assert host_vg.loops_of_file() == [host_vg.pv_device()], 'a loop device was left over'
    print('full backup of %d GiB with %d MiB of data: %.1f s' % (SIZE_GB, len(WRITES),
                                                                 full_seconds))


def test_api_backup_of_an_attached_thick_volume_is_refused_without_device_mapper(deployment):
    """backup-create --force of an in-use volume needs a temporary snapshot: the backup
    ends in error saying device-mapper is needed; the volume stays in-use."""
    c = api._cinder(deployment)
    vol = c.volumes.create(1, name='attached')
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    created = c.attachments.create(vol.id, None, instance_id=str(uuid.uuid4()))
    att = c.attachments.update(created['id'], api.CONNECTOR)
    c.attachments.complete(att.id)
    _wait(lambda: c.volumes.get(vol.id), 'in-use')

    backup = c.backups.create(vol.id, name='forced', force=True)
    backup = _wait(lambda: c.backups.get(backup.id), 'error')
    assert 'device-mapper' in backup.fail_reason, backup.fail_reason
    assert c.volumes.get(vol.id).status == 'in-use'
    assert not [s for s in c.volume_snapshots.list(search_opts={'all_tenants': 1})
                if s.volume_id == vol.id]
    c.attachments.delete(att.id)
    _wait(lambda: c.volumes.get(vol.id), 'available')
