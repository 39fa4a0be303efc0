"""A thin wrapper around the LVM commands the LVM driver needs, for one VG.

Every method builds one argv list and runs it through the injected
``execute`` (see :mod:`blockstore.common.processutils`); reports are read
with ``--noheadings --units b --nosuffix --separator '|'`` so sizes are
exact byte counts. Two host adaptations apply to every command:

* ``devices``: the PVs LVM may look at (``--devices a,b``), so a private
  development PV never mixes with the host's own VGs;
* ``activation=False``: ``--config 'global{activation=0}'`` is added and LVs
  are created inactive without zeroing (``-an -Zn``), for kernels without
  device-mapper where LVM can only edit metadata.

``conf_dir`` becomes ``LVM_SYSTEM_DIR`` (a private ``lvm.conf``).
"""

import collections
import re

from blockstore.common import exception
from blockstore.common import processutils

SEPARATOR = '|'
REPORT_OPTS = ('--noheadings', '--units', 'b', '--nosuffix', '--separator', SEPARATOR)
NO_ACTIVATION = 'global{activation=0}'

VG_FIELDS = ('vg_name', 'vg_size', 'vg_free', 'vg_extent_size', 'vg_extent_count',
             'vg_free_count', 'lv_count', 'vg_uuid')
LV_FIELDS = ('lv_name', 'lv_size', 'lv_attr', 'pool_lv', 'origin', 'data_percent')
PV_FIELDS = ('pv_name', 'vg_name', 'pv_size', 'pv_free', 'pe_start')
SEG_FIELDS = ('lv_name', 'seg_start_pe', 'seg_pe_ranges')

_INT_FIELDS = {'vg_size', 'vg_free', 'vg_extent_size', 'vg_extent_count', 'vg_free_count',
               'lv_count', 'lv_size', 'pv_size', 'pv_free', 'pe_start', 'seg_start_pe'}
# LVM object names: letters, digits, '+', '_', '.', '-'; never starting with '-'.
_NAME_RE = re.compile(r'^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$')

#: One contiguous run of extents of an LV on a PV: ``pv`` device path,
#: ``first`` and ``last`` physical extent numbers (inclusive).
PERange = collections.namedtuple('PERange', ['pv', 'first', 'last'])


class NotFound(Exception):
    """Internal: the LV or VG a command named does not exist."""


def check_name(name, what='LVM name'):
    """Return ``name`` if it is a usable LVM object name, else raise InvalidInput.

    Names reach argv only, never a shell; this refuses names LVM would reject
    and names that would be read as options (leading ``-``).
    """
    if not isinstance(name, str) or not _NAME_RE.match(name) or name in ('.', '..'):
        raise exception.InvalidInput(reason='unusable %s %r' % (what, name))
    return name


def _parse_report(stdout, fields):
    """Rows of an LVM report as dicts; integer fields converted."""
    rows = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        values = [v.strip() for v in line.split(SEPARATOR)]
        if len(values) != len(fields):
            raise exception.VolumeBackendAPIException(
                data='unexpected LVM report line %r for fields %s' % (line, ','.join(fields)))
        row = {}
        for field, value in zip(fields, values):
            if field in _INT_FIELDS and value != '':
                value = int(float(value))
            row[field] = value
        rows.append(row)
    return rows


def parse_pe_ranges(text):
    """``'/dev/loop0:0-15 /dev/loop1:3-9'`` -> [PERange('/dev/loop0', 0, 15), ...]."""
    ranges = []
    for item in text.split():
        pv, sep, span = item.rpartition(':')
        first, dash, last = span.partition('-')
        if not sep or not dash or not first.isdigit() or not last.isdigit():
            raise exception.VolumeBackendAPIException(
                data='unexpected seg_pe_ranges value %r' % (text,))
        ranges.append(PERange(pv, int(first), int(last)))
    return ranges


class LVM:
    """LVM commands against one volume group."""

    def __init__(self, vg_name, execute=processutils.execute, conf_dir=None, devices=(),
                 activation=True, timeout=processutils.DEFAULT_TIMEOUT):
        self.vg_name = check_name(vg_name, 'volume group name')
        self._execute = execute
        self.conf_dir = conf_dir
        self.devices = tuple(devices)
        self.activation = activation
        self.timeout = timeout

    # -- plumbing ---------------------------------------------------------

    def command(self, program, *args):
        """The full argv of an LVM ``program`` with this VG's common options."""
        argv = [program]
        if self.devices:
            argv += ['--devices', ','.join(self.devices)]
        if not self.activation:
            argv += ['--config', NO_ACTIVATION]
        argv += [str(a) for a in args]
        return argv

    def _env(self):
        env = {'LVM_SUPPRESS_FD_WARNINGS': '1'}
        if self.conf_dir:
            env['LVM_SYSTEM_DIR'] = self.conf_dir
        return env

    def run(self, program, *args, check_exit_code=(0,), log_errors=True):
        """Run an LVM command; returns the Result.

        ``log_errors=False`` for calls whose failure is an expected answer
        (e.g. "not found"); the error is raised either way.
        """
        return self._execute(*self.command(program, *args), env=self._env(),
                             timeout=self.timeout, check_exit_code=check_exit_code,
                             log_errors=log_errors)

    def lv_ref(self, name):
        """``'VG/LV'`` for ``name``."""
        return '%s/%s' % (self.vg_name, check_name(name, 'logical volume name'))

    def _report(self, program, fields, *targets, missing=None):
        """Run a report command; ``missing`` (a regex) on stderr means NotFound."""
        args = list(REPORT_OPTS) + ['-o', ','.join(fields)] + list(targets)
        try:
            result = self.run(program, *args, log_errors=not missing)
        except exception.ProcessExecutionError as e:
            if missing and re.search(missing, e.stderr or ''):
                raise NotFound(str(e)) from None
            raise
        return _parse_report(result.stdout, fields)

    # -- queries ----------------------------------------------------------

    def get_vg(self):
        """This VG's report row (see VG_FIELDS) or None when it does not exist."""
        try:
            rows = self._report('vgs', VG_FIELDS, self.vg_name,
                                missing=r'Volume group "[^"]*" not found')
        except NotFound:
            return None
        return rows[0] if rows else None

    def list_pvs(self, all_pvs=False):
        """Report rows (PV_FIELDS) of the PVs of this VG (``all_pvs``: every PV
        LVM sees, including unused ones)."""
        rows = self._report('pvs', PV_FIELDS)
        return rows if all_pvs else [r for r in rows if r['vg_name'] == self.vg_name]

    def list_lvs(self):
        """Report rows (LV_FIELDS) of every LV of this VG."""
        return self._report('lvs', LV_FIELDS, self.vg_name)

    def get_lv(self, name):
        """The report row (LV_FIELDS) of LV ``name``, or None if it does not exist."""
        try:
            rows = self._report('lvs', LV_FIELDS, self.lv_ref(name),
                                missing=r'Failed to find logical volume')
        except NotFound:
            return None
        return rows[0] if rows else None

    def lv_exists(self, name):
        return self.get_lv(name) is not None

    def pe_ranges(self, name):
        """The physical extent ranges of LV ``name``, in LV order.

        :raises VolumeBackendAPIException: the LV does not exist.
        """
        try:
            rows = self._report('lvs', SEG_FIELDS, self.lv_ref(name),
                                missing=r'Failed to find logical volume')
        except NotFound:
            raise exception.VolumeBackendAPIException(
                data='logical volume %s not found' % self.lv_ref(name)) from None
        rows.sort(key=lambda r: r['seg_start_pe'])
        ranges = []
        for row in rows:
            ranges.extend(parse_pe_ranges(row['seg_pe_ranges']))
        return ranges

    def lv_path(self, name):
        """The device node of an active LV (``/dev/VG/LV``)."""
        return '/dev/%s' % self.lv_ref(name)

    # -- PV / VG ----------------------------------------------------------

    def create_pv(self, device):
        """Initialise ``device`` as a PV."""
        self.run('pvcreate', '-y', device)

    def create_vg(self, devices):
        """Create this VG on ``devices``."""
        self.run('vgcreate', '-y', self.vg_name, *devices)

    def remove_vg(self):
        """Remove this VG and every LV in it (tests and tear-down only)."""
        self.run('vgremove', '-f', self.vg_name)

    def remove_pv(self, device):
        """Wipe the PV label of ``device``."""
        self.run('pvremove', '-y', device)

    # -- LVs --------------------------------------------------------------

    def _new_lv_flags(self):
        # Without activation LVM cannot zero the LV's start: say so up front.
        return ['-an', '-Zn'] if not self.activation else []

    def create_lv(self, name, size_gb, contiguous=False):
        """Create a thick (linear) LV of ``size_gb`` GiB."""
        args = ['-y'] + self._new_lv_flags()
        if contiguous:
            args += ['--alloc', 'contiguous']
        args += ['-L', '%dg' % size_gb, '-n', check_name(name), self.vg_name]
        self.run('lvcreate', *args)

    def create_thin_pool(self, name, percent_of_free=95):
        """Create the thin pool ``name`` on ``percent_of_free`` % of the free space,
        zeroing the blocks it provisions (see :meth:`pool_zeroes_new_blocks`)."""
        self.run('lvcreate', '-y', '--type', 'thin-pool', '-l', '%d%%FREE' % percent_of_free,
                 '--zero', 'y', '-n', check_name(name), self.vg_name)

    @staticmethod
    def pool_zeroes_new_blocks(pool_lv):
        """Whether a thin pool (its report row) zeroes data blocks it provisions
        (``lv_attr`` column 8 ``z``): the rest of a partly written block then
        never shows what a deleted volume left there."""
        attr = pool_lv['lv_attr']
        return len(attr) > 7 and attr[7] == 'z'

    def zero_new_thin_blocks(self, pool):
        """Make thin pool ``pool`` zero the data blocks it provisions."""
        self.run('lvchange', '--zero', 'y', self.lv_ref(pool))

    def create_thin_lv(self, name, size_gb, pool):
        """Create a thin LV of virtual size ``size_gb`` GiB in ``pool``."""
        self.run('lvcreate', '-y', '--type', 'thin', '-V', '%dg' % size_gb,
                 '--thinpool', self.lv_ref(pool), '-n', check_name(name))

    def create_snapshot(self, name, source, size_gb=None):
        """Snapshot LV ``source`` as ``name``.

        ``size_gb`` None makes a thin snapshot (source must be thin);
        otherwise a thick COW snapshot with that much COW space.
        """
        args = ['-y', '--snapshot', '-n', check_name(name)]
        if size_gb is not None:
            args += ['-L', '%dg' % size_gb]
        args.append(self.lv_ref(source))
        self.run('lvcreate', *args)

    def extend_lv(self, name, size_gb, contiguous=False, log_errors=True):
        """Grow LV ``name`` to ``size_gb`` GiB."""
        args = []
        if contiguous:
            args += ['--alloc', 'contiguous']
        args += ['-L', '%dg' % size_gb, self.lv_ref(name)]
        self.run('lvextend', *args, log_errors=log_errors)

    def remove_lv(self, name):
        """Remove LV ``name``; True if removed, False if it did not exist."""
        try:
            self.run('lvremove', '-f', self.lv_ref(name), log_errors=False)
        except exception.ProcessExecutionError as e:
            if re.search(r'Failed to find logical volume', e.stderr or ''):
                return False
            raise
        return True

    def rename_lv(self, old, new):
        """Rename LV ``old`` to ``new``."""
        self.run('lvrename', self.vg_name, check_name(old), check_name(new))

    def activate_lv(self, name):
        """Activate LV ``name`` (also thin snapshots, which skip activation).

        ``-y``: activating a thick (COW) snapshot also changes its origin, and
        LVM asks for confirmation, which without an answer is a refusal.
        """
        self.run('lvchange', '-ay', '-K', '-y', self.lv_ref(name))

    def deactivate_lv(self, name):
        """Deactivate LV ``name``."""
        self.run('lvchange', '-an', self.lv_ref(name))
