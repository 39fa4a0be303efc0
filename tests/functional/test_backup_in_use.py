"""An in-use backup (``force``) while a writer keeps writing through the attachment.

Against the embedded blockstore-all (file backend, posix store under the state
directory) with python-cinderclient. The backup service's store is slowed
(tests.fixtures.slow_all: every data object put/get waits) so the backup lasts
long enough to watch:

* the volume is attached to this host (``driver_volume_type: local``) and stays
  ``in-use`` the whole time;
* a writer thread writes numbered 64 KiB records (fsync'd; a hole after each) at
  advancing and repeating offsets through the attachment's path before, during and after the
  backup, and never gets an error;
* the backup reads a temporary snapshot (a snapshot row ``backup-<backup id>``
  outside quotas) which the test copies aside while the backup runs, and which
  is gone (row deleted, file removed) once the backup is available;
* the backup restored to a new volume equals that copy byte for byte, and
  differs from the volume's final content: the writer's later writes are not
  in it. Each record names its sequence number, so the test also checks what
  point in time the snapshot holds: the file driver clones the volume
  atomically (a reflink), so the snapshot must be exactly the volume after
  some write K, never torn.

The deployment lives on a filesystem with reflinks (tests/fixtures/reflink.py:
the tmp directory if it has them, else a loop-mounted XFS image of the test's
own; ext4 and tmpfs have none, and there the file driver's range copy could
tear under a writer).
"""

import errno
import hashlib
import os
import sqlite3
import struct
import threading
import time
import uuid

from cinderclient import exceptions as cinder_exc
import pytest

from tests.fixtures import deployment as depfix
from tests.fixtures import reflink
from tests.functional.test_clients_attach import CONNECTOR, _cinder
from tests.functional.test_clients_backups import _wait

RECORD = 64 * 1024
SPACING = 2 * RECORD             # a hole after each record: the volume has many extents
SLOTS = 256                      # the writer's region: 32 MiB, 16 backup chunks
STRIDE = 37                      # coprime with SLOTS: seq 0..255 fills every slot once
CHUNK = 2 * 1024 * 1024
MAGIC = b'BSINUSE1'
_HEADER = struct.Struct('<8sQQ')


def _slot(seq):
    return (seq * STRIDE) % SLOTS


def _record(seq):
    head = _HEADER.pack(MAGIC, seq, _slot(seq))
    body = hashlib.sha256(head).digest() * ((RECORD - len(head)) // 32 + 1)
    return (head + body)[:RECORD]


def _parse(block):
    """The sequence number a 64 KiB block holds: None if all zero, 'torn' if not whole."""
    if block.count(0) == len(block):
        return None
    magic, seq, slot = _HEADER.unpack_from(block)
    if magic != MAGIC or block != _record(seq):
        return 'torn'
    return seq


def _blocks(path):
    """(size, {offset: 64 KiB block}) of the non-zero blocks of a (sparse) file."""
    found = {}
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:
                    break
                raise
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
            pos = start - start % RECORD
            while pos < end:
                block = os.pread(fd, RECORD, pos)
                if block.count(0) != len(block):
                    found[pos] = block
                pos += RECORD
            offset = pos
    finally:
        os.close(fd)
    return size, found


class Writer(threading.Thread):
    """Writes record seq at slot _slot(seq), fsync'd, for seq = 0, 1, ... until stopped.

    ``log``: (seq, monotonic time the write started, time its fsync returned).
    """

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.log = []
        self.error = None
        self.stop = threading.Event()

    def run(self):
        try:
            fd = os.open(self.path, os.O_RDWR)
            try:
                seq = 0
                while not self.stop.is_set():
                    data = _record(seq)
                    started = time.monotonic()
                    assert os.pwrite(fd, data, _slot(seq) * SPACING) == RECORD
                    os.fsync(fd)
                    self.log.append((seq, started, time.monotonic()))
                    seq += 1
                    time.sleep(0.002)
            finally:
                os.close(fd)
        except BaseException as e:   # noqa: B902 - reported by the test
            self.error = e

    def state_after(self, last):
        """The region's slots after write ``last`` (and none later) completed."""
        slots = [None] * SLOTS
        for seq in range(last + 1):
            slots[_slot(seq)] = seq
        return slots


def _slots(blocks):
    """A region's slots (sequence number, None or 'torn') from _blocks()'s map."""
    extra = [off for off in blocks if off >= SLOTS * SPACING or off % SPACING]
    assert not extra, 'data outside the writer\'s records at %s' % extra[:4]
    return [_parse(blocks.get(i * SPACING, bytes(RECORD))) for i in range(SLOTS)]


@pytest.fixture
def slow_embedded(tmp_path):
    with reflink.reflink_dir(str(tmp_path)) as workdir:
        yield from _slow_embedded(workdir)


def _slow_embedded(workdir):
    dep = depfix.Deployment(workdir, extra_conf='''
        [backup]
        backup_chunk_size = %d
        backup_workers = 2
        ''' % CHUNK)
    dep.write_config()
    dep.start('all', module='tests.fixtures.slow_all',
              env={'BLOCKSTORE_TEST_SLOW_STORE': '0.5'})
    try:
        dep.wait_for_api()
        c = _cinder(dep)
        deadline = time.time() + 30
        while not c.pools.list() and time.time() < deadline:
            time.sleep(0.2)
        yield dep
    finally:
        dep.stop_all()


def _attach(c, volume_id):
    created = c.attachments.create(volume_id, None, instance_id=str(uuid.uuid4()))
    att = c.attachments.update(created['id'], CONNECTOR)
    c.attachments.complete(att.id)
    info = att.connection_info
    assert info['driver_volume_type'] == 'local'
    return att, info['device_path']


def _snapshot_row(dep, snapshot_id):
    db = sqlite3.connect(os.path.join(dep.state_path, 'blockstore.sqlite'))
    try:
        return db.execute('SELECT display_name, use_quota, deleted FROM snapshots '
                          'WHERE id = ?', (snapshot_id,)).fetchone()
    finally:
        db.close()


def test_in_use_backup_while_writing(slow_embedded):
    dep = slow_embedded
    t_begin = time.monotonic()
    project = 'inuse-' + uuid.uuid4().hex[:8]
    c = _cinder(dep, project)
    admin = _cinder(dep)
    vol = c.volumes.create(1)
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    att, path = _attach(c, vol.id)
    assert c.volumes.get(vol.id).status == 'in-use'
    volumes_dir = dep.volumes_dir('file1')
    assert reflink.has_reflinks(volumes_dir)

    writer = Writer(path)
    writer.start()
    try:
        deadline = time.time() + 30
        while len(writer.log) < SLOTS and writer.is_alive() and time.time() < deadline:
            time.sleep(0.05)
        assert writer.error is None and len(writer.log) >= SLOTS, writer.error

        # An attached volume needs force; with it, the backup runs from a temporary
        # snapshot and the volume stays in-use.
        with pytest.raises(cinder_exc.BadRequest):
            c.backups.create(vol.id)
        t_create = time.monotonic()
        backup = c.backups.create(vol.id, name='in-use', force=True)
        volume_statuses, backup_statuses = set(), []
        temp = copy = None
        t_seen = None
        name = 'backup-%s' % backup.id
        deadline = time.time() + 60
        while time.time() < deadline:
            b = c.backups.get(backup.id)
            if not backup_statuses or backup_statuses[-1] != b.status:
                backup_statuses.append(b.status)
            v = c.volumes.get(vol.id)
            volume_statuses.add((v.status, len(v.attachments)))
            if b.status != 'creating':
                break
            if copy is None:
                found = [s for s in admin.volume_snapshots.list(
                    search_opts={'all_tenants': 1, 'volume_id': vol.id}) if s.name == name]
                if found and found[0].status == 'available':
                    temp = found[0]
                    t_seen = time.monotonic()
                    copy = _blocks(os.path.join(volumes_dir, 'snapshot-%s' % temp.id))
                    seen_writes = len(writer.log)
                    # Outside quotas: the project's snapshot usage does not count it.
                    assert temp.consumes_quota is False
                    usage = admin.quotas.get(project, usage=True).snapshots
                    assert usage['in_use'] == 0, usage
            time.sleep(0.1)
        t_available = time.monotonic()
        backup = _wait(lambda: c.backups.get(backup.id), 'available', timeout=5)
        # The writer went on through the whole backup, and after it.
        time.sleep(0.3)
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.error is None, writer.error
    assert not writer.is_alive()

    assert backup_statuses[0] == 'creating' and backup_statuses[-1] == 'available', \
        backup_statuses
    assert volume_statuses == {('in-use', 1)}, volume_statuses
    assert copy is not None, 'the temporary snapshot %s was never seen available' % name
    assert len(writer.log) > seen_writes, 'no writes after the snapshot was copied'
    assert any(started > t_available for _, started, _ in writer.log)
    during = [started for _, started, _ in writer.log if t_create <= started <= t_available]
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert during and max(gaps) < 1.0, 'the writer stalled for %.2f s' % max(gaps)
    assert backup.size == 1 and backup.volume_id == vol.id
    assert backup.is_incremental is False and backup.object_count >= SLOTS * SPACING // CHUNK

    # The temporary snapshot is gone: row deleted, file removed, not listed.
    assert _snapshot_row(dep, temp.id) == (name, 0, 1)
    assert not os.path.exists(os.path.join(volumes_dir, 'snapshot-%s' % temp.id))
    with pytest.raises(cinder_exc.NotFound):
        admin.volume_snapshots.get(temp.id)
    assert not [s for s in admin.volume_snapshots.list(search_opts={'all_tenants': 1})
                if s.name == name]
    assert c.volumes.get(vol.id).status == 'in-use'

    # What point in time the snapshot holds. Every write that started after the
    # snapshot was visible is missing from it, whatever the driver did.
    size, blocks = copy
    assert size == 1024 ** 3
    snap = _slots(blocks)
    held = [s for s in snap if isinstance(s, int)]
    assert None not in snap, 'the region was filled before the backup'
    k = max(held) if held else -1
    later = [seq for seq, started, _ in writer.log if started > t_seen]
    assert later and min(later) > k, (k, later[:3])
    torn = [i for i, s in enumerate(snap) if s == 'torn']
    consistent = not torn and snap == writer.state_after(k)
    assert consistent, ('snapshot is not the volume after write %d: torn slots %s, '
                        'differs at %s' % (k, torn, [
                            i for i, (a, b) in enumerate(zip(snap, writer.state_after(k)))
                            if a != b][:8]))

    # The restored backup is the temporary snapshot, byte for byte, and not the volume
    # as the writer left it.
    c.attachments.delete(att.id)
    _wait(lambda: c.volumes.get(vol.id), 'available')
    final = _blocks(os.path.join(volumes_dir, 'volume-%s' % vol.id))
    assert _slots(final[1]) == writer.state_after(writer.log[-1][0])
    restore = c.restores.restore(backup.id, name='in-use-restored')
    restored = _wait(lambda: c.volumes.get(restore.volume_id), 'available', timeout=60)
    _wait(lambda: c.backups.get(backup.id), 'available')
    r_att, r_path = _attach(c, restored.id)
    try:
        got = _blocks(r_path)
    finally:
        c.attachments.delete(r_att.id)
    assert got[0] == size
    assert sorted(got[1]) == sorted(blocks)
    assert got == copy, 'the restored backup differs from the temporary snapshot'
    assert got != final, 'the backup holds the volume\'s final content'

    c.backups.delete(backup.id)
    for v in (vol.id, restored.id):
        _wait(lambda: c.volumes.get(v), 'available')
        c.volumes.delete(v)
    print('in-use backup: %d writes (%d after the snapshot), snapshot at write %d, '
          'consistent %s; backup %.1f s, total %.1f s' % (
              len(writer.log), len(writer.log) - k - 1, k, consistent,
              t_available - t_create, time.monotonic() - t_begin))
