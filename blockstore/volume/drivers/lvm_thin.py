"""Which parts of a thin LV hold data, and which changed since a thin snapshot.

A backup of a thin volume should read only what the pool has mapped, and
an incremental backup only the blocks that differ from the snapshot the
previous backup read. The pool's metadata already knows both: this module
asks it, through a metadata snapshot (``dmsetup message ... reserve_metadata_snap``,
so the live metadata is never read while the kernel writes it) and the
thin-provisioning-tools readers ``thin_dump`` and ``thin_delta``.

Regions are ``(offset, length)`` pairs in bytes, sorted and merged, in the
form ``blockstore.backup.chunked`` takes as ``data_regions``. Only one
metadata snapshot can exist per pool, so callers go through one
:class:`ThinMetadata` per pool, whose lock serialises them.
"""

import contextlib
import re
import threading
import xml.etree.ElementTree as ElementTree

from oslo_log import log as logging

from blockstore.common import exception

LOG = logging.getLogger(__name__)

SECTOR = 512


def dm_name(vg_name, lv_name):
    """The device-mapper name of ``vg_name/lv_name`` (LVM doubles each '-')."""
    return '%s-%s' % (vg_name.replace('-', '--'), lv_name.replace('-', '--'))


def merge_regions(regions):
    """Sort ``(offset, length)`` pairs and merge those that touch or overlap."""
    merged = []
    for offset, length in sorted(r for r in regions if r[1] > 0):
        if merged and offset <= merged[-1][0] + merged[-1][1]:
            last_offset, last_length = merged[-1]
            merged[-1] = (last_offset, max(last_length, offset + length - last_offset))
        else:
            merged.append((offset, length))
    return merged


def _block_size(root):
    """Bytes per data block of the pool, from a superblock element."""
    return int(root.get('data_block_size')) * SECTOR


def parse_dump_mappings(xml_text):
    """Regions (bytes) of the thin device mapped in ``thin_dump --dev-id`` XML."""
    root = ElementTree.fromstring(xml_text)
    block = _block_size(root)
    regions = []
    for device in root.iter('device'):
        for mapping in device:
            if mapping.tag == 'range_mapping':
                regions.append((int(mapping.get('origin_begin')) * block,
                                int(mapping.get('length')) * block))
            elif mapping.tag == 'single_mapping':
                regions.append((int(mapping.get('origin_block')) * block, block))
    return merge_regions(regions)


# In thin_delta's output, 'same' ranges map the same data blocks in both
# devices; everything else differs: remapped ('different'), mapped only in
# the newer device ('right_only': new data) or only in the older one
# ('left_only': now unmapped, reads as zeros, a hole the backup must record).
_CHANGED = ('different', 'right_only', 'left_only')


def parse_delta(xml_text):
    """Regions (bytes) that differ between the two devices of ``thin_delta`` XML."""
    root = ElementTree.fromstring(xml_text)
    block = _block_size(root)
    regions = []
    for diff in root.iter('diff'):
        for entry in diff:
            if entry.tag in _CHANGED:
                regions.append((int(entry.get('begin')) * block,
                                int(entry.get('length')) * block))
    return merge_regions(regions)


class ThinMetadata:
    """Reads one thin pool's mappings through a metadata snapshot."""

    def __init__(self, vg, pool_name, execute, timeout):
        self.vg = vg
        self.pool_name = pool_name
        self._execute = execute
        self.timeout = timeout
        self._lock = threading.Lock()

    @property
    def _pool_device(self):
        return dm_name(self.vg.vg_name, self.pool_name) + '-tpool'

    @property
    def _metadata_device(self):
        return '/dev/mapper/' + dm_name(self.vg.vg_name, self.pool_name + '_tmeta')

    def thin_id(self, lv_name):
        """The pool's device id of thin LV ``lv_name``."""
        rows = self.vg._report('lvs', ('thin_id',), self.vg.lv_ref(lv_name))
        if not rows or not str(rows[0]['thin_id']).strip().isdigit():
            raise exception.VolumeBackendAPIException(
                data='%s is not a thin volume of pool %s'
                     % (self.vg.lv_ref(lv_name), self.pool_name))
        return int(rows[0]['thin_id'])

    def _message(self, text, check_exit_code=(0,)):
        return self._execute('dmsetup', 'message', self._pool_device, '0', text,
                             timeout=self.timeout, check_exit_code=check_exit_code)

    @contextlib.contextmanager
    def _metadata_snapshot(self):
        with self._lock:
            try:
                self._message('reserve_metadata_snap')
            except exception.ProcessExecutionError as e:
                # A snapshot left by a process that died holding it: drop it, retry once.
                if not re.search(r'exist|busy|Invalid argument', e.stderr or '', re.I):
                    raise
                LOG.warning('thin pool %s had a metadata snapshot already; releasing it',
                            self.vg.lv_ref(self.pool_name))
                self._message('release_metadata_snap', check_exit_code=(0, 1))
                self._message('reserve_metadata_snap')
            try:
                yield
            finally:
                self._message('release_metadata_snap')

    def _read(self, *argv):
        return self._execute(*argv, self._metadata_device, timeout=self.timeout).stdout

    def mapped_regions(self, lv_name):
        """Where thin LV ``lv_name`` holds data (bytes); the rest reads as zeros."""
        dev_id = self.thin_id(lv_name)
        with self._metadata_snapshot():
            xml_text = self._read('thin_dump', '--metadata-snap', '--dev-id', str(dev_id))
        return parse_dump_mappings(xml_text)

    def changed_regions(self, old_lv, new_lv):
        """Where ``new_lv`` differs from ``old_lv`` (an earlier snapshot of it), in bytes."""
        old_id, new_id = self.thin_id(old_lv), self.thin_id(new_lv)
        with self._metadata_snapshot():
            xml_text = self._read('thin_delta', '--metadata-snap',
                                  '--thin1', str(old_id), '--thin2', str(new_id))
        return parse_delta(xml_text)
