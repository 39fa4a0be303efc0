"""What a backup of an LVM volume reads, and what a restore writes.

A backup reads a volume through a *source*: a device path plus what is
known of the bytes behind it, so the chunked backup skips what it need not
read (``blockstore.backup.chunked``):

* **thin**: a thin snapshot ``_backup-<backup id>`` of the volume, taken when
  the backup starts (the volume may be in use: the snapshot is the point in
  time the backup holds). Only what the pool maps is read
  (``data_regions``), and when the snapshot of the parent backup is still
  there, only what changed since (``changed_regions``, from ``thin_delta``).
  A successful backup keeps its snapshot as the base of the next incremental
  and removes the previous one, so each volume holds at most one base; a
  failed backup removes its own. Volume delete removes the base.
* **thick** with device-mapper: the active LV, every byte read (all-zero
  blocks are still skipped by the pipeline).
* **thick** without device-mapper (a PV in a file on a loop device): a loop
  device over the LV's extents (the export's when there is one: it stays;
  flushed first, as tgtd writes through its page cache); the PV file's holes
  are the LV's unallocated ranges (``data_regions``), so a mostly empty
  volume reads fast. An attached volume (force) or a snapshot needs a
  snapshot, hence device-mapper: refused with that reason.

A restore writes through a *target* whose zeroing discards where discarded
blocks read as zeros (thin LVs, loops over files): restored holes stay holes.
"""

import contextlib

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.volume.drivers import lvm_datapath

LOG = logging.getLogger(__name__)

BASE_PREFIX = '_backup-'


def base_lv_name(backup_id):
    """The thin snapshot a backup reads and keeps as the base of the next incremental."""
    return BASE_PREFIX + backup_id


def is_backup_base(name):
    return name.startswith(BASE_PREFIX)


class LVMBackups:
    """Backup sources and restore targets of one LVM backend.

    ``vg``: the backend's ``lvm_vg.LVM``; ``thin``: whether volumes are thin;
    ``device(name)``: the driver's context manager giving a Device of an LV;
    ``device_mapper``: whether LVs can be activated; ``thin_metadata``: the
    pool's ``lvm_thin.ThinMetadata`` (thin only); ``loops``: the driver's
    ``LoopDevices``; ``extent_range(name)``: where an LV's bytes are on a
    file-backed PV.
    """

    def __init__(self, vg, thin, device_mapper, thin_metadata, loops, extent_range):
        self.vg = vg
        self.thin = thin
        self.device_mapper = device_mapper
        self.thin_metadata = thin_metadata
        self.loops = loops
        self.extent_range = extent_range
        self._loops = {}   # backup id -> the loop device its source attached

    # -- backup sources ------------------------------------------------------------

    def open_source(self, lv_name, backup_id, parent_backup_id=None, snapshot_lv=None):
        """``{'path', 'data_regions', 'changed_regions'}`` of what backup ``backup_id`` reads.

        ``lv_name``: the volume's LV; ``snapshot_lv``: read this snapshot LV
        instead (a backup of a snapshot, or the temporary snapshot of a thick
        in-use volume). Hold it until :meth:`close_source`.
        """
        if self.thin:
            return self._open_thin(lv_name, backup_id, parent_backup_id, snapshot_lv)
        name = snapshot_lv or lv_name
        if self.device_mapper:
            self.vg.activate_lv(name)
            return {'path': self.vg.lv_path(name), 'data_regions': None,
                    'changed_regions': None}
        back_file, offset, size = self.extent_range(name)
        found = self.loops.find(back_file, offset, size)
        if found:   # an export's: it stays
            path = sorted(found)[0]
        else:
            path = self._loops[backup_id] = self.loops.attach(back_file, offset, size)
        regions = None
        if lvm_datapath.is_regular_file(back_file):
            # What an export's writer (tgtd) wrote may still be in the loop device's page
            # cache, not yet in the PV file whose holes say what to read: flush it first.
            lvm_datapath.flush_device(path)
            regions = lvm_datapath.file_data_regions(back_file, offset, size)
        return {'path': path, 'data_regions': regions, 'changed_regions': None}

    def _open_thin(self, lv_name, backup_id, parent_backup_id, snapshot_lv):
        if snapshot_lv:
            # A snapshot does not change: read it, keep nothing.
            self.vg.activate_lv(snapshot_lv)
            return {'path': self.vg.lv_path(snapshot_lv),
                    'data_regions': self.thin_metadata.mapped_regions(snapshot_lv),
                    'changed_regions': None}
        base = base_lv_name(backup_id)
        if not self.vg.lv_exists(base):
            self.vg.create_snapshot(base, lv_name)
        self.vg.activate_lv(base)
        source = {'path': self.vg.lv_path(base), 'data_regions': None,
                  'changed_regions': None}
        parent = base_lv_name(parent_backup_id) if parent_backup_id else None
        if parent and self._base_of(parent) == lv_name:
            source['changed_regions'] = self.thin_metadata.changed_regions(parent, base)
            LOG.info('Backup %s of %s reads %d bytes changed since backup %s', backup_id,
                     lv_name, sum(n for _o, n in source['changed_regions']),
                     parent_backup_id)
        else:
            source['data_regions'] = self.thin_metadata.mapped_regions(base)
        return source

    def close_source(self, lv_name, backup_id, succeeded, snapshot_lv=None):
        """Release what :meth:`open_source` held; thin: keep or drop the new base."""
        if not self.thin:
            path = self._loops.pop(backup_id, None)
            if path:
                with contextlib.suppress(exception.VolumeBackendAPIException):
                    self.loops.detach(path)
            return
        if snapshot_lv:
            return
        base = base_lv_name(backup_id)
        if not succeeded:
            self.vg.remove_lv(base)
            return
        for name in self.bases_of(lv_name):
            if name != base:
                LOG.info('Removing %s: backup %s of %s is the base of the next incremental',
                         name, backup_id, lv_name)
                self.vg.remove_lv(name)

    def _base_of(self, base):
        lv = self.vg.get_lv(base)
        return lv['origin'] if lv else None

    def bases_of(self, lv_name):
        """Names of the backup bases of LV ``lv_name``."""
        return sorted(lv['lv_name'] for lv in self.vg.list_lvs()
                      if is_backup_base(lv['lv_name']) and lv['origin'] == lv_name)

    def remove_bases(self, lv_name):
        """Volume delete: the bases go first (a thin snapshot outlives its origin)."""
        for name in self.bases_of(lv_name):
            self.vg.remove_lv(name)

    # -- restore targets -------------------------------------------------------------

    def restore_discards(self, device):
        """Whether zeroing ``device`` (a Device of the driver) by discarding reads back zeros."""
        if self.thin:
            return True
        return bool(device.back_file) and lvm_datapath.is_regular_file(device.back_file)

