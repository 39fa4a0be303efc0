"""LVM command wrappers without root or tools: argv construction and parsing.

``lvm_vg.LVM`` and ``lvm_datapath.LoopDevices`` are fed outputs recorded on
a real host and every argv list they build is asserted exactly; the byte
movers run on regular files. Driver flows are in test_lvm_driver.py.
"""

import json
import os

import pytest

from blockstore.common import exception
from blockstore.common import processutils
from blockstore.volume.drivers import lvm_datapath
from blockstore.volume.drivers import lvm_vg

GiB = 1024 ** 3
MiB = 1024 ** 2
NO_ACT = ['--config', 'global{activation=0}']
REPORT = ['--noheadings', '--units', 'b', '--nosuffix', '--separator', '|']

# -- outputs recorded on the development host (lvm2 2.03.16, util-linux 2.38);
# the thin rows (no device-mapper there) follow the same columns with values
# as LVM prints them for thin pools, thin volumes and thin snapshots.

VGS_OUT = ('  bsx-vg|1069547520|868220928|4194304|255|207|3|'
           'zZBQF1-1Aak-qM5x-woEj-3pqs-YpEB-eWqLYU\n')
LVS_OUT = ('  volume-a|67108864|-wc-XX----|||\n'
           '  volume-b|67108864|-wc-XX----|||\n'
           '  pool|536870912|twi-a-tz--|||12.50\n'
           '  volume-t|1073741824|Vwi-a-tz--|pool||3.00\n'
           '  _snapshot-s|1073741824|Vwi---tz-k|pool|volume-t|\n')
PVS_OUT = ('  /dev/loop0|bsx-vg|1069547520|868220928|1048576\n'
           '  /dev/loop7||1073741824|1073741824|0\n')
SEG_OUT = '  volume-b|0|/dev/loop0:16-31\n'
NO_LV = ('  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n'
         '  Failed to find logical volume "bsx-vg/nope"')
NO_VG = '  Volume group "nope-vg" not found\n  Cannot process volume group nope-vg'
LOSETUP_JSON = json.dumps({'loopdevices': [
    {'name': '/dev/loop0', 'back-file': '/tmp/bsx/pv.img', 'back-ino': 2154913,
     'back-maj:min': '     254:0  ', 'offset': 0, 'sizelimit': 0},
    {'name': '/dev/loop3', 'back-file': '/tmp/old.img (deleted)', 'back-ino': 77,
     'back-maj:min': '254:0', 'offset': '4096', 'sizelimit': '8192'}]}, indent=3)


class Recorder:
    """An execute() stand-in returning scripted results in order."""

    def __init__(self, *results):
        self.results = list(results)
        self.calls = []

    def __call__(self, *argv, **kwargs):
        self.calls.append((list(argv), kwargs))
        result = self.results.pop(0) if self.results else ''
        if isinstance(result, Exception):
            raise result
        return processutils.Result(result, '', 0)

    @property
    def argvs(self):
        return [argv for argv, _ in self.calls]


def failure(stderr, code=5, cmd='x'):
    return exception.ProcessExecutionError(cmd=cmd, exit_code=code, stderr=stderr)


def make_vg(*results, activation=False, devices=('/dev/loop0',), conf_dir='/etc/bs-lvm'):
    rec = Recorder(*results)
    return lvm_vg.LVM('bsx-vg', execute=rec, conf_dir=conf_dir, devices=devices,
                      activation=activation, timeout=42), rec


# -- lvm_vg.LVM: argv and parsing --------------------------------------------------


def test_common_options_env_and_timeout():
    vg, rec = make_vg(VGS_OUT)
    vg.get_vg()
    (argv, kwargs), = rec.calls
    assert argv == (['vgs', '--devices', '/dev/loop0'] + NO_ACT + REPORT +
                    ['-o', ','.join(lvm_vg.VG_FIELDS), 'bsx-vg'])
    assert kwargs['env'] == {'LVM_SUPPRESS_FD_WARNINGS': '1', 'LVM_SYSTEM_DIR': '/etc/bs-lvm'}
    assert kwargs['timeout'] == 42


def test_no_extra_options_with_activation_and_system_devices():
    vg, rec = make_vg(activation=True, devices=(), conf_dir=None)
    vg.create_lv('volume-1', 2)
    (argv, kwargs), = rec.calls
    assert argv == ['lvcreate', '-y', '-L', '2g', '-n', 'volume-1', 'bsx-vg']
    assert kwargs['env'] == {'LVM_SUPPRESS_FD_WARNINGS': '1'}


def test_several_devices_are_one_comma_list():
    vg, rec = make_vg(activation=True, devices=('/dev/loop0', '/dev/loop1'))
    vg.activate_lv('volume-1')
    assert rec.argvs == [['lvchange', '--devices', '/dev/loop0,/dev/loop1', '-ay', '-K', '-y',
                          'bsx-vg/volume-1']]


def test_get_vg_parses_bytes():
    vg, _ = make_vg(VGS_OUT)
    assert vg.get_vg() == {
        'vg_name': 'bsx-vg', 'vg_size': 1069547520, 'vg_free': 868220928,
        'vg_extent_size': 4194304, 'vg_extent_count': 255, 'vg_free_count': 207,
        'lv_count': 3, 'vg_uuid': 'zZBQF1-1Aak-qM5x-woEj-3pqs-YpEB-eWqLYU'}


def test_get_vg_missing_is_none_and_other_errors_raise():
    vg, rec = make_vg(failure(NO_VG), failure('  Device lock failed'))
    assert vg.get_vg() is None
    assert rec.calls[0][1]['log_errors'] is False
    with pytest.raises(exception.ProcessExecutionError):
        vg.get_vg()


def test_list_lvs_parses_every_kind():
    vg, rec = make_vg(LVS_OUT)
    lvs = vg.list_lvs()
    assert rec.argvs[0][-3:] == ['-o', ','.join(lvm_vg.LV_FIELDS), 'bsx-vg']
    assert [lv['lv_name'] for lv in lvs] == ['volume-a', 'volume-b', 'pool', 'volume-t',
                                            '_snapshot-s']
    assert lvs[0] == {'lv_name': 'volume-a', 'lv_size': 67108864, 'lv_attr': '-wc-XX----',
                      'pool_lv': '', 'origin': '', 'data_percent': ''}
    assert lvs[2]['data_percent'] == '12.50'
    assert lvs[4]['pool_lv'] == 'pool' and lvs[4]['origin'] == 'volume-t'


def test_get_lv_found_and_missing():
    vg, rec = make_vg('  volume-b|67108864|-wc-XX----|||\n', failure(NO_LV))
    assert vg.get_lv('volume-b')['lv_size'] == 67108864
    assert rec.argvs[0][-1] == 'bsx-vg/volume-b'
    assert vg.get_lv('nope') is None


def test_report_with_a_wrong_field_count_is_an_error():
    vg, _ = make_vg('  volume-a|1\n')
    with pytest.raises(exception.VolumeBackendAPIException, match='unexpected LVM report'):
        vg.list_lvs()


def test_pe_ranges_single_multi_segment_and_striped():
    vg, rec = make_vg(SEG_OUT, '  v|25|/dev/loop0:50-74\n  v|0|/dev/loop0:0-24\n',
                      '  v|0|/dev/sda:0-9 /dev/sdb:0-9\n', failure(NO_LV))
    assert vg.pe_ranges('volume-b') == [lvm_vg.PERange('/dev/loop0', 16, 31)]
    assert rec.argvs[0][-3:] == ['-o', 'lv_name,seg_start_pe,seg_pe_ranges', 'bsx-vg/volume-b']
    assert vg.pe_ranges('v') == [lvm_vg.PERange('/dev/loop0', 0, 24),
                                 lvm_vg.PERange('/dev/loop0', 50, 74)]
    assert vg.pe_ranges('v') == [lvm_vg.PERange('/dev/sda', 0, 9),
                                 lvm_vg.PERange('/dev/sdb', 0, 9)]
    with pytest.raises(exception.VolumeBackendAPIException, match='not found'):
        vg.pe_ranges('nope')


def test_parse_pe_ranges_refuses_garbage():
    with pytest.raises(exception.VolumeBackendAPIException):
        lvm_vg.parse_pe_ranges('/dev/loop0:a-b')
    with pytest.raises(exception.VolumeBackendAPIException):
        lvm_vg.parse_pe_ranges('/dev/loop0')


def test_list_pvs_of_this_vg_or_all():
    vg, rec = make_vg(PVS_OUT)
    assert [(p['pv_name'], p['pe_start']) for p in vg.list_pvs()] == [('/dev/loop0', 1048576)]
    assert rec.argvs[0] == (['pvs', '--devices', '/dev/loop0'] + NO_ACT + REPORT +
                            ['-o', ','.join(lvm_vg.PV_FIELDS)])
    vg2, _ = make_vg(PVS_OUT)
    rows = vg2.list_pvs(all_pvs=True)
    assert [(p['pv_name'], p['vg_name'], p['pe_start']) for p in rows] == [
        ('/dev/loop0', 'bsx-vg', 1048576), ('/dev/loop7', '', 0)]


D = ['--devices', '/dev/loop0'] + NO_ACT


@pytest.mark.parametrize('call, argv', [
    (lambda vg: vg.create_pv('/dev/loop0'), ['pvcreate'] + D + ['-y', '/dev/loop0']),
    (lambda vg: vg.create_vg(['/dev/loop0']), ['vgcreate'] + D + ['-y', 'bsx-vg', '/dev/loop0']),
    (lambda vg: vg.remove_vg(), ['vgremove'] + D + ['-f', 'bsx-vg']),
    (lambda vg: vg.remove_pv('/dev/loop0'), ['pvremove'] + D + ['-y', '/dev/loop0']),
    (lambda vg: vg.create_lv('volume-1', 1),
     ['lvcreate'] + D + ['-y', '-an', '-Zn', '-L', '1g', '-n', 'volume-1', 'bsx-vg']),
    (lambda vg: vg.create_lv('volume-1', 3, contiguous=True),
     ['lvcreate'] + D + ['-y', '-an', '-Zn', '--alloc', 'contiguous', '-L', '3g', '-n',
                         'volume-1', 'bsx-vg']),
    (lambda vg: vg.create_thin_pool('bsx-vg-pool'),
     ['lvcreate'] + D + ['-y', '--type', 'thin-pool', '-l', '95%FREE', '--zero', 'y', '-n',
                         'bsx-vg-pool', 'bsx-vg']),
    (lambda vg: vg.zero_new_thin_blocks('bsx-vg-pool'),
     ['lvchange'] + D + ['--zero', 'y', 'bsx-vg/bsx-vg-pool']),
    (lambda vg: vg.create_thin_lv('volume-1', 5, 'bsx-vg-pool'),
     ['lvcreate'] + D + ['-y', '--type', 'thin', '-V', '5g', '--thinpool',
                         'bsx-vg/bsx-vg-pool', '-n', 'volume-1']),
    (lambda vg: vg.create_snapshot('_snapshot-1', 'volume-1'),
     ['lvcreate'] + D + ['-y', '--snapshot', '-n', '_snapshot-1', 'bsx-vg/volume-1']),
    (lambda vg: vg.create_snapshot('_snapshot-1', 'volume-1', size_gb=2),
     ['lvcreate'] + D + ['-y', '--snapshot', '-n', '_snapshot-1', '-L', '2g',
                         'bsx-vg/volume-1']),
    (lambda vg: vg.extend_lv('volume-1', 4),
     ['lvextend'] + D + ['-L', '4g', 'bsx-vg/volume-1']),
    (lambda vg: vg.extend_lv('volume-1', 4, contiguous=True),
     ['lvextend'] + D + ['--alloc', 'contiguous', '-L', '4g', 'bsx-vg/volume-1']),
    (lambda vg: vg.remove_lv('volume-1'), ['lvremove'] + D + ['-f', 'bsx-vg/volume-1']),
    (lambda vg: vg.rename_lv('volume-1.tmp', 'volume-1'),
     ['lvrename'] + D + ['bsx-vg', 'volume-1.tmp', 'volume-1']),
    (lambda vg: vg.activate_lv('_snapshot-1'),
     ['lvchange'] + D + ['-ay', '-K', '-y', 'bsx-vg/_snapshot-1']),
    (lambda vg: vg.deactivate_lv('volume-1'), ['lvchange'] + D + ['-an', 'bsx-vg/volume-1']),
])
def test_mutating_commands(call, argv):
    vg, rec = make_vg()
    call(vg)
    assert rec.argvs == [argv]


def test_remove_lv_missing_is_false_other_errors_raise():
    vg, rec = make_vg(failure(NO_LV), failure('  Logical volume in use'))
    assert vg.remove_lv('nope') is False
    assert rec.calls[0][1]['log_errors'] is False
    with pytest.raises(exception.ProcessExecutionError):
        vg.remove_lv('busy')


@pytest.mark.parametrize('name', ['', '-rf', 'a b', '.', '..', 'x/y', 'a\nb', 'x' * 128, None])
def test_unusable_names_never_reach_argv(name):
    vg, rec = make_vg()
    with pytest.raises(exception.InvalidInput):
        vg.create_lv(name, 1)
    with pytest.raises(exception.InvalidInput):
        vg.lv_ref(name)
    assert rec.calls == []
    with pytest.raises(exception.InvalidInput):
        lvm_vg.LVM(name if name else '-', execute=rec)


def test_lv_path():
    vg, _ = make_vg()
    assert vg.lv_path('volume-1') == '/dev/bsx-vg/volume-1'


# -- lvm_datapath.LoopDevices ----------------------------------------------------


def test_losetup_list_parses_json():
    rec = Recorder(LOSETUP_JSON, '', '{"loopdevices": []}')
    loops = lvm_datapath.LoopDevices(rec, timeout=7)
    infos = loops.list()
    assert rec.calls[0] == (['losetup', '--json', '--list', '-O',
                             'NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN,OFFSET,SIZELIMIT'],
                            {'timeout': 7})
    assert infos == [
        lvm_datapath.LoopInfo('/dev/loop0', '/tmp/bsx/pv.img', '254:0', 2154913, 0, 0),
        lvm_datapath.LoopInfo('/dev/loop3', '/tmp/old.img', '254:0', 77, 4096, 8192)]
    assert loops.list() == [] and loops.list() == []


def test_losetup_list_of_one_device_and_garbage():
    rec = Recorder(LOSETUP_JSON, 'not json')
    loops = lvm_datapath.LoopDevices(rec)
    loops.list('/dev/loop0')
    assert rec.argvs[0][-1] == '/dev/loop0'
    with pytest.raises(exception.VolumeBackendAPIException, match='losetup'):
        loops.list()


def test_losetup_attach_argv():
    rec = Recorder('/dev/loop5\n', '/dev/loop6\n', 'garbage\n')
    loops = lvm_datapath.LoopDevices(rec)
    assert loops.attach('/srv/pv.img', 5 * MiB, GiB) == '/dev/loop5'
    assert loops.attach('/srv/pv.img') == '/dev/loop6'
    assert rec.argvs == [
        ['losetup', '--show', '-f', '-o', str(5 * MiB), '--sizelimit', str(GiB), '/srv/pv.img'],
        ['losetup', '--show', '-f', '/srv/pv.img']]
    with pytest.raises(exception.VolumeBackendAPIException, match='unexpected device'):
        loops.attach('/srv/pv.img')


def test_losetup_detach_is_idempotent_and_checks_the_name():
    gone = failure('losetup: /dev/loop5: detach failed: No such device or address', code=1)
    rec = Recorder('', gone, failure('losetup: permission denied', code=1))
    loops = lvm_datapath.LoopDevices(rec)
    loops.detach('/dev/loop5')
    loops.detach('/dev/loop5')
    assert rec.argvs[0] == ['losetup', '-d', '/dev/loop5']
    with pytest.raises(exception.ProcessExecutionError):
        loops.detach('/dev/loop5')
    with pytest.raises(exception.InvalidInput):
        loops.detach('/dev/sda')


def test_losetup_find_matches_the_file_identity_not_its_name(tmp_path):
    img = tmp_path / 'pv.img'
    img.write_bytes(b'')
    dev, ino = lvm_datapath.file_identity(str(img))
    listing = json.dumps({'loopdevices': [
        {'name': '/dev/loop1', 'back-file': str(img), 'back-ino': ino,
         'back-maj:min': dev, 'offset': 0, 'sizelimit': 0},
        {'name': '/dev/loop2', 'back-file': str(img), 'back-ino': ino,
         'back-maj:min': dev, 'offset': MiB, 'sizelimit': GiB},
        # same path, but an older (deleted) file:
        {'name': '/dev/loop3', 'back-file': str(img) + ' (deleted)', 'back-ino': ino + 1,
         'back-maj:min': dev, 'offset': MiB, 'sizelimit': GiB}]})
    loops = lvm_datapath.LoopDevices(Recorder(listing, listing, listing))
    assert loops.find(str(img)) == ['/dev/loop1']
    assert loops.find(str(img), MiB, GiB) == ['/dev/loop2']
    assert loops.find(str(tmp_path / 'other.img')) == []


def test_losetup_backing_of():
    loops = lvm_datapath.LoopDevices(Recorder(LOSETUP_JSON))
    assert loops.backing_of('/dev/loop0') == ('/tmp/bsx/pv.img', 0)
    assert loops.backing_of('/dev/sdb') == ('/dev/sdb', 0)


# -- lvm_datapath byte movers on regular files -------------------------------------


def test_copy_range_copies_data_and_zeroes_the_rest(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    data = os.urandom(MiB)
    with open(src, 'wb') as f:
        f.truncate(12 * MiB)
        f.seek(5 * MiB)
        f.write(data)
    dst.write_bytes(b'\xff' * 12 * MiB)
    lvm_datapath.copy_range(str(src), str(dst), 10 * MiB)
    out = dst.read_bytes()
    assert out[5 * MiB:6 * MiB] == data
    assert out[:5 * MiB] == bytes(5 * MiB) and out[6 * MiB:10 * MiB] == bytes(4 * MiB)
    assert out[10 * MiB:] == b'\xff' * 2 * MiB  # beyond length: untouched


def test_copy_range_with_a_data_map_skips_holes_unread(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    with open(src, 'wb') as f:
        f.truncate(8 * MiB)
        f.seek(3 * MiB + 17)
        f.write(b'payload')
    regions = lvm_datapath.file_data_regions(str(src), 0, 8 * MiB)
    assert regions and all(start <= 3 * MiB + 17 < start + size for start, size in regions)
    dst.write_bytes(b'\xee' * 8 * MiB)
    lvm_datapath.copy_range(str(src), str(dst), 8 * MiB, data_regions=regions)
    out = dst.read_bytes()
    assert out[3 * MiB + 17:3 * MiB + 24] == b'payload'
    assert out.count(0) == 8 * MiB - len(b'payload')


def test_file_data_regions_relative_to_the_range(tmp_path):
    path = tmp_path / 'sparse'
    with open(path, 'wb') as f:
        f.truncate(64 * MiB)
        f.seek(40 * MiB)
        f.write(b'x' * 4096)
    assert lvm_datapath.file_data_regions(str(path), 0, 32 * MiB) == []
    ((start, size),) = lvm_datapath.file_data_regions(str(path), 32 * MiB, 32 * MiB)
    assert start <= 8 * MiB < start + size <= 32 * MiB


def test_zero_range_and_short_reads(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'\x01' * 3 * MiB)
    lvm_datapath.zero_range(str(path), MiB, MiB)
    out = path.read_bytes()
    assert out[:MiB] == b'\x01' * MiB and out[MiB:2 * MiB] == bytes(MiB)
    with pytest.raises(exception.VolumeBackendAPIException, match='short read'):
        lvm_datapath.copy_range(str(path), str(tmp_path / 'f'), 4 * MiB)
    with pytest.raises(exception.VolumeBackendAPIException, match='zeroing'):
        lvm_datapath.zero_range(str(tmp_path / 'missing'), 0, 1)
