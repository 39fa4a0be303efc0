"""The backup round trip of issue 10, through real clients, to each backup store.

A 2 GiB volume on the embedded blockstore-all's file backend holds data at its
start, after a 1 GiB hole and at its very end (written through an attachment's
local path). A full backup; 1 MiB changed; an incremental. Then each is
restored, to a new volume and onto an existing one (the latter first filled
with junk where the backup has holes), and the incremental once more through a
3.47 volume create from the backup. Every restored volume equals the source
at that point, byte for byte, and stays sparse: its holes are holes. The
backups read and stored only about what the volume holds, never its 2 GiB.
Last, both backups are exported, lost from the database, imported again (the
full first: the incremental names it as its parent) and the imported
incremental restores the same bytes through the chain.

python-cinderclient drives most steps; openstacksdk lists the backups and
runs the restores onto the existing volume. The whole runs once per store:
posix (the default, under $state_path/backups) and swift (a real Swift on
loopback, tests/fixtures/swift.py: it skips without Swift, fails under CI).

"Byte for byte" without reading 2 GiB each time: a volume's file is compared
with the expected image over every range SEEK_DATA reports (read and
compared), and every range it reports as a hole must be zeros in the expected
image (a hole reads as zeros: lseek(2)). One restore per store is also read
in full as a cross-check of that reasoning.
"""

import os
import re
import sqlite3
import time
import uuid

from cinderclient import exceptions as cinder_exc
import pytest
from swiftclient import client as swift_client

from tests.fixtures import deployment as depfix
from tests.fixtures.swift import swift_fixture
from tests.functional.test_clients_attach import _cinder, _sdk
from tests.functional.test_clients_backups import (_lose_backup_row, _wait, _wait_gone,
                                                    _with_path)

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
SIZE_GB = 2
SIZE = SIZE_GB * GiB
#: What any restored volume, or what a backup reads or stores, stays under.
SMALL = 32 * MiB
WINDOW = 16 * MiB
_DATA_OBJECT = re.compile(r'-\d{5,}$')

swift_server = swift_fixture()     # module-scoped; started only for the swift store


# -- the deployment, once per store --------------------------------------------------------

@pytest.fixture(scope='module', params=['posix', 'swift'])
def store(request, tmp_path_factory):
    """(Deployment, store kind, SwiftServer or None): blockstore-all backing up there."""
    kind = request.param
    swift = None
    extra = ''
    if kind == 'swift':
        swift = request.getfixturevalue('swift_server')
        extra = ('[backup]\nbackup_driver = swift\nbackup_swift_auth_url = %s\n'
                 'backup_swift_user = %s\nbackup_swift_key = %s\n'
                 'backup_swift_retries = 1\nbackup_swift_timeout = 20\n'
                 % (swift.auth_url, swift.user, swift.key))
    dep = depfix.Deployment(tmp_path_factory.mktemp('bk-round-trip-' + kind), extra_conf=extra)
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        admin = _cinder(dep)
        deadline = time.time() + 60
        while time.time() < deadline:
            backup_up = [s for s in admin.services.list(binary='cinder-backup')
                         if s.state == 'up']
            if backup_up and admin.pools.list():
                break
            time.sleep(0.2)
        else:
            raise AssertionError('no pool or backup service after 60 s:\n%s'
                                 % dep.output('all'))
        yield dep, kind, swift
    finally:
        dep.stop_all()


# -- the expected image of a volume --------------------------------------------------------

class Image:
    """What a volume of ``size`` bytes should read: zeros, then each write in order."""

    def __init__(self, size, writes=()):
        self.size = size
        self.writes = list(writes)

    def then(self, writes):
        return Image(self.size, self.writes + list(writes))

    @property
    def covered(self):
        """Bytes of the volume some write touched (the union of the writes)."""
        total, end = 0, 0
        for off, data in sorted(self.writes, key=lambda w: w[0]):
            lo, hi = max(off, end), off + len(data)
            if hi > lo:
                total += hi - lo
                end = hi
        return total

    def expected(self, lo, hi):
        out = bytearray(hi - lo)
        for off, data in self.writes:
            a, b = max(lo, off), min(hi, off + len(data))
            if a < b:
                out[a - lo:b - lo] = data[a - off:b - off]
        return bytes(out)

    def zeros_in(self, lo, hi):
        """True if this image reads as zeros over [lo, hi) (without building it)."""
        for off, data in self.writes:
            a, b = max(lo, off), min(hi, off + len(data))
            if a < b and data[a - off:b - off].count(0) != b - a:
                return False
        return True


def _data_regions(fd, size):
    regions, pos = [], 0
    while pos < size:
        try:
            start = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:          # ENXIO: nothing but a hole from pos to the end
            break
        if start >= size:
            break
        end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        regions.append((start, end))
        pos = end
    return regions


def _assert_image(path, image, full_read=False):
    """``path`` reads exactly as ``image`` and allocates about what it holds."""
    st = os.stat(path)
    assert st.st_size == image.size, (path, st.st_size)
    allocated = st.st_blocks * 512
    assert allocated < SMALL, ('%s allocates %d bytes: its holes were filled'
                               % (path, allocated))
    with open(path, 'rb', buffering=0) as f:
        regions = _data_regions(f.fileno(), image.size)
        pos = 0
        for start, end in regions + [(image.size, image.size)]:
            assert image.zeros_in(pos, start), (
                'bytes %d..%d of %s are a hole; they should hold data' % (pos, start, path))
            for lo in range(start, end, WINDOW):
                hi = min(lo + WINDOW, end)
                got = os.pread(f.fileno(), hi - lo, lo)
                if got != image.expected(lo, hi):
                    want = image.expected(lo, hi)
                    first = next(i for i in range(len(got)) if got[i] != want[i])
                    raise AssertionError('%s differs from the source at byte %d'
                                         % (path, lo + first))
            pos = end
        if full_read:      # the cross-check: every byte, holes included
            zeros = bytes(WINDOW)
            for lo in range(0, image.size, WINDOW):
                hi = min(lo + WINDOW, image.size)
                want = (zeros[:hi - lo] if image.zeros_in(lo, hi) else image.expected(lo, hi))
                assert os.pread(f.fileno(), hi - lo, lo) == want, (path, lo)
    return allocated


def _check_volume(c, volume_id, image, full_read=False):
    return _with_path(c, volume_id, lambda path: _assert_image(path, image, full_read))


def _write(c, volume_id, writes):
    def write(path):
        with open(path, 'r+b', buffering=0) as f:
            for off, data in writes:
                assert os.pwrite(f.fileno(), data, off) == len(data)
            os.fsync(f.fileno())
    _with_path(c, volume_id, write)


def _compressible(n):
    line = b'blockstore round trip: data after a long hole, compressible. '
    return (line * (n // len(line) + 1))[:n]


# -- what a backup read and stored ---------------------------------------------------------

def _backup_row(dep, backup_id):
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(dep.state_path, 'blockstore.sqlite'),
                         uri=True)
    try:
        row = db.execute('SELECT bytes_read, object_count, container, service_metadata '
                         'FROM backups WHERE id = ?', (backup_id,)).fetchone()
    finally:
        db.close()
    assert row is not None, backup_id
    return dict(zip(('bytes_read', 'object_count', 'container', 'prefix'), row))


def _stored_objects(store, container, prefix):
    """{name: bytes} of the backup's objects, as the store itself lists them."""
    dep, kind, swift = store
    if kind == 'posix':
        root = os.path.join(dep.state_path, 'backups', container)
        directory, base = os.path.split(os.path.join(root, prefix))
        return {os.path.relpath(os.path.join(directory, n), root):
                os.path.getsize(os.path.join(directory, n))
                for n in os.listdir(directory) if n.startswith(base)}
    url, token = swift_client.get_auth(swift.auth_url, swift.user, swift.key)
    _headers, listing = swift_client.get_container(url, token, container, prefix=prefix,
                                                   full_listing=True)
    return {o['name']: o['bytes'] for o in listing}


def _assert_small_backup(store, backup, admin, data_objects, least_read):
    """The backup read (at least ``least_read``) and stored about what the volume holds,
    not its size; returns (bytes read, bytes stored)."""
    row = _backup_row(store[0], backup.id)
    assert row['object_count'] == backup.object_count == data_objects, (row, data_objects)
    assert least_read <= row['bytes_read'] < SMALL, row
    shown = admin.backups.get(backup.id)   # admins see the progress
    assert getattr(shown, 'os-backup-progress:percent') == 100
    assert getattr(shown, 'os-backup-progress:bytes_done') == SIZE
    objects = _stored_objects(store, row['container'], row['prefix'])
    data = {n: b for n, b in objects.items() if _DATA_OBJECT.search(n)}
    assert len(data) == data_objects, sorted(objects)
    assert row['prefix'] + '_metadata' in objects and row['prefix'] + '_sha256file' in objects
    stored = sum(objects.values())
    assert 0 < stored < SMALL, objects
    return row['bytes_read'], stored


# -- the round trip ------------------------------------------------------------------------

def test_backup_round_trip(store):
    dep, kind, _swift = store
    timings = {}
    began = last = time.monotonic()

    def lap(name):
        nonlocal last
        now = time.monotonic()
        timings[name] = round(now - last, 2)
        last = now

    project = 'rt-' + uuid.uuid4().hex[:8]
    c = _cinder(dep, project)
    admin = _cinder(dep)
    conn = _sdk(dep, project)

    # A 2 GiB volume: data at the start, after a 1 GiB hole, at the very end.
    vol = c.volumes.create(SIZE_GB, name='rt-source')
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    v1 = Image(SIZE, [(0, os.urandom(MiB)),
                      (GiB + 3 * KiB + 17, _compressible(700 * KiB)),
                      (SIZE - 300 * KiB, os.urandom(300 * KiB))])
    _write(c, vol.id, v1.writes)
    _check_volume(c, vol.id, v1)
    lap('volume + writes')

    # The full backup: three data objects (one per chunk that holds data).
    full = c.backups.create(vol.id, name='rt-full')
    full = _wait(lambda: c.backups.get(full.id), 'available', timeout=120)
    assert full.is_incremental is False and full.size == SIZE_GB
    full_read, full_stored = _assert_small_backup(store, full, admin, data_objects=3,
                                                 least_read=v1.covered)
    lap('full backup')

    # 1 MiB changed across two blocks, in the middle chunk: an incremental of one object.
    v2 = v1.then([(GiB + 512 * KiB, os.urandom(MiB))])
    _write(c, vol.id, v2.writes[-1:])
    _check_volume(c, vol.id, v2)
    inc = c.backups.create(vol.id, name='rt-inc', incremental=True)
    inc = _wait(lambda: c.backups.get(inc.id), 'available', timeout=120)
    assert inc.is_incremental is True and inc.size == SIZE_GB
    assert c.backups.get(full.id).has_dependent_backups is True
    inc_read, inc_stored = _assert_small_backup(store, inc, admin, data_objects=1,
                                               least_read=MiB)
    assert MiB <= inc_stored < 4 * MiB, inc_stored        # the changed blocks only
    lap('incremental backup')

    # openstacksdk lists both, the incremental naming its parent's volume.
    listed = {b.id: b for b in conn.block_storage.backups(details=True)}
    assert set(listed) == {full.id, inc.id}
    assert listed[inc.id].is_incremental is True and listed[full.id].is_incremental is False
    assert {b.volume_id for b in listed.values()} == {vol.id}

    # The full to a new volume (cinderclient); read in full once, as a cross-check.
    restore = c.restores.restore(full.id, name='rt-full-new')
    full_new = _wait(lambda: c.volumes.get(restore.volume_id), 'available', timeout=120)
    _wait(lambda: c.backups.get(full.id), 'available')
    assert full_new.size == SIZE_GB
    _check_volume(c, full_new.id, v1, full_read=True)
    lap('restore full -> new (+ full read)')

    # The incremental to a new volume: 3.47, a volume created from the backup.
    inc_new = c.volumes.create(size=None, backup_id=inc.id, name='rt-inc-new')
    inc_new = _wait(lambda: c.volumes.get(inc_new.id), 'available', timeout=120)
    _wait(lambda: c.backups.get(inc.id), 'available')
    assert inc_new.size == SIZE_GB
    _check_volume(c, inc_new.id, v2)
    lap('restore inc -> new (3.47)')

    # The incremental onto an existing volume holding junk where the backup has holes
    # and where it has data (openstacksdk): the junk is gone, the holes are holes.
    target = c.volumes.create(SIZE_GB, name='rt-target')
    target = _wait(lambda: c.volumes.get(target.id), 'available')
    junk = [(off, os.urandom(2 * MiB)) for off in (0, 512 * MiB, GiB, SIZE - 2 * MiB)]
    _write(c, target.id, junk)
    conn.block_storage.restore_backup(inc.id, volume=target.id)
    _wait(lambda: c.backups.get(inc.id), 'available', timeout=120)
    _wait(lambda: c.volumes.get(target.id), 'available')
    _check_volume(c, target.id, v2)
    lap('restore inc -> existing (sdk)')

    # The full onto that same volume (openstacksdk): back to the older bytes.
    conn.block_storage.restore_backup(full.id, volume=target.id)
    _wait(lambda: c.backups.get(full.id), 'available', timeout=120)
    _wait(lambda: c.volumes.get(target.id), 'available')
    _check_volume(c, target.id, v1)
    lap('restore full -> existing (sdk)')

    # Export both; the database loses them (their objects stay in the store); import
    # the full, then the incremental; the imported incremental restores through the chain.
    records = [admin.backups.export_record(b.id) for b in (full, inc)]
    for record in records:
        assert record['backup_service'] == kind and record['backup_url']
    for b in (inc, full):
        _lose_backup_row(dep, b.id)
    for b in (inc, full):
        with pytest.raises(cinder_exc.NotFound):
            c.backups.get(b.id)
    imported = []
    for b, record in zip((full, inc), records):
        got = admin.backups.import_record(record['backup_service'], record['backup_url'])
        assert got['id'] == b.id
        imported.append(_wait(lambda: admin.backups.get(b.id), 'available', timeout=60))
    assert imported[1].is_incremental is True
    assert admin.backups.get(full.id).has_dependent_backups is True
    assert [i.size for i in imported] == [SIZE_GB, SIZE_GB]
    restore = admin.restores.restore(inc.id, name='rt-from-import')
    again = _wait(lambda: admin.volumes.get(restore.volume_id), 'available', timeout=120)
    _wait(lambda: admin.backups.get(inc.id), 'available')
    _check_volume(admin, again.id, v2)
    lap('export, lose, import, restore')

    # Nothing left behind: the backups delete (incremental first), then the volumes.
    admin.backups.delete(inc.id)
    _wait_gone(lambda: admin.backups.get(inc.id))
    admin.backups.delete(full.id)
    _wait_gone(lambda: admin.backups.get(full.id))
    for v in (vol, full_new, inc_new, target):
        c.volumes.delete(v.id)
    admin.volumes.delete(again.id)
    lap('cleanup')
    print('\nround trip to %s: %.1f s; full read %d B stored %d B; incremental read %d B '
          'stored %d B; steps %s' % (kind, time.monotonic() - began, full_read, full_stored,
                                     inc_read, inc_stored, timings))
