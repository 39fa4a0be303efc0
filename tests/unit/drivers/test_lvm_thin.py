"""Thin-pool mappings read by lvm_thin, against the real thin-provisioning-tools.

No device-mapper is needed: ``thin_restore`` writes pool metadata into a
file and ``thin_dump``/``thin_delta`` read that file exactly as they read a
pool's metadata device, so the parsers see the tools' real output. The
driver-side sequence (metadata snapshot reserved, read, released) runs with
a recording executor; the kernel tier runs it on a real pool.
"""

import shutil
import subprocess

import pytest

from blockstore.common import exception
from blockstore.common import processutils
from blockstore.volume.drivers import lvm_thin

BLOCK = 128 * 512   # data_block_size 128 sectors: 64 KiB

METADATA = """\
<superblock uuid="" time="1" transaction="2" flags="0" version="2" data_block_size="128"
            nr_data_blocks="1024">
  <device dev_id="1" mapped_blocks="4" transaction="0" creation_time="0" snap_time="1">
    <range_mapping origin_begin="0" data_begin="0" length="3" time="0"/>
    <single_mapping origin_block="10" data_block="3" time="0"/>
  </device>
  <device dev_id="2" mapped_blocks="5" transaction="1" creation_time="1" snap_time="1">
    <range_mapping origin_begin="0" data_begin="0" length="2" time="0"/>
    <single_mapping origin_block="2" data_block="20" time="1"/>
    <single_mapping origin_block="3" data_block="22" time="1"/>
    <range_mapping origin_begin="30" data_begin="23" length="2" time="1"/>
  </device>
</superblock>
"""

needs_tools = pytest.mark.skipif(
    not all(shutil.which(t) for t in ('thin_restore', 'thin_dump', 'thin_delta')),
    reason='thin-provisioning-tools is not installed (tools/setup-test-env.sh installs it)')


@pytest.fixture
def metadata_file(tmp_path):
    xml = tmp_path / 'metadata.xml'
    xml.write_text(METADATA)
    md = tmp_path / 'metadata.bin'
    with open(md, 'wb') as f:
        f.truncate(8 * 1024 * 1024)
    subprocess.run(['thin_restore', '-i', str(xml), '-o', str(md)], check=True,
                   capture_output=True, timeout=30)
    return str(md)


def _tool(*argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30).stdout


@needs_tools
def test_mapped_regions_of_one_device_from_thin_dump(metadata_file):
    regions = lvm_thin.parse_dump_mappings(_tool('thin_dump', '--dev-id', '2', metadata_file))
    # blocks 0-1 (range), 2 and 3 (singles, merged with it), 30-31
    assert regions == [(0, 4 * BLOCK), (30 * BLOCK, 2 * BLOCK)]


@needs_tools
def test_changed_regions_from_thin_delta(metadata_file):
    regions = lvm_thin.parse_delta(
        _tool('thin_delta', '--thin1', '1', '--thin2', '2', metadata_file))
    # 0-1 same; 2 remapped; 3 only in the new device; 10 only in the old one (now a
    # hole the backup must record); 30-31 only in the new one.
    assert regions == [(2 * BLOCK, 2 * BLOCK), (10 * BLOCK, BLOCK), (30 * BLOCK, 2 * BLOCK)]


@needs_tools
def test_a_device_compared_with_itself_has_no_changes(metadata_file):
    assert lvm_thin.parse_delta(
        _tool('thin_delta', '--thin1', '2', '--thin2', '2', metadata_file)) == []


def test_merge_regions_sorts_and_joins_touching_and_overlapping():
    assert lvm_thin.merge_regions([(10, 5), (0, 4), (4, 2), (12, 10), (30, 0)]) == [
        (0, 6), (10, 12)]


def test_dm_names_double_dashes():
    assert lvm_thin.dm_name('vg-a', 'my-pool_tmeta') == 'vg--a-my--pool_tmeta'


class RecordingExecute:
    """Answers lvs/dmsetup/thin_* as a pool would, recording every argv."""

    def __init__(self, reserve_fails_first=False):
        self.calls = []
        self.reserve_fails_first = reserve_fails_first

    def __call__(self, *argv, **kwargs):
        self.calls.append(argv)
        if argv[0] == 'lvs':
            ref = argv[-1]
            return processutils.Result({'vg/vol': '  7\n', 'vg/snap': '  8\n'}.get(ref, '  \n'),
                                       '', 0)
        if argv[:2] == ('dmsetup', 'message') and argv[-1] == 'reserve_metadata_snap':
            if self.reserve_fails_first:
                self.reserve_fails_first = False
                raise exception.ProcessExecutionError(
                    cmd=' '.join(argv), exit_code=1,
                    stderr='device-mapper: message ioctl failed: Invalid argument')
        if argv[0] == 'thin_delta':
            return processutils.Result(
                '<superblock data_block_size="128"><diff left="8" right="7">'
                '<different begin="1" length="1"/></diff></superblock>', '', 0)
        return processutils.Result('', '', 0)


def _metadata(execute):
    from blockstore.volume.drivers import lvm_vg
    vg = lvm_vg.LVM('vg', execute=execute)
    return lvm_thin.ThinMetadata(vg, 'pool', execute, timeout=10)


def test_changed_regions_reads_under_a_metadata_snapshot_and_releases_it():
    execute = RecordingExecute()
    assert _metadata(execute).changed_regions('snap', 'vol') == [(BLOCK, BLOCK)]
    steps = [c for c in execute.calls if c[0] != 'lvs']
    assert steps == [
        ('dmsetup', 'message', 'vg-pool-tpool', '0', 'reserve_metadata_snap'),
        ('thin_delta', '--metadata-snap', '--thin1', '8', '--thin2', '7',
         '/dev/mapper/vg-pool_tmeta'),
        ('dmsetup', 'message', 'vg-pool-tpool', '0', 'release_metadata_snap')]


def test_a_metadata_snapshot_left_by_a_crash_is_released_and_reserved_again():
    execute = RecordingExecute(reserve_fails_first=True)
    _metadata(execute).changed_regions('snap', 'vol')
    messages = [c[-1] for c in execute.calls if c[:2] == ('dmsetup', 'message')]
    assert messages == ['reserve_metadata_snap', 'release_metadata_snap',
                        'reserve_metadata_snap', 'release_metadata_snap']


def test_a_thick_volume_has_no_thin_id():
    with pytest.raises(exception.VolumeBackendAPIException, match='not a thin volume'):
        _metadata(RecordingExecute()).thin_id('thick')


def test_release_runs_when_the_reader_fails():
    execute = RecordingExecute()

    def failing(*argv, **kwargs):
        if argv[0] == 'thin_dump':
            raise exception.ProcessExecutionError(cmd='thin_dump', exit_code=1, stderr='bad')
        return execute(*argv, **kwargs)

    md = _metadata(failing)
    with pytest.raises(exception.ProcessExecutionError):
        md.mapped_regions('vol')
    assert execute.calls[-1][-1] == 'release_metadata_snap'


