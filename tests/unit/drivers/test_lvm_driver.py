"""LVMDriver flows without root or tools, against an in-memory LVM + losetup.

:class:`FakeHost` answers the argv the driver builds (first-fit contiguous
extents, thin pools, snapshots, loop devices), so the driver's sequences of
commands can be asserted, including the thin / snapshot paths that need
device-mapper (only the kernel tier can run them for real). Byte moves are
recorded instead of touching devices.
"""

import json
import os
import re
import types

import pytest
from oslo_config import cfg

from blockstore.common import conf as bs_conf
from blockstore.common import exception
from blockstore.common import processutils
from blockstore.volume.drivers import base
from blockstore.volume.drivers import lvm
from blockstore.volume.drivers import lvm_datapath
from blockstore.volume.drivers import lvm_vg

GiB = 1024 ** 3
MiB = 1024 ** 2
REPORT = ['--noheadings', '--units', 'b', '--nosuffix', '--separator', '|']


class FakeHost:
    """Answers lvm and losetup argv from an in-memory VG (first-fit extents)."""

    EXTENT = 4 * MiB
    PE_START = MiB

    def __init__(self, vg='vg1', extents=4096, pv='/dev/loop0', pv_file='/srv/pv.img',
                 vg_exists=True):
        self.vg, self.pv, self.pv_file = vg, pv, pv_file
        self.extents = extents
        self.vg_exists = vg_exists
        self.lvs = {}       # name -> dict(first, count, attr, pool, origin, virtual)
        self.loops = {pv: (pv_file, 0, 0)}
        self.calls = []

    @property
    def argvs(self):
        return [argv for argv, _ in self.calls]

    def programs(self, *names):
        return [a for a in self.argvs if a[0] in names]

    def __call__(self, *argv, **kwargs):
        argv = list(argv)
        self.calls.append((argv, kwargs))
        args = self._strip(argv[1:])
        out = getattr(self, '_' + argv[0])(args)
        return processutils.Result(out or '', '', 0)

    @staticmethod
    def _strip(args):
        out, skip = [], False
        for i, a in enumerate(args):
            if skip:
                skip = False
                continue
            if a in ('--devices', '--config', '--units', '--separator'):
                skip = True
                continue
            if a in ('--noheadings', '--nosuffix', '-y', '-an', '-Zn', '-ay', '-K', '-f'):
                continue
            out.append(a)
        return out

    @staticmethod
    def _opt(args, name, default=None):
        return args[args.index(name) + 1] if name in args else default

    def _fail(self, stderr, code=5):
        raise exception.ProcessExecutionError(cmd='fake', exit_code=code, stderr=stderr)

    # allocation
    def _used(self, skip=None):
        used = set()
        for name, lv in self.lvs.items():
            if name != skip and lv['count']:
                used.update(range(lv['first'], lv['first'] + lv['count']))
        return used

    def _alloc(self, count):
        used, run = self._used(), 0
        for pe in range(self.extents):
            run = 0 if pe in used else run + 1
            if run == count:
                return pe - count + 1
        self._fail('  Insufficient suitable contiguous allocatable extents for logical '
                   'volume: %d more required' % count)

    @staticmethod
    def _size(text):
        m = re.match(r'^(\d+)([gm])$', text)
        return int(m.group(1)) * (GiB if m.group(2) == 'g' else MiB)

    def _row(self, name, field):
        lv = self.lvs[name]
        size = lv['virtual'] or lv['count'] * self.EXTENT
        return {'lv_name': name, 'lv_size': str(size), 'lv_attr': lv['attr'],
                'pool_lv': lv['pool'], 'origin': lv['origin'],
                'data_percent': lv.get('data_percent', ''), 'seg_start_pe': '0',
                'seg_pe_ranges': '%s:%d-%d' % (self.pv, lv['first'],
                                               lv['first'] + lv['count'] - 1)}[field]

    # lvm reports
    def _vgs(self, args):
        if not self.vg_exists:
            self._fail('  Volume group "%s" not found' % self.vg)
        used = len(self._used())
        values = {'vg_name': self.vg, 'vg_size': self.extents * self.EXTENT,
                  'vg_free': (self.extents - used) * self.EXTENT, 'vg_extent_size': self.EXTENT,
                  'vg_extent_count': self.extents, 'vg_free_count': self.extents - used,
                  'lv_count': len(self.lvs), 'vg_uuid': 'uuid'}
        return '  ' + '|'.join(str(values[f]) for f in self._opt(args, '-o').split(',')) + '\n'

    def _pvs(self, args):
        return '  %s|%s|%d|0|%d\n' % (self.pv, self.vg if self.vg_exists else '',
                                      self.extents * self.EXTENT, self.PE_START)

    def _lvs(self, args):
        fields = self._opt(args, '-o').split(',')
        target = args[-1]
        names = sorted(self.lvs) if '/' not in target else [target.split('/', 1)[1]]
        for name in names:
            if name not in self.lvs:
                self._fail('  Failed to find logical volume "%s"' % target)
        return ''.join('  ' + '|'.join(self._row(n, f) for f in fields) + '\n' for n in names)

    # lvm changes
    def _lvcreate(self, args):
        name = self._opt(args, '-n')
        if name in self.lvs:
            self._fail('  Logical Volume "%s" already exists in volume group' % name)
        kind = self._opt(args, '--type')
        if '--snapshot' in args:
            origin = args[-1].split('/', 1)[1]
            src = self.lvs[origin]
            if '-L' in args:
                count = self._size(self._opt(args, '-L')) // self.EXTENT
                self.lvs[name] = dict(first=self._alloc(count), count=count, attr='swi-a-s---',
                                      pool='', origin=origin, virtual=None)
                src['attr'] = 'o' + src['attr'][1:]
            else:
                self.lvs[name] = dict(first=0, count=0, attr='Vwi---tz-k', pool=src['pool'],
                                      origin=origin, virtual=src['virtual'])
        elif kind == 'thin-pool':
            count = self.extents // 2
            self.lvs[name] = dict(first=self._alloc(count), count=count, attr='twi-a-tz--',
                                  pool='', origin='', virtual=None, data_percent='25.00')
        elif kind == 'thin':
            pool = self._opt(args, '--thinpool').split('/', 1)[1]
            self.lvs[name] = dict(first=0, count=0, attr='Vwi-a-tz--', pool=pool, origin='',
                                  virtual=self._size(self._opt(args, '-V')))
        else:
            count = self._size(self._opt(args, '-L')) // self.EXTENT
            self.lvs[name] = dict(first=self._alloc(count), count=count, attr='-wi-a-----',
                                  pool='', origin='', virtual=None)

    def _lvextend(self, args):
        name = args[-1].split('/', 1)[1]
        lv = self.lvs[name]
        size = self._size(self._opt(args, '-L'))
        if lv['virtual']:
            lv['virtual'] = size
            return
        count = size // self.EXTENT
        if any(pe in self._used(skip=name) for pe in range(lv['first'], lv['first'] + count)):
            self._fail('  Insufficient suitable contiguous allocatable extents for logical '
                       'volume %s: %d more required' % (name, count - lv['count']))
        lv['count'] = count

    def _lvremove(self, args):
        name = args[-1].split('/', 1)[1]
        if name not in self.lvs:
            self._fail('  Failed to find logical volume "%s"' % args[-1])
        origin = self.lvs.pop(name)['origin']
        if origin in self.lvs and not any(lv['origin'] == origin for lv in self.lvs.values()):
            self.lvs[origin]['attr'] = '-' + self.lvs[origin]['attr'][1:]

    def _lvrename(self, args):
        self.lvs[args[2]] = self.lvs.pop(args[1])

    def _lvchange(self, args):
        pass

    def _tgtadm(self, args):  # no tgtd runs on this fake host
        self._fail('tgtadm: failed to send request hdr to tgt daemon, Transport endpoint '
                   'is not connected', code=107)

    def _pvcreate(self, args):
        pass

    def _vgcreate(self, args):
        self.vg_exists = True

    # losetup
    def _losetup(self, args):
        if '--json' in args:
            wanted = args[-1] if args[-1].startswith('/dev/') else None
            return json.dumps({'loopdevices': [
                {'name': n, 'back-file': f, 'back-ino': 1, 'back-maj:min': '8:1',
                 'offset': o, 'sizelimit': s}
                for n, (f, o, s) in sorted(self.loops.items()) if wanted in (None, n)]})
        if '--show' in args:
            name = '/dev/loop%d' % (10 + len(self.calls))
            self.loops[name] = (args[-1], int(self._opt(args, '-o', 0)),
                                int(self._opt(args, '--sizelimit', 0)))
            return name + '\n'
        if '-d' in args:
            self.loops.pop(args[-1], None)


@pytest.fixture
def fake():
    return FakeHost()


@pytest.fixture
def identity(monkeypatch):
    """Loop devices of FakeHost all report inode 1 on 8:1."""
    monkeypatch.setattr(lvm_datapath, 'file_identity', lambda path: ('8:1', 1))


@pytest.fixture
def moved_bytes(monkeypatch):
    """Record the data path's byte moves instead of opening devices."""
    moves = []
    monkeypatch.setattr(lvm_datapath, 'copy_range',
                        lambda src, dst, length, regions=None, discard_zeroes=False:
                        moves.append(('copy', src, dst, length)))
    monkeypatch.setattr(lvm_datapath, 'zero_range',
                        lambda path, offset, length, discard_zeroes=False:
                        moves.append(('zero', path, offset, length)))
    monkeypatch.setattr(lvm_datapath, 'discard_range',
                        lambda path, offset, length: moves.append(('discard', path, offset,
                                                                   length)))
    monkeypatch.setattr(lvm_datapath, 'is_regular_file', lambda path: False)
    return moves


def backend_conf(**overrides):
    conf = cfg.ConfigOpts()
    conf.register_opts(bs_conf.backend_opts, group='lvm1')
    values = dict(volume_driver='lvm', volume_backend_name='lvm1', volume_group='vg1',
                  lvm_activation=False, volumes_dir='/nonexistent/targets')
    values.update(overrides)
    for key, value in values.items():
        conf.set_override(key, value, group='lvm1')
    conf([], project='blockstore-test', default_config_files=[])
    return conf['lvm1']


def make_driver(fake, dm=False, monkeypatch=None, **overrides):
    if monkeypatch is not None:
        monkeypatch.setattr(lvm, 'kernel_has_device_mapper', lambda: dm)
    overrides.setdefault('lvm_activation', dm)
    return lvm.LVMDriver(backend_conf(**overrides), 'node@lvm1', execute=fake)


def volume(vid, size=1):
    return types.SimpleNamespace(id=vid, name='volume-%s' % vid, size=size,
                                 provider_auth=None, provider_location=None)


def snapshot(sid, vol):
    return types.SimpleNamespace(id=sid, name='snapshot-%s' % sid, volume_id=vol.id,
                                 volume_size=vol.size, volume=vol)


def test_declares_every_interface_it_implements():
    assert base.declared_interfaces(lvm.LVMDriver) == [
        'VolumeDriver', 'SnapshotOps', 'CloneOps', 'ExportOps', 'ManageOps', 'RevertOps',
        'ManageableListOps', 'MigrateOps', 'ImageOps', 'BackupSourceOps', 'BackupExportOps']
    # Every volume has a target of its own: hosts need no lock around connects.
    assert lvm.LVMDriver.shared_targets is False


def test_thick_create_is_contiguous_without_device_mapper(fake, monkeypatch):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    assert drv.create_volume(volume('a', 2)) is None
    assert fake.programs('lvcreate') == [
        ['lvcreate', '--config', 'global{activation=0}', '-y', '-an', '-Zn', '--alloc',
         'contiguous', '-L', '2g', '-n', 'volume-a', 'vg1']]
    drv.create_volume(volume('a', 2))  # re-run keeps it
    assert len(fake.programs('lvcreate')) == 1
    with pytest.raises(exception.VolumeBackendAPIException, match='exists with'):
        drv.create_volume(volume('a', 3))


def test_thick_create_with_device_mapper(fake, monkeypatch):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch)
    drv.create_volume(volume('a', 1))
    assert fake.programs('lvcreate') == [['lvcreate', '-y', '-L', '1g', '-n', 'volume-a',
                                          'vg1']]


def test_thin_setup_creates_the_pool_and_thin_volumes(fake, monkeypatch, tmp_path):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch, lvm_type='thin',
                      volumes_dir=str(tmp_path))
    drv.do_setup(None)
    drv.do_setup(None)
    drv.create_volume(volume('t', 5))
    assert fake.programs('lvcreate') == [
        ['lvcreate', '-y', '--type', 'thin-pool', '-l', '95%FREE', '--zero', 'y', '-n',
         'vg1-pool', 'vg1'],
        ['lvcreate', '-y', '--type', 'thin', '-V', '5g', '--thinpool', 'vg1/vg1-pool',
         '-n', 'volume-t']]
    pool = drv.get_volume_stats(refresh=True)['pools'][0]
    assert pool['thin_provisioning_support'] is True
    assert pool['thick_provisioning_support'] is False
    assert pool['total_capacity_gb'] == 8.0 and pool['free_capacity_gb'] == 6.0
    assert pool['provisioned_capacity_gb'] == 5.0


def test_thin_needs_device_mapper(fake, monkeypatch):
    drv = make_driver(fake, dm=False, monkeypatch=monkeypatch, lvm_type='thin')
    with pytest.raises(exception.VolumeBackendAPIException, match='dm-thin-pool'):
        drv.do_setup(None)
    assert fake.calls == []


def test_setup_with_a_pv_loop_file(fake, monkeypatch, tmp_path, identity):
    fake.vg_exists = False
    fake.loops = {}
    drv = make_driver(fake, monkeypatch=monkeypatch, lvm_pv_loop_file=str(tmp_path / 'pv.img'),
                      lvm_pv_loop_size_gb=3, lvm_conf_dir=str(tmp_path),
                      volumes_dir=str(tmp_path / 't'))
    drv.do_setup(None)
    assert os.path.getsize(tmp_path / 'pv.img') == 3 * GiB
    loop = drv.pv_device
    assert ['losetup', '--show', '-f', str(tmp_path / 'pv.img')] in fake.argvs
    dev = ['--devices', loop, '--config', 'global{activation=0}']
    assert ['pvcreate'] + dev + ['-y', loop] in fake.argvs
    assert ['vgcreate'] + dev + ['-y', 'vg1', loop] in fake.argvs
    assert os.path.isdir(tmp_path / 't')
    n = len(fake.calls)
    drv.do_setup(None)  # re-run: the attached loop is found, nothing created
    assert not [a for a, _ in fake.calls[n:] if a[0] in ('pvcreate', 'vgcreate')
                or '--show' in a]


def test_check_for_setup_error(fake, monkeypatch):
    with pytest.raises(exception.VolumeBackendAPIException, match='CONFIG_BLK_DEV_DM'):
        make_driver(fake, dm=False, monkeypatch=monkeypatch,
                    lvm_activation=True).check_for_setup_error()
    fake.vg_exists = False
    with pytest.raises(exception.VolumeBackendAPIException, match='does not exist'):
        make_driver(fake, monkeypatch=monkeypatch).check_for_setup_error()


def test_extent_range_through_a_loop_over_the_pv_file(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    drv.create_volume(volume('a', 1))
    drv.create_volume(volume('b', 1))
    assert drv._extent_range('volume-b') == ('/srv/pv.img', MiB + 256 * 4 * MiB, GiB)
    # One pvs + vgs for the layout, then cached.
    n = len(fake.programs('pvs'))
    drv._extent_range('volume-a')
    assert len(fake.programs('pvs')) == n


def test_clone_copies_under_a_temporary_name(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    drv.create_volume(volume('src', 1))
    drv.create_cloned_volume(volume('dst', 2), volume('src', 1))
    assert fake.programs('lvcreate')[-1] == [
        'lvcreate', '--config', 'global{activation=0}', '-y', '-an', '-Zn', '--alloc',
        'contiguous', '-L', '2g', '-n', 'volume-dst.tmp', 'vg1']
    assert fake.programs('lvrename')[-1][-3:] == ['vg1', 'volume-dst.tmp', 'volume-dst']
    ((kind, src, dst, length),) = moved_bytes
    assert kind == 'copy' and length == GiB and src != dst
    assert fake.loops.keys() == {'/dev/loop0'}  # data path loops detached
    assert sorted(fake.lvs) == ['volume-dst', 'volume-src']
    drv.create_cloned_volume(volume('dst', 2), volume('src', 1))  # re-run: kept
    assert len(moved_bytes) == 1
    with pytest.raises(exception.InvalidVolume):
        drv.create_cloned_volume(volume('small', 1), volume('dst', 2))


def test_failed_clone_leaves_no_lv(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    drv.create_volume(volume('src', 1))

    def broken(*args, **kwargs):
        raise exception.VolumeBackendAPIException(data='I/O error')

    monkeypatch.setattr(lvm_datapath, 'copy_range', broken)
    with pytest.raises(exception.VolumeBackendAPIException, match='I/O error'):
        drv.create_cloned_volume(volume('dst', 1), volume('src', 1))
    assert sorted(fake.lvs) == ['volume-src']


def test_thin_clone_is_a_thin_snapshot(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch, lvm_type='thin')
    fake.lvs['vg1-pool'] = dict(first=0, count=10, attr='twi-a-tz--', pool='', origin='',
                                virtual=None)
    drv.create_volume(volume('src', 1))
    drv.create_cloned_volume(volume('dst', 2), volume('src', 1))
    assert fake.argvs[-3:] == [
        ['lvcreate', '-y', '--snapshot', '-n', 'volume-dst', 'vg1/volume-src'],
        ['lvchange', '-ay', '-K', '-y', 'vg1/volume-dst'],
        ['lvextend', '-L', '2g', 'vg1/volume-dst']]
    assert moved_bytes == []


def test_snapshots_need_device_mapper(fake, monkeypatch):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    vol = volume('a')
    drv.create_volume(vol)
    snap = snapshot('s', vol)
    with pytest.raises(exception.VolumeBackendAPIException, match='device-mapper'):
        drv.create_snapshot(snap)
    with pytest.raises(exception.VolumeBackendAPIException, match='device-mapper'):
        drv.create_volume_from_snapshot(volume('b'), snap)
    with pytest.raises(exception.VolumeBackendAPIException, match='device-mapper'):
        drv.revert_to_snapshot(None, vol, snap)
    with pytest.raises(exception.VolumeBackendAPIException, match='backups of snapshots need'):
        drv.open_backup_source(vol, 'b1', snapshot=snap)
    drv.delete_snapshot(snap)  # nothing there: fine
    assert len(fake.programs('lvcreate')) == 1


def test_thick_snapshot_from_and_revert_with_device_mapper(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch, volume_clear='none')
    vol = volume('a', 2)
    drv.create_volume(vol)
    snap = snapshot('s', vol)
    drv.create_snapshot(snap)
    drv.create_snapshot(snap)  # re-run
    assert fake.programs('lvcreate')[1:] == [
        ['lvcreate', '-y', '--snapshot', '-n', '_snapshot-s', '-L', '2g', 'vg1/volume-a']]
    with pytest.raises(exception.VolumeBackendAPIException, match='has snapshots'):
        drv.delete_volume(vol)

    drv.create_volume_from_snapshot(volume('b', 3), snap)
    assert moved_bytes[-1] == ('copy', '/dev/vg1/_snapshot-s', '/dev/vg1/volume-b.tmp',
                               2 * GiB)
    assert fake.programs('lvrename')[-1][-2:] == ['volume-b.tmp', 'volume-b']
    with pytest.raises(exception.InvalidVolume):
        drv.create_volume_from_snapshot(volume('c', 1), snap)

    drv.revert_to_snapshot(None, vol, snap)
    assert moved_bytes[-1] == ('copy', '/dev/vg1/_snapshot-s', '/dev/vg1/volume-a', 2 * GiB)
    with pytest.raises(exception.InvalidVolume):
        drv.revert_to_snapshot(None, volume('b', 3), snap)

    drv.delete_snapshot(snap)
    assert fake.programs('lvremove')[-1][-1] == 'vg1/_snapshot-s'
    drv.delete_volume(vol)
    assert 'volume-a' not in fake.lvs


def test_thin_snapshot_and_volume_from_it(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch, lvm_type='thin')
    fake.lvs['vg1-pool'] = dict(first=0, count=10, attr='twi-a-tz--', pool='', origin='',
                                virtual=None)
    vol = volume('a', 1)
    drv.create_volume(vol)
    snap = snapshot('s', vol)
    drv.create_snapshot(snap)
    drv.create_volume_from_snapshot(volume('b', 2), snap)
    assert fake.argvs[-4:] == [
        ['lvs'] + REPORT + ['-o', ','.join(lvm_vg.LV_FIELDS), 'vg1/_snapshot-s'],
        ['lvcreate', '-y', '--snapshot', '-n', 'volume-b', 'vg1/_snapshot-s'],
        ['lvchange', '-ay', '-K', '-y', 'vg1/volume-b'],
        ['lvextend', '-L', '2g', 'vg1/volume-b']]
    assert ['lvcreate', '-y', '--snapshot', '-n', '_snapshot-s', 'vg1/volume-a'] in fake.argvs
    with pytest.raises(exception.VolumeBackendAPIException, match='has snapshots'):
        drv.delete_volume(vol)
    drv.delete_snapshot(snap)
    drv.delete_volume(vol)
    # Thin: discarded, not zero-written (that would provision the whole LV).
    assert [m for m in moved_bytes if m[0] != 'copy'] == [
        ('discard', '/dev/vg1/volume-a', 0, GiB)]


def test_thin_setup_turns_pool_zeroing_on_when_volumes_are_cleared(fake, monkeypatch,
                                                                   tmp_path):
    fake.lvs['vg1-pool'] = dict(first=0, count=10, attr='twi-a-t---', pool='', origin='',
                                virtual=None)
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch, lvm_type='thin',
                      volumes_dir=str(tmp_path))
    drv.do_setup(None)
    assert fake.programs('lvchange') == [['lvchange', '--zero', 'y', 'vg1/vg1-pool']]
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch, lvm_type='thin',
                      volumes_dir=str(tmp_path), volume_clear='none')
    before = len(fake.programs('lvchange'))
    drv.do_setup(None)
    assert len(fake.programs('lvchange')) == before  # the operator's choice stands


def test_delete_wipes_then_removes_and_is_idempotent(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch, volume_clear_size=100)
    vol = volume('a', 1)
    drv.create_volume(vol)
    drv.delete_volume(vol)
    ((kind, path, offset, length),) = moved_bytes
    assert (kind, offset, length) == ('zero', 0, 100 * MiB) and path.startswith('/dev/loop')
    assert fake.programs('lvremove') == [['lvremove', '--config', 'global{activation=0}',
                                          '-f', 'vg1/volume-a']]
    drv.delete_volume(vol)
    assert len(fake.programs('lvremove')) == 1
    assert fake.loops.keys() == {'/dev/loop0'}


def test_extend_in_place_moves_when_blocked_and_refuses_to_shrink(fake, monkeypatch,
                                                                  moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch, volume_clear='none')
    a, b = volume('a', 1), volume('b', 1)
    drv.create_volume(a)
    drv.create_volume(b)
    drv.extend_volume(b, 2)  # room after b: in place
    assert fake.programs('lvextend')[-1][-4:] == ['contiguous', '-L', '2g', 'vg1/volume-b']
    assert moved_bytes == []
    drv.extend_volume(a, 3)  # b follows a: a moves
    assert [(m[0], m[3]) for m in moved_bytes] == [('copy', GiB)]
    assert fake.programs('lvcreate')[-1][-6:] == ['contiguous', '-L', '3g', '-n',
                                                  'volume-a.new', 'vg1']
    assert fake.programs('lvrename')[-2:] == [
        ['lvrename', '--config', 'global{activation=0}', 'vg1', 'volume-a', 'volume-a.old'],
        ['lvrename', '--config', 'global{activation=0}', 'vg1', 'volume-a.new', 'volume-a']]
    assert sorted(fake.lvs) == ['volume-a', 'volume-b']
    assert fake.lvs['volume-a']['count'] * FakeHost.EXTENT == 3 * GiB
    with pytest.raises(exception.InvalidVolume):
        drv.extend_volume(a, 1)
    drv.extend_volume(a, 3)  # same size: nothing
    with pytest.raises(exception.VolumeBackendAPIException, match='not found'):
        drv.extend_volume(volume('nope'), 2)


class RecordingTarget:
    """Stands in for the target helper: which volumes are exported, what it was told."""

    def __init__(self, exported):
        self.exported = set(exported)
        self.extended = []

    def is_exported(self, volume):
        return volume.name in self.exported

    def extend_export(self, volume, path):
        self.extended.append((volume.name, path))


def test_extend_while_exported_without_device_mapper_grows_in_place_only(
        fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    a, b = volume('a', 1), volume('b', 1)
    drv.create_volume(a)
    drv.create_volume(b)
    drv.target = RecordingTarget({'volume-a', 'volume-b'})
    monkeypatch.setattr(lvm_datapath, 'file_identity', lambda path: ('8:1', 1))
    fake.loops['/dev/loop8'] = ('/srv/pv.img',) + drv._extent_range('volume-a')[1:]
    fake.loops['/dev/loop9'] = ('/srv/pv.img',) + drv._extent_range('volume-b')[1:]
    # b follows a: a would have to move, which an exported volume cannot.
    with pytest.raises(exception.VolumeBackendAPIException, match='exported'):
        drv.extend_volume(a, 2)
    assert fake.lvs['volume-a']['count'] * FakeHost.EXTENT == GiB
    assert drv.target.extended == [] and moved_bytes == []
    # Room after b: it grows in place, the export moves to a loop over the longer range.
    drv.extend_volume(b, 2)
    _, offset, size = drv._extent_range('volume-b')
    assert size == 2 * GiB
    (name, path), = drv.target.extended
    assert name == 'volume-b' and fake.loops[path] == ('/srv/pv.img', offset, 2 * GiB)
    assert '/dev/loop9' not in fake.loops and '/dev/loop8' in fake.loops
    assert moved_bytes == []


def test_restore_target_of_an_exported_volume_is_the_exports_loop_and_stays(
        fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    a, b = volume('a', 1), volume('b', 1)
    drv.create_volume(a)
    drv.create_volume(b)
    drv.target = RecordingTarget({'volume-a'})
    monkeypatch.setattr(lvm_datapath, 'file_identity', lambda path: ('8:1', 1))
    fake.loops['/dev/loop8'] = ('/srv/pv.img',) + drv._extent_range('volume-a')[1:]
    assert drv.open_restore_target(a)['path'] == '/dev/loop8'
    drv.close_restore_target(a)
    assert '/dev/loop8' in fake.loops
    # Not exported: the restore's own loop device goes when it closes.
    path = drv.open_restore_target(b)['path']
    assert fake.loops[path] == ('/srv/pv.img',) + drv._extent_range('volume-b')[1:]
    drv.close_restore_target(b)
    assert path not in fake.loops and '/dev/loop8' in fake.loops


def test_backup_source_loop_is_detached_on_close_even_by_a_restarted_service(
        fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    a, b = volume('a', 1), volume('b', 1)
    drv.create_volume(a)
    drv.create_volume(b)
    drv.target = RecordingTarget({'volume-a'})
    monkeypatch.setattr(lvm_datapath, 'file_identity', lambda path: ('8:1', 1))
    fake.loops['/dev/loop8'] = ('/srv/pv.img',) + drv._extent_range('volume-a')[1:]
    assert drv.open_backup_source(a, 'b1')['path'] == '/dev/loop8'
    drv.close_backup_source(a, 'b1', True)
    assert '/dev/loop8' in fake.loops       # the export's
    path = drv.open_backup_source(b, 'b2')['path']
    assert fake.loops[path] == ('/srv/pv.img',) + drv._extent_range('volume-b')[1:]
    restarted = make_driver(fake, monkeypatch=monkeypatch)
    restarted.target = RecordingTarget({'volume-a'})
    restarted.close_backup_source(b, 'b2', False)
    assert path not in fake.loops and '/dev/loop8' in fake.loops


def test_backup_source_is_flushed_before_the_pv_files_holes_are_read(
        fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    drv.create_volume(volume('a', 1))
    monkeypatch.setattr(lvm_datapath, 'file_identity', lambda path: ('8:1', 1))
    fake.loops['/dev/loop8'] = ('/srv/pv.img',) + drv._extent_range('volume-a')[1:]
    calls = []
    monkeypatch.setattr(lvm_datapath, 'is_regular_file', lambda path: True)
    monkeypatch.setattr(lvm_datapath, 'flush_device',
                        lambda path: calls.append(('flush', path)))
    monkeypatch.setattr(lvm_datapath, 'file_data_regions', lambda path, offset, size: (
        calls.append(('regions', path)) or [(0, MiB)]))
    source = drv.open_backup_source(volume('a', 1), 'b1')
    assert source['path'] == '/dev/loop8' and source['data_regions'] == [(0, MiB)]
    assert calls == [('flush', '/dev/loop8'), ('regions', '/srv/pv.img')]


def test_data_operations_flush_the_exports_loop_device_first(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    drv.create_volume(volume('a', 1))
    monkeypatch.setattr(lvm_datapath, 'file_identity', lambda path: ('8:1', 1))
    fake.loops['/dev/loop8'] = ('/srv/pv.img',) + drv._extent_range('volume-a')[1:]
    flushed = []
    monkeypatch.setattr(lvm_datapath, 'flush_device', flushed.append)
    with drv._device('volume-a') as device:
        assert device.path != '/dev/loop8' and flushed == ['/dev/loop8']
    assert '/dev/loop8' in fake.loops and device.path not in fake.loops


def test_extend_while_exported_with_device_mapper_tells_the_target(fake, monkeypatch):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch)
    drv.create_volume(volume('a', 1))
    drv.target = RecordingTarget({'volume-a'})
    drv.extend_volume(volume('a', 1), 2)
    assert fake.programs('lvextend') == [['lvextend', '-L', '2g', 'vg1/volume-a']]
    assert drv.target.extended == [('volume-a', '/dev/vg1/volume-a')]
    assert drv.get_volume_stats(refresh=True)['pools'][0]['online_extend_support'] is True
    assert make_driver(fake, monkeypatch=monkeypatch).get_volume_stats(
        refresh=True)['pools'][0]['online_extend_support'] is False


def test_extend_with_device_mapper_is_plain(fake, monkeypatch):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch)
    drv.create_volume(volume('a', 1))
    drv.extend_volume(volume('a', 1), 2)
    assert fake.programs('lvextend') == [['lvextend', '-L', '2g', 'vg1/volume-a']]


def test_settle_finishes_a_move_and_drops_half_clones(fake, monkeypatch, moved_bytes,
                                                      tmp_path):
    drv = make_driver(fake, monkeypatch=monkeypatch, volumes_dir=str(tmp_path))
    for name, count in (('volume-a.new', 512), ('volume-a.old', 256), ('volume-c.tmp', 256)):
        fake.lvs[name] = dict(first=fake._alloc(count), count=count, attr='-wi-------',
                              pool='', origin='', virtual=None)
    drv.do_setup(None)
    assert sorted(fake.lvs) == ['volume-a']
    assert fake.lvs['volume-a']['count'] == 512


def test_stats_thick(fake, monkeypatch):
    drv = make_driver(fake, monkeypatch=monkeypatch, reserved_percentage=5,
                      max_over_subscription_ratio=3.0)
    drv.create_volume(volume('a', 2))
    fake.lvs['other'] = dict(first=fake._alloc(256), count=256, attr='-wi-------', pool='',
                             origin='', virtual=None)
    stats = drv.get_volume_stats(refresh=True)
    assert stats['storage_protocol'] == 'iSCSI' and stats['volume_backend_name'] == 'lvm1'
    (pool,) = stats['pools']
    assert pool['total_capacity_gb'] == 16.0 and pool['free_capacity_gb'] == 13.0
    assert pool['provisioned_capacity_gb'] == 3.0 and pool['allocated_capacity_gb'] == 2.0
    assert pool['reserved_percentage'] == 5 and pool['max_over_subscription_ratio'] == 3.0
    assert pool['multiattach'] is True and pool['thick_provisioning_support'] is True
    assert pool['location_info'] == 'LVMDriver:node@lvm1:vg1:default:0'
    assert drv.get_volume_stats() is stats


def test_manageable_and_manage(fake, monkeypatch, moved_bytes):
    drv = make_driver(fake, monkeypatch=monkeypatch)
    drv.create_volume(volume('known', 1))
    fake.lvs['legacy'] = dict(first=fake._alloc(100), count=100, attr='-wi-------', pool='',
                              origin='', virtual=None)
    fake.lvs['busy'] = dict(first=fake._alloc(10), count=10, attr='-wi-ao----', pool='',
                            origin='', virtual=None)
    fake.lvs['volume-x.tmp'] = dict(first=fake._alloc(1), count=1, attr='-wi-------',
                                    pool='', origin='', virtual=None)
    entries = drv.get_manageable_volumes(['known'])
    assert [(e['reference']['source-name'], e['size'], e['safe_to_manage'],
             e['reason_not_safe'], e['cinder_id']) for e in entries] == [
        ('busy', 1, False, 'it is open (in use)', None),
        ('legacy', 1, True, None, None),
        ('volume-known', 1, False, 'Already managed', 'known')]
    assert drv.get_manageable_snapshots([]) == []

    assert drv.manage_existing_get_size(None, {'source-name': 'legacy'}) == 1
    vol = volume('new', 1)
    drv.manage_existing(vol, {'source-name': 'legacy'})
    assert 'volume-new' in fake.lvs and fake.lvs['volume-new']['count'] == 256  # 400M -> 1G
    drv.manage_existing(vol, {'source-name': 'legacy'})  # re-run
    for ref in ({'source-name': 'busy'}, {'source-name': 'volume-x.tmp'}, {}, None,
                {'source-name': 'bad name'}):
        with pytest.raises(exception.InvalidVolume):
            drv.manage_existing_get_size(None, ref)


def lvm_host(location_info):
    return {'host': 'other@x#x', 'capabilities': {'location_info': location_info}}


def test_migrate_declines_what_the_manager_must_copy(fake, monkeypatch, tmp_path):
    """(False, None), nothing run: the manager's generic migration takes over."""
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch, volumes_dir=str(tmp_path))
    vol = volume('a', 1)
    drv.create_volume(vol)
    before = len(fake.argvs)
    for host in (None, {}, lvm_host('FileDriver:node:vg2:default:0'),
                 lvm_host('LVMDriver:othernode@lvm2:vg2:default:0'),  # another node
                 lvm_host('LVMDriver:node@lvm2:bad/vg:default:0')):
        assert drv.migrate_volume(None, vol, host) == (False, None)
    assert len(fake.argvs) == before
    nodm = make_driver(fake, dm=False, monkeypatch=monkeypatch, volumes_dir=str(tmp_path))
    assert nodm.migrate_volume(None, vol, lvm_host('LVMDriver:node@lvm2:vg2:default:0')) \
        == (False, None)
    drv.target = RecordingTarget({'volume-a'})  # attached: not a driver-assisted move
    assert drv.migrate_volume(None, vol, lvm_host('LVMDriver:node@lvm2:vg2:default:0')) \
        == (False, None)
    # Same VG and type (another backend name over it): the data is already there.
    assert drv.migrate_volume(None, vol, lvm_host('LVMDriver:node@lvm9:vg1:default:0')) \
        == (True, None)


def test_retype_in_place_only_on_this_vg(fake, monkeypatch):
    drv = make_driver(fake, dm=True, monkeypatch=monkeypatch)
    vol, new_type = volume('a', 1), {'name': 't2'}
    for location, in_place in (('LVMDriver:node@lvm1:vg1:default:0', True),
                               ('LVMDriver:node@lvm2:vg2:thin:0', False),
                               ('LVMDriver:node@lvm1:vg1:thin:0', False)):
        assert drv.retype(None, vol, new_type, {}, lvm_host(location)) == (in_place, None)
