"""The reference driver: volumes are LVM logical volumes exported over iSCSI.

Layout of ``conf.volume_group``::

    volume-<id>            a volume (thick linear LV, or thin LV in <vg>-pool)
    _snapshot-<id>         a snapshot (LVM reserves names starting "snapshot")
    volume-<id>.tmp        a clone being filled; renamed into place when complete
    volume-<id>.new/.old   a volume being moved to a larger contiguous range
                           (extend without device-mapper, see below)

Two ways to reach an LV's bytes (the *data path*), chosen by
``lvm_activation``:

* True: LVs are active and ``/dev/VG/LV`` is the device (needs the kernel's
  device-mapper);
* False, for kernels without device-mapper: LVM runs with activation off and
  edits metadata only. Thick LVs are allocated contiguously, so an LV is one
  byte range of its PV; a loop device over that range (``losetup -o OFFSET
  --sizelimit SIZE``) is the device. Exports keep such a loop device
  attached; data operations attach one for their duration. Thin volumes and
  snapshots need device-mapper and raise a VolumeBackendAPIException naming
  the missing kernel feature. Extending an LV whose next extents are taken
  moves it to a free contiguous range (copy through the data path, then
  swap names).

Exports go through a target helper (``target_helper``; see
:mod:`blockstore.volume.targets`), given the device path of the data path.
Extending an exported volume keeps its target (``extend_export``).

``volume_clear``: thick LVs are zeroed before removal; thin LVs are
discarded and their pool made to zero the blocks it provisions, so nothing
of a deleted volume reaches the next one. ``migrate_volume`` copies a
detached volume into another VG of the same node (thick or thin).

``lvm_pv_loop_file`` (development): a sparse file on a loop device is the
VG's only PV, created on first setup, and every LVM command is restricted to
it with ``--devices``.
"""

import collections
import contextlib
import math
import os
import threading
import types

from oslo_log import log as logging

from blockstore.common import coordination
from blockstore.common import exception
from blockstore.common import processutils
from blockstore.volume.drivers import base
from blockstore.volume.drivers import image_data
from blockstore.volume.drivers import lvm_backup
from blockstore.volume.drivers import lvm_datapath
from blockstore.volume.drivers import lvm_thin
from blockstore.volume.drivers import lvm_vg
from blockstore.volume.targets import base as target_base

LOG = logging.getLogger(__name__)

GiB = 1024 ** 3
MiB = 1024 ** 2
TMP_SUFFIX = '.tmp'
NEW_SUFFIX = '.new'
OLD_SUFFIX = '.old'
_TEMP_SUFFIXES = (TMP_SUFFIX, NEW_SUFFIX, OLD_SUFFIX)

#: An LV's device for a data operation: ``path``; without device-mapper also
#: the PV's ``back_file`` and the LV's byte ``offset`` and ``size`` in it.
Device = collections.namedtuple('Device', ['path', 'back_file', 'offset', 'size'])


def kernel_has_device_mapper():
    """Whether the running kernel has device-mapper (``/proc/misc`` lists it)."""
    try:
        with open('/proc/misc') as f:
            if any(line.split()[-1:] == ['device-mapper'] for line in f):
                return True
    except OSError:
        pass
    return os.path.isdir('/sys/module/dm_mod')


def snapshot_lv_name(snapshot):
    """LV name of a snapshot: ``_snapshot-<id>`` (LVM reserves "snapshot*")."""
    return '_' + snapshot.name


class LVMDriver(base.VolumeDriver, base.SnapshotOps, base.CloneOps, base.ExportOps,
                base.ManageOps, base.RevertOps, base.ManageableListOps, base.MigrateOps,
                base.ImageOps, base.BackupSourceOps, base.BackupExportOps):
    """LVM volumes exported over iSCSI; see the module docstring."""

    VERSION = '1.0.0'
    shared_targets = False   # one iSCSI target per volume (tgt and LIO alike)
    # Single node: the VG's metadata would need lvmlockd (and the targets a node of
    # their own) for several nodes to share it. A clustered service refuses it.
    clusterable = False
    not_clusterable_reason = ('LVM is single-node here: several nodes sharing a volume '
                              'group need lvmlockd, and its targets live on one node')

    def __init__(self, conf, host, execute=None):
        """See :class:`VolumeDriver`; ``execute`` replaces the command runner (tests)."""
        super().__init__(conf, host)
        self._execute = execute or processutils.execute
        self.timeout = conf.storage_command_timeout
        self.thin = conf.lvm_type == 'thin'
        self.activation = conf.lvm_activation
        self.pool_name = '%s-pool' % conf.volume_group
        self.loops = lvm_datapath.LoopDevices(self._execute, self.timeout)
        self.target = target_base.get_target_helper(conf, host, self._execute)
        self.vg = self._make_vg(devices=())
        self.pv_device = None
        self._layouts = {}
        self._stats = base.CachedStats(self._compute_stats)
        # Finding or attaching an export's loop device and changing the target
        # happen together, so two attachments never attach two loop devices.
        self._export_lock = threading.Lock()
        self._dm = None
        self._backups = None

    def _make_vg(self, devices):
        conf = self.configuration
        return lvm_vg.LVM(conf.volume_group, execute=self._execute,
                          conf_dir=conf.lvm_conf_dir, devices=devices,
                          activation=self.activation, timeout=self.timeout)

    @property
    def backups(self):
        """Backup sources and restore targets of this backend (lvm_backup.LVMBackups)."""
        if self._backups is None or self._backups.vg is not self.vg:
            metadata = (lvm_thin.ThinMetadata(self.vg, self.pool_name, self._execute,
                                              self.timeout) if self.thin else None)
            self._backups = lvm_backup.LVMBackups(self.vg, self.thin, self.device_mapper,
                                                  metadata, self.loops, self._extent_range)
        return self._backups

    # -- capability checks ---------------------------------------------------

    @property
    def device_mapper(self):
        """Whether LVs can be activated here (lvm_activation and a DM kernel)."""
        if self._dm is None:
            self._dm = bool(self.activation and kernel_has_device_mapper())
        return self._dm

    def _require_device_mapper(self, what, targets):
        if not self.device_mapper:
            raise exception.VolumeBackendAPIException(
                data='%s need the kernel\'s device-mapper (%s); this backend runs with '
                     'lvm_activation=%s on a kernel %s device-mapper'
                     % (what, targets, self.activation,
                        'with' if kernel_has_device_mapper() else 'without'))

    # -- setup ---------------------------------------------------------------

    def do_setup(self, context):
        """Attach the development PV, create the VG/pool if missing, tidy up."""
        conf = self.configuration
        self._layouts = {}
        if self.thin:
            self._require_device_mapper('thin volumes (lvm_type=thin)', 'dm-thin-pool')
        if conf.lvm_conf_dir and not os.path.isdir(conf.lvm_conf_dir):
            raise exception.VolumeBackendAPIException(
                data='lvm_conf_dir %s does not exist' % conf.lvm_conf_dir)
        if conf.lvm_pv_loop_file:
            self.pv_device = self._attach_pv_loop(conf.lvm_pv_loop_file,
                                                  conf.lvm_pv_loop_size_gb)
            self.vg = self._make_vg(devices=(self.pv_device,))
            if self.vg.get_vg() is None:
                if not any(pv['pv_name'] == self.pv_device
                           for pv in self.vg.list_pvs(all_pvs=True)):
                    self.vg.create_pv(self.pv_device)
                self.vg.create_vg([self.pv_device])
        if self.vg.get_vg() is None:
            raise exception.VolumeBackendAPIException(
                data='volume group %s does not exist' % conf.volume_group)
        if self.thin:
            self._setup_thin_pool()
        self._finish_interrupted_work()
        self.target.do_setup()

    def _setup_thin_pool(self):
        """Create the pool if missing; with ``volume_clear`` make it zero new blocks.

        A pool that does not zero (``lvcreate -Zn``, or ``thin_pool_zero = 0``
        in lvm.conf) hands a deleted volume's blocks to the next volume as
        they are, and a partial write shows the rest of the old block.
        """
        pool = self.vg.get_lv(self.pool_name)
        if pool is None:
            self.vg.create_thin_pool(self.pool_name)
        elif (self.configuration.volume_clear != 'none'
              and not self.vg.pool_zeroes_new_blocks(pool)):
            LOG.warning('Thin pool %s does not zero the blocks it provisions, so deleted '
                        'volumes could show through in new ones; turning zeroing on '
                        '(volume_clear=%s)', self.vg.lv_ref(self.pool_name),
                        self.configuration.volume_clear)
            self.vg.zero_new_thin_blocks(self.pool_name)

    def _attach_pv_loop(self, path, size_gb):
        """The loop device over ``path`` (created sparse and attached if needed)."""
        try:
            if not os.path.exists(path):
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                with open(path, 'xb') as f:
                    f.truncate(size_gb * GiB)
        except FileExistsError:
            pass
        except OSError as e:
            raise exception.VolumeBackendAPIException(
                data='cannot create lvm_pv_loop_file %s: %s' % (path, e)) from e
        found = self.loops.find(path)
        if found:
            return sorted(found)[0]
        return self.loops.attach(path)

    def check_for_setup_error(self):
        """VG present, activation mode consistent with the kernel, target usable."""
        if self.activation and not kernel_has_device_mapper():
            raise exception.VolumeBackendAPIException(
                data='lvm_activation=True needs the kernel\'s device-mapper '
                     '(CONFIG_BLK_DEV_DM), which this kernel lacks; set '
                     'lvm_activation=False to use loop devices over LV extents')
        if self.vg.get_vg() is None:
            raise exception.VolumeBackendAPIException(
                data='volume group %s does not exist' % self.configuration.volume_group)
        if self.thin and not self.vg.lv_exists(self.pool_name):
            raise exception.VolumeBackendAPIException(
                data='thin pool %s/%s does not exist' % (self.vg.vg_name, self.pool_name))
        self.target.check_for_setup_error()

    def _finish_interrupted_work(self):
        """Settle temporary LVs a crash left behind (see module docstring)."""
        lvs = self._lvs()
        bases = {name[:-len(suffix)] for name in lvs for suffix in _TEMP_SUFFIXES
                 if name.endswith(suffix)}
        for name in sorted(bases):
            self._settle(name, self._lvs())

    def _lvs(self):
        """Every LV of the VG: {name: report row} (one ``lvs`` call)."""
        return {lv['lv_name']: lv for lv in self.vg.list_lvs()}

    def _settle(self, name, lvs):
        """Finish or undo an interrupted clone or relocation of LV ``name``.

        ``lvs`` is :meth:`_lvs`'s answer; returns the row of ``name`` or None.
        """
        new, old = name + NEW_SUFFIX, name + OLD_SUFFIX
        if name not in lvs and new in lvs and old in lvs:
            LOG.warning('Completing the interrupted move of %s', name)
            self.vg.rename_lv(new, name)
            lvs[name] = lvs.pop(new)
        if name not in lvs and old in lvs:
            self.vg.rename_lv(old, name)
            lvs[name] = lvs.pop(old)
        for suffix in _TEMP_SUFFIXES:
            if name + suffix in lvs:
                LOG.warning('Removing leftover LV %s', name + suffix)
                self._remove_lv(name + suffix, lvs=lvs)
        return lvs.get(name)

    # -- data path -------------------------------------------------------------

    def _extent_range(self, name):
        """``(file, offset, size)``: where LV ``name``'s bytes are on its PV."""
        ranges = self.vg.pe_ranges(name)
        if len(ranges) != 1:
            raise exception.VolumeBackendAPIException(
                data='%s has %d extent ranges; without device-mapper only a contiguous '
                     'LV can be reached' % (name, len(ranges)))
        pe = ranges[0]
        back_file, first_pe_offset, extent = self._pv_layout(pe.pv)
        return back_file, first_pe_offset + pe.first * extent, (pe.last - pe.first + 1) * extent

    def _pv_layout(self, pv):
        """``(file, offset of extent 0, extent size)`` of PV ``pv``; cached, as a
        PV's data start and the VG's extent size never change."""
        layout = self._layouts.get(pv)
        if layout is None:
            pvs = {row['pv_name']: row for row in self.vg.list_pvs()}
            if pv not in pvs:
                raise exception.VolumeBackendAPIException(
                    data='PV %s is not in volume group %s' % (pv, self.vg.vg_name))
            extent = self.vg.get_vg()['vg_extent_size']
            back_file, base_offset = self.loops.backing_of(pv)
            layout = (back_file, base_offset + pvs[pv]['pe_start'], extent)
            self._layouts[pv] = layout
        return layout

    @contextlib.contextmanager
    def _device(self, name):
        """The :data:`Device` of LV ``name`` for the duration of the block."""
        if self.device_mapper:
            self.vg.activate_lv(name)
            yield Device(self.vg.lv_path(name), None, 0, None)
            return
        back_file, offset, size = self._extent_range(name)
        # An export's loop device over the LV may hold writes not yet in the PV file
        # (tgtd writes through its page cache): flush them, so this device reads them.
        for device in self.loops.find(back_file, offset, size):
            lvm_datapath.flush_device(device)
        path = self.loops.attach(back_file, offset, size)
        try:
            yield Device(path, back_file, offset, size)
        finally:
            self.loops.detach(path)

    @staticmethod
    def _file_backed(device):
        """Whether ``device`` is a loop over a regular file (holes read as zeros)."""
        return bool(device.back_file) and lvm_datapath.is_regular_file(device.back_file)

    def _detach_loops(self, name, known_to_exist=False):
        """Detach every loop device over LV ``name``'s extents (no-op with DM)."""
        if self.device_mapper or not (known_to_exist or self.vg.lv_exists(name)):
            return
        try:
            back_file, offset, size = self._extent_range(name)
        except exception.VolumeBackendAPIException as e:
            LOG.debug('No loop device can be over %s: %s', name, e)
            return
        for device in self.loops.find(back_file, offset, size):
            self.loops.detach(device)

    def _export_device(self, volume):
        """A device path that stays valid for an export of ``volume``."""
        name = volume.name
        if not self.vg.lv_exists(name):
            raise exception.VolumeBackendAPIException(
                data='logical volume %s not found' % self.vg.lv_ref(name))
        if self.device_mapper:
            self.vg.activate_lv(name)
            return self.vg.lv_path(name)
        back_file, offset, size = self._extent_range(name)
        found = self.loops.find(back_file, offset, size)
        return sorted(found)[0] if found else self.loops.attach(back_file, offset, size)

    def _copy(self, src_name, dst_name, length):
        """Copy ``length`` bytes of LV ``src_name`` onto LV ``dst_name``.

        On a file-backed PV the source's holes are skipped unread and zeroed
        on the destination by punching holes, so copies of mostly empty
        volumes are cheap and the PV file stays sparse.
        """
        with self._device(src_name) as src, self._device(dst_name) as dst:
            regions = None
            if self._file_backed(src):
                regions = lvm_datapath.file_data_regions(src.back_file, src.offset, length)
            lvm_datapath.copy_range(src.path, dst.path, length, regions,
                                    discard_zeroes=self._file_backed(dst))

    def _clear(self, name, size):
        """Wipe LV ``name`` as ``volume_clear`` says.

        Thin: the pool zeroes every block it provisions (:meth:`do_setup`
        makes sure), so a block of a deleted volume never shows through in
        the next one; the LV is discarded, returning its blocks (and, with
        discard passdown, the underlying storage's). Writing zeros instead
        would provision the LV's whole virtual size in the pool.
        """
        conf = self.configuration
        if conf.volume_clear == 'none':
            return
        if self.thin:
            with self._device(name) as device:
                lvm_datapath.discard_range(device.path, 0, size)
            return
        length = size if not conf.volume_clear_size else min(size,
                                                               conf.volume_clear_size * MiB)
        LOG.info('Zeroing %d MiB of %s', length // MiB, name)
        with self._device(name) as device:
            lvm_datapath.zero_range(device.path, 0, length,
                                    discard_zeroes=self._file_backed(device))

    # -- ImageOps ------------------------------------------------------------

    def copy_image_to_volume(self, context, volume, chunks, size):
        """Write the image through the LV's device (DM) or a loop over its extents.

        All-zero chunks are zeroed rather than written (holes punched on a
        file-backed PV) and so is the rest of the LV past the image, so the
        volume reads exactly the image and then zeros.
        """
        name = volume.name
        length = volume.size * GiB
        if size > length:
            raise exception.VolumeBackendAPIException(
                data='an image of %d bytes does not fit in %s (%d GiB)'
                % (size, name, volume.size))
        self._get_lv(name)
        with self._device(name) as device:
            discard = self._file_backed(device)
            try:
                fd = os.open(device.path, os.O_RDWR)
            except OSError as e:
                raise exception.VolumeBackendAPIException(
                    data='opening %s failed: %s' % (device.path, e)) from e
            try:
                def zero(offset, n):
                    lvm_datapath.zero_fd(fd, offset, n, discard_zeroes=discard)
                written = image_data.write_image(fd, chunks, size, length, zero=zero)
                lvm_datapath.zero_fd(fd, written, length - written, discard_zeroes=discard)
                os.fsync(fd)
            except OSError as e:
                raise exception.VolumeBackendAPIException(
                    data='writing the image to %s failed: %s' % (name, e)) from e
            finally:
                os.close(fd)

    def copy_volume_to_image(self, context, volume):
        self._get_lv(volume.name)
        return self._read_lv(volume.name, volume.size * GiB)

    def _read_lv(self, name, length):
        with self._device(name) as device:
            yield from image_data.read_volume(device.path, length)

    # -- LV helpers ------------------------------------------------------------

    def _get_lv(self, name):
        lv = self.vg.get_lv(name)
        if lv is None:
            raise exception.VolumeBackendAPIException(
                data='logical volume %s not found' % self.vg.lv_ref(name))
        return lv

    def _create_lv(self, name, size_gb):
        if self.thin:
            self.vg.create_thin_lv(name, size_gb, self.pool_name)
        else:
            self.vg.create_lv(name, size_gb, contiguous=not self.device_mapper)

    def _remove_lv(self, name, lvs=None):
        """Detach loops, wipe (volume_clear) and remove LV ``name`` if it exists.

        Half-filled temporary LVs are wiped too: they hold a copy of real data.
        """
        lvs = self._lvs() if lvs is None else lvs
        lv = lvs.get(name)
        if lv is None:
            return
        if lv['lv_attr'][:1] == 'o' or any(
                other['origin'] == name and other_name.startswith('_snapshot')
                for other_name, other in lvs.items()):
            raise exception.VolumeBackendAPIException(
                data='%s has snapshots; delete them first' % name)
        self._detach_loops(name, known_to_exist=True)
        if lv['lv_attr'][:1] in ('-', 'V'):  # thick or thin, not snapshots
            self._clear(name, lv['lv_size'])
        self.vg.remove_lv(name)
        lvs.pop(name, None)

    def _publish_copy(self, name, size_gb, source, length):
        """Create LV ``name`` of ``size_gb`` holding ``length`` bytes of ``source``.

        Filled under ``name.tmp`` and renamed, so ``name`` exists only once
        complete and a re-run after a crash starts over.
        """
        tmp = name + TMP_SUFFIX
        self._create_lv(tmp, size_gb)
        try:
            self._copy(source, tmp, length)
        except Exception:
            with contextlib.suppress(Exception):
                self._remove_lv(tmp)
            raise
        self.vg.rename_lv(tmp, name)

    # -- VolumeDriver ----------------------------------------------------------

    def create_volume(self, volume):
        """Create LV ``volume.name``; an existing LV of the right size is kept."""
        lv = self._settle(volume.name, self._lvs())
        if lv is not None:
            if lv['lv_size'] != volume.size * GiB:
                raise exception.VolumeBackendAPIException(
                    data='%s exists with %d bytes, expected %d GiB'
                    % (volume.name, lv['lv_size'], volume.size))
            LOG.info('%s already exists, keeping it', volume.name)
            return None
        self._create_lv(volume.name, volume.size)
        return None

    def delete_volume(self, volume):
        """Remove the export, wipe (volume_clear) and remove the LV; idempotent."""
        with self._export_lock:
            self.target.remove_export(None, volume)
        if self.thin:
            self.backups.remove_bases(volume.name)
        lvs = self._lvs()
        for name in (volume.name + TMP_SUFFIX, volume.name + NEW_SUFFIX,
                     volume.name + OLD_SUFFIX, volume.name):
            self._remove_lv(name, lvs=lvs)

    def extend_volume(self, volume, new_size):
        """Grow the LV; an exported volume's target follows (online extend).

        With device-mapper the LV grows in place and the target helper makes
        the live target report the new size (LIO reads it live; tgt re-adds
        the LUN), keeping the target and its sessions. Without device-mapper
        an unexported LV may move to a larger free range; an exported one
        can only grow in place (its next extents free): a new loop device
        over the longer range replaces the export's.
        """
        lv = self._settle(volume.name, self._lvs())
        if lv is None:
            raise exception.VolumeBackendAPIException(
                data='logical volume %s not found' % self.vg.lv_ref(volume.name))
        want = new_size * GiB
        if want < lv['lv_size']:
            raise exception.InvalidVolume(
                reason='cannot shrink %s from %d to %d GiB'
                % (volume.name, lv['lv_size'] // GiB, new_size))
        if want == lv['lv_size']:
            return
        with self._export_lock:
            if not self.target.is_exported(volume):
                self._grow(volume.name, lv['lv_size'], new_size)
                return
            old_range = None if self.device_mapper else self._extent_range(volume.name)
            self._grow(volume.name, lv['lv_size'], new_size, in_place=True)
            self.target.extend_export(volume, self._export_device(volume))
            if old_range is not None:
                for device in self.loops.find(*old_range):
                    self.loops.detach(device)

    def _grow(self, name, size, new_size, in_place=False):
        """Extend LV ``name`` (``size`` bytes now) to ``new_size`` GiB.

        Without device-mapper the LV must stay contiguous: it grows in place
        when the next extents are free, else it moves (:meth:`_relocate`),
        unless ``in_place`` (it is exported) or a loop device is over it.
        """
        if self.device_mapper or self.thin:
            self.vg.extend_lv(name, new_size)
            return
        if not in_place:
            back_file, offset, length = self._extent_range(name)
            in_place = bool(self.loops.find(back_file, offset, length))
        try:
            self.vg.extend_lv(name, new_size, contiguous=True, log_errors=False)
        except exception.ProcessExecutionError as e:
            if 'contiguous' not in (e.stderr or ''):
                raise
            if in_place:
                raise exception.VolumeBackendAPIException(
                    data='%s is exported and the extents after it are taken; without '
                         'device-mapper an exported volume grows only in place (detach it '
                         'to extend)' % name) from e
            self._relocate(name, size, new_size)

    def _relocate(self, name, size, new_size):
        """Move LV ``name`` to a new contiguous range of ``new_size`` GiB."""
        LOG.info('No room after %s: moving it to a free range of %d GiB', name, new_size)
        # Taking a new range and giving the old one back is a VG metadata change.
        with coordination.lock('lvm-%s-relocate' % self.configuration.volume_group):
            new, old = name + NEW_SUFFIX, name + OLD_SUFFIX
            self._create_lv(new, new_size)
            try:
                self._copy(name, new, size)
            except Exception:
                with contextlib.suppress(Exception):
                    self._remove_lv(new)
                raise
            self.vg.rename_lv(name, old)
            self.vg.rename_lv(new, name)
            self._remove_lv(old)

    def get_volume_stats(self, refresh=False):
        """Capacity of the VG (thick) or thin pool (thin), Cinder shaped."""
        return self._stats.get(refresh)

    def _compute_stats(self):
        conf = self.configuration
        vg = self.vg.get_vg()
        if vg is None:
            raise exception.VolumeBackendAPIException(
                data='volume group %s does not exist' % conf.volume_group)
        lvs = self.vg.list_lvs()
        volumes = [lv for lv in lvs if lv['lv_name'].startswith('volume-')
                   and not lv['lv_name'].endswith(_TEMP_SUFFIXES)]
        if self.thin:
            pool = next((lv for lv in lvs if lv['lv_name'] == self.pool_name), None)
            total = pool['lv_size'] if pool else 0
            used_pct = float(pool['data_percent'] or 0) if pool else 0.0
            free = total * (1 - used_pct / 100.0)
            provisioned = sum(lv['lv_size'] for lv in lvs if lv['pool_lv'] == self.pool_name)
        else:
            total, free = vg['vg_size'], vg['vg_free']
            provisioned = sum(lv['lv_size'] for lv in lvs)
        backend_name = conf.volume_backend_name or 'LVM_iSCSI'

        def gb(value):
            return round(value / GiB, 2)

        return {
            'volume_backend_name': backend_name,
            'vendor_name': 'Open Source',
            'driver_version': self.VERSION,
            'storage_protocol': 'iSCSI',
            'pools': [{
                'pool_name': backend_name,
                'total_capacity_gb': gb(total),
                'free_capacity_gb': gb(min(free, total)),
                'allocated_capacity_gb': gb(sum(lv['lv_size'] for lv in volumes)),
                'provisioned_capacity_gb': gb(provisioned),
                'reserved_percentage': conf.reserved_percentage,
                'max_over_subscription_ratio': conf.max_over_subscription_ratio,
                'thin_provisioning_support': self.thin,
                'thick_provisioning_support': not self.thin,
                'total_volumes': len(volumes),
                'location_info': 'LVMDriver:%s:%s:%s:0' % (self.host, self.vg.vg_name,
                                                          conf.lvm_type),
                'multiattach': True,
                'QoS_support': False,
                'online_extend_support': self.device_mapper,
                'backend_state': 'up',
            }],
        }

    # -- SnapshotOps -------------------------------------------------------------

    def create_snapshot(self, snapshot):
        """An LVM snapshot (thin, or thick COW as large as the volume)."""
        name = snapshot_lv_name(snapshot)
        if self.vg.lv_exists(name):
            return None
        self._require_device_mapper('snapshots', 'dm-snapshot, or dm-thin-pool when thin')
        source = snapshot.volume.name
        self._get_lv(source)
        self.vg.create_snapshot(name, source,
                                size_gb=None if self.thin else snapshot.volume_size)
        return None

    def delete_snapshot(self, snapshot):
        """Wipe (thick: volume_clear over the COW area) and remove; idempotent."""
        name = snapshot_lv_name(snapshot)
        lv = self.vg.get_lv(name)
        if lv is None:
            return
        if not self.thin and self.configuration.volume_clear != 'none' and self.device_mapper:
            cow = '/dev/mapper/%s-%s-cow' % (self.vg.vg_name.replace('-', '--'),
                                             name.replace('-', '--'))
            if os.path.exists(cow):
                size = os.stat(cow).st_size or lv['lv_size']
                lvm_datapath.zero_range(cow, 0, size)
        self.vg.remove_lv(name)

    def create_volume_from_snapshot(self, volume, snapshot):
        """A new volume holding the snapshot's bytes (thin: a thin snapshot)."""
        if volume.size < snapshot.volume_size:
            raise exception.InvalidVolume(
                reason='volume size %d GiB is smaller than the snapshot (%d GiB)'
                % (volume.size, snapshot.volume_size))
        if self._settle(volume.name, self._lvs()) is not None:
            return None
        self._require_device_mapper('volumes from snapshots', 'dm-snapshot or dm-thin-pool')
        snap = snapshot_lv_name(snapshot)
        self._get_lv(snap)
        if self.thin:
            self.vg.create_snapshot(volume.name, snap)
            self.vg.activate_lv(volume.name)
            if volume.size > snapshot.volume_size:
                self.vg.extend_lv(volume.name, volume.size)
            return None
        self._publish_copy(volume.name, volume.size, snap, snapshot.volume_size * GiB)
        return None

    # -- CloneOps ---------------------------------------------------------------

    def create_cloned_volume(self, volume, src_vref):
        """Copy the source's bytes into a new LV (thin: a thin snapshot of it).

        Thick copies read the source directly (no temporary snapshot), so the
        source should not be written meanwhile.
        """
        src = self._get_lv(src_vref.name)
        if volume.size * GiB < src['lv_size']:
            raise exception.InvalidVolume(
                reason='clone size %d GiB is smaller than the source (%d bytes)'
                % (volume.size, src['lv_size']))
        if self._settle(volume.name, self._lvs()) is not None:
            LOG.info('%s already exists, keeping it', volume.name)
            return None
        if self.thin:
            self.vg.create_snapshot(volume.name, src_vref.name)
            self.vg.activate_lv(volume.name)
            if volume.size * GiB > src['lv_size']:
                self.vg.extend_lv(volume.name, volume.size)
            return None
        self._publish_copy(volume.name, volume.size, src_vref.name, src['lv_size'])
        return None

    # -- RevertOps --------------------------------------------------------------

    def revert_to_snapshot(self, context, volume, snapshot):
        """Copy the snapshot's bytes over the volume; the snapshot is kept."""
        if snapshot.volume_id != volume.id:
            raise exception.InvalidVolume(
                reason='snapshot %s does not belong to volume %s' % (snapshot.id, volume.id))
        self._require_device_mapper('snapshots', 'dm-snapshot or dm-thin-pool')
        snap = snapshot_lv_name(snapshot)
        snap_lv = self._get_lv(snap)
        vol_lv = self._get_lv(volume.name)
        length = min(snapshot.volume_size * GiB, vol_lv['lv_size'])
        if not self.thin:
            length = min(length, snap_lv['lv_size'])
        self._copy(snap, volume.name, length)

    # -- BackupSourceOps (lvm_backup.py) -----------------------------------------

    @property
    def backup_source_is_snapshot(self):
        return self.thin   # a thin backup reads a snapshot taken when it starts

    def open_backup_source(self, volume, backup_id, parent_backup_id=None, snapshot=None):
        if snapshot is not None:
            self._require_device_mapper('backups of snapshots', 'dm-snapshot or dm-thin-pool')
        return self.backups.open_source(volume.name, backup_id, parent_backup_id,
                                        snapshot_lv=snapshot_lv_name(snapshot) if snapshot
                                        else None)

    def close_backup_source(self, volume, backup_id, succeeded, snapshot=None):
        self.backups.close_source(volume.name, backup_id, succeeded,
                                  snapshot_lv=snapshot_lv_name(snapshot) if snapshot else None)
        if snapshot is None and not self.thin and not self.device_mapper:
            # The backup's loop device, also when this service restarted since it was
            # opened (the memory of it lost); an export's stays.
            with self._export_lock:
                if not self.target.is_exported(volume):
                    self._detach_loops(volume.name)

    def open_restore_target(self, volume):
        """The export's device when there is one, else a new one (loop: until closed)."""
        with self._export_lock:
            path = self._export_device(volume)
        discard = self.thin or (not self.device_mapper and lvm_datapath.is_regular_file(
            self._extent_range(volume.name)[0]))
        return {'path': path, 'discard_zeroes': discard}

    def close_restore_target(self, volume):
        """Detach the restore's loop device; an exported volume's is the export's: kept
        (found from the target's record, so a restart in between changes nothing)."""
        with self._export_lock:
            if not self.target.is_exported(volume):
                self._detach_loops(volume.name)

    # -- BackupExportOps: the device a backup reads, to a backup service elsewhere -----

    @staticmethod
    def _backup_export_subject(volume, name):
        """What the target helper exports as export ``name``: a target of its own (IQN
        ``target_prefix`` + ``name``), so the volume's attachment exports stay as
        they are."""
        return types.SimpleNamespace(name=name, id=volume.id, provider_auth=None,
                                     encryption_key_id=None)

    def export_backup_device(self, context, volume, name, path, connector):
        subject = self._backup_export_subject(volume, name)
        with self._export_lock:
            return self.target.initialize_connection(subject, connector, path)

    def remove_backup_export(self, context, volume, name):
        with self._export_lock:
            self.target.remove_export(context, self._backup_export_subject(volume, name))

    # -- ExportOps --------------------------------------------------------------

    def create_export(self, context, volume, connector):
        """Export the volume's device through the target helper (CHAP, ACL).

        :returns: ``{'provider_location', 'provider_auth'}``.
        """
        with self._export_lock:
            return self.target.create_export(context, volume, self._export_device(volume),
                                             connector)

    def ensure_export(self, context, volume):
        """Restore the volume's target from its persistent record, if it has one."""
        if not self.target.is_exported(volume):
            return None
        with self._export_lock:
            return self.target.ensure_export(context, volume, self._export_device(volume))

    def remove_export(self, context, volume):
        """Delete the target and detach the export's loop device; idempotent."""
        with self._export_lock:
            self.target.remove_export(context, volume)
            self._detach_loops(volume.name)

    def initialize_connection(self, volume, connector):
        """Let the connector in (re-exporting if needed); Cinder iSCSI connection_info."""
        with self._export_lock:
            return self.target.initialize_connection(volume, connector,
                                                     self._export_device(volume))

    def terminate_connection(self, volume, connector, remaining_attachments=None, **kwargs):
        """Revoke the connector; the export stays while other attachments remain.

        :param remaining_attachments: the volume's other attachments that stay:
            a list of their connector dicts, or their count; None (or 0 / [])
            means none remain and the export is removed. See
            :meth:`blockstore.volume.targets.base.ISCSITarget.terminate_connection`.
        """
        with self._export_lock:
            if self.target.terminate_connection(volume, connector, remaining_attachments):
                self._detach_loops(volume.name)

    # -- ManageOps and ManageableListOps ------------------------------------------

    def _existing_lv(self, existing_ref):
        name = (existing_ref or {}).get('source-name')
        if not name:
            raise exception.InvalidVolume(
                reason='manage reference needs "source-name" (an LV name in %s)'
                % self.vg.vg_name)
        try:
            lvm_vg.check_name(name)
        except exception.InvalidInput as e:
            raise exception.InvalidVolume(reason=str(e)) from None
        lv = self.vg.get_lv(name)
        if lv is None:
            raise exception.InvalidVolume(
                reason='logical volume %s not found' % self.vg.lv_ref(name))
        reason = self._not_manageable_reason(lv)
        if reason:
            raise exception.InvalidVolume(reason='%s: %s' % (name, reason))
        return lv

    def _not_manageable_reason(self, lv):
        name, kind = lv['lv_name'], lv['lv_attr'][:1]
        if name == self.pool_name or kind == 't':
            return 'it is the thin pool'
        if kind in ('s', 'S') or name.startswith('_snapshot'):
            return 'it is a snapshot'
        if lvm_backup.is_backup_base(name):
            return 'it is the snapshot an incremental backup starts from'
        if name.endswith(_TEMP_SUFFIXES):
            return 'it is a temporary LV of an operation in progress'
        if kind not in ('-', 'o', 'V'):
            return 'unsupported LV type %r' % lv['lv_attr']
        if self.thin != (kind == 'V'):
            return 'it is %s but this backend is %s' % (
                'thin' if kind == 'V' else 'thick', self.configuration.lvm_type)
        if len(lv['lv_attr']) > 5 and lv['lv_attr'][5] == 'o':
            return 'it is open (in use)'
        return None

    def manage_existing_get_size(self, volume, existing_ref):
        """Size in GiB (rounded up) of the LV ``existing_ref['source-name']``."""
        lv = self._existing_lv(existing_ref)
        return int(math.ceil(lv['lv_size'] / GiB))

    def manage_existing(self, volume, existing_ref):
        """Rename the LV to ``volume.name`` (grown to whole GiB); re-runnable."""
        name = (existing_ref or {}).get('source-name')
        if name and name != volume.name and self.vg.get_lv(name) is None \
                and self.vg.lv_exists(volume.name):
            return None  # renamed by an earlier run
        lv = self._existing_lv(existing_ref)
        if not self.device_mapper and len(self.vg.pe_ranges(lv['lv_name'])) != 1:
            raise exception.InvalidVolume(
                reason='%s is not contiguous; without device-mapper only single-range '
                       'LVs can be managed' % lv['lv_name'])
        if lv['lv_name'] != volume.name:
            if self.vg.lv_exists(volume.name):
                raise exception.InvalidVolume(reason='%s already exists' % volume.name)
            self.vg.rename_lv(lv['lv_name'], volume.name)
        size_gb = int(math.ceil(lv['lv_size'] / GiB))
        if size_gb * GiB != lv['lv_size']:
            self._grow(volume.name, lv['lv_size'], size_gb)
        return None

    def unmanage(self, volume):
        """Forget the volume: remove its export, keep the LV and its data."""
        self.remove_export(None, volume)

    def get_manageable_volumes(self, known_ids):
        """Every volume-like LV of the VG, managed or not (no paging: callers page).

        :param known_ids: ids of the live volumes of this backend; the LV
            ``volume-<id>`` of one of them is reported as already managed.
        :returns: ``[{'reference': {'source-name'}, 'size', 'safe_to_manage',
            'reason_not_safe', 'cinder_id', 'extra_info'}]`` sorted by name.
        """
        known = set(known_ids or ())
        entries = []
        for name, lv in sorted(self._lvs().items()):
            kind = lv['lv_attr'][:1]
            if (name == self.pool_name or kind in ('t', 's', 'S') or
                    name.startswith('_snapshot') or name.endswith(_TEMP_SUFFIXES)
                    or lvm_backup.is_backup_base(name)):
                continue
            cinder_id = name[len('volume-'):] if name.startswith('volume-') else None
            cinder_id = cinder_id if cinder_id in known else None
            reason = 'Already managed' if cinder_id else self._not_manageable_reason(lv)
            entries.append({'reference': {'source-name': name},
                            'size': int(math.ceil(lv['lv_size'] / GiB)),
                            'safe_to_manage': reason is None,
                            'reason_not_safe': reason,
                            'cinder_id': cinder_id,
                            'extra_info': {'lv_attr': lv['lv_attr']}})
        return entries

    def get_manageable_snapshots(self, known_ids):
        """Every snapshot LV (``_snapshot-<id>``) with its origin, as
        :meth:`get_manageable_volumes` plus ``source_reference``."""
        known = set(known_ids or ())
        entries = []
        for name, lv in sorted(self._lvs().items()):
            if not name.startswith('_snapshot-'):
                continue
            cinder_id = name[len('_snapshot-'):]
            cinder_id = cinder_id if cinder_id in known else None
            entries.append({'reference': {'source-name': name},
                            'size': int(math.ceil(lv['lv_size'] / GiB)),
                            'safe_to_manage': False,
                            'reason_not_safe': 'Already managed' if cinder_id else
                            'managing snapshots is not supported',
                            'cinder_id': cinder_id,
                            'extra_info': None,
                            'source_reference': ({'source-name': lv['origin']}
                                                 if lv['origin'] else None)})
        return entries

    # -- MigrateOps -------------------------------------------------------------

    def _destination(self, host):
        """``(vg_name, lvm_type)`` of ``host`` when it is an LVM backend of this
        node (from its ``location_info``), else None."""
        caps = (host or {}).get('capabilities') or {}
        parts = str(caps.get('location_info') or '').split(':')
        if len(parts) != 5 or parts[0] != 'LVMDriver':
            return None
        node = parts[1].partition('@')[0]
        if node != self.host.partition('@')[0]:
            return None
        try:
            lvm_vg.check_name(parts[2], 'volume group name')
        except exception.InvalidInput:
            return None
        return parts[2], ('thin' if parts[3] == 'thin' else 'default')

    def migrate_volume(self, context, volume, host):
        """Copy the LV into another VG of this node (thick or thin), then
        remove it here (wiped per ``volume_clear``); re-runnable.

        Needs device-mapper (the destination's LV is reached by its device)
        and a detached volume; otherwise returns ``(False, None)`` and the
        manager's generic migration runs. The copy is made under
        ``<name>.tmp`` in the destination and renamed when complete, so a
        re-run after a crash starts the copy over or just finishes the removal.
        """
        dest = self._destination(host)
        if dest is None or not self.device_mapper:
            return False, None
        dest_vg_name, dest_type = dest
        if dest_vg_name == self.vg.vg_name:
            return dest_type == self.configuration.lvm_type, None
        if self.target.is_exported(volume):
            LOG.info('%s is exported: leaving its migration to the manager', volume.name)
            return False, None
        conf = self.configuration
        dest_vg = lvm_vg.LVM(dest_vg_name, execute=self._execute, conf_dir=conf.lvm_conf_dir,
                             activation=True, timeout=self.timeout)
        if dest_vg.get_vg() is None:
            return False, None
        name, tmp = volume.name, volume.name + TMP_SUFFIX
        src = self._settle(name, self._lvs())
        if dest_vg.lv_exists(name):
            if src is not None:
                self._remove_lv(name)   # copied and published: finish the move
            return True, None
        if src is None:
            raise exception.VolumeBackendAPIException(
                data='logical volume %s not found' % self.vg.lv_ref(name))
        size_gb = int(math.ceil(src['lv_size'] / GiB))
        dest_vg.remove_lv(tmp)
        if dest_type == 'thin':
            dest_vg.create_thin_lv(tmp, size_gb, '%s-pool' % dest_vg_name)
        else:
            dest_vg.create_lv(tmp, size_gb)
        try:
            dest_vg.activate_lv(tmp)
            with self._device(name) as device:
                # Thin: discarding reads as zeros and provisions nothing.
                lvm_datapath.copy_range(device.path, dest_vg.lv_path(tmp), src['lv_size'],
                                        discard_zeroes=dest_type == 'thin')
        except Exception:
            with contextlib.suppress(Exception):
                dest_vg.remove_lv(tmp)
            raise
        dest_vg.rename_lv(tmp, name)
        self._remove_lv(name)
        LOG.info('Moved %s from %s to %s (%s)', name, self.vg.vg_name, dest_vg_name, dest_type)
        return True, None

    def retype(self, context, volume, new_type, diff, host):
        """LVM volumes carry no per-volume settings: a retype that stays on this
        backend's VG needs nothing; any other is a migration (False)."""
        dest = self._destination(host)
        return (dest is not None and dest[0] == self.vg.vg_name
                and dest[1] == self.configuration.lvm_type), None
