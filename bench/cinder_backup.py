#!/usr/bin/env python3
"""Time Cinder 29's own chunked POSIX backup driver on a file, for a ratio.

Run with the python of the separate Cinder venv (bench/cinder_backup.sh makes
it), never blockstore's; this file imports no blockstore module:

    PY=$(bash bench/cinder_backup.sh)
    $PY bench/cinder_backup.py --file /var/tmp/vol.img --out-dir /var/tmp/cb

What it sets up, for real and minimally, is what cinder-backup has around
the driver when it backs up a volume whose device is a local path:

* a cinder.conf (oslo.config) in the work directory: SQLite database,
  ``backup_posix_path``, oslo.messaging's ``fake://`` transport with the
  ``noop`` notification driver (the driver sends progress notifications),
  lock path, log file;
* the database created by Cinder's own migrations (``cinder-manage
  --config-file cinder.conf db sync``);
* a volume row and a backup row created through ``cinder.objects``, with the
  statuses the API and manager give them (``backing-up``/``creating``,
  ``restoring-backup``/``restoring``), and the manager's updates afterwards
  (backup ``available`` with its size, the parent's dependent count);
* eventlet monkey patching exactly as ``cinder-backup`` does it
  (``cinder.monkey_patch.patch()``; ``--threading`` or
  ``OS_CINDER_DISABLE_EVENTLET_PATCHING=1`` selects Cinder's native-thread
  mode), and the source and target files wrapped with ``utils.tpool_wrap``
  as the manager wraps the device file.

Then, timing only the driver calls: ``driver.backup(backup, file)`` (full),
``driver.restore(backup, volume_id, file, volume_is_new)`` into
``<out-dir>/restored.img`` checked byte for byte against the source, then
``--change-percent`` of the file's blocks overwritten in place with random
bytes (see apply_change: deterministic for a seed, so the blockstore side can
make the same change) and an incremental ``driver.backup`` whose parent is
the full one. One JSON line goes to stdout; Cinder's log goes to
``<out-dir>/cinder.log``.

The source file IS MODIFIED by the incremental step (``--change-percent 0``
skips it). ``--change-only`` applies the change without importing Cinder
(any python 3), so a caller can make the same change to another copy.

The functions ensure_venv() and run() need only the standard library, so the
benchmark driver can call them from blockstore's own python.
"""

import argparse
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time

GiB = 1024 ** 3
MiB = 1024 ** 2
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VENV = '/var/tmp/blockstore-bench-cinder-venv'


# ---------------------------------------------------------------- helpers
# (standard library only: usable from any python)

def ensure_venv():
    """Create or reuse the Cinder venv; return the path of its python."""
    out = subprocess.run(['bash', os.path.join(HERE, 'cinder_backup.sh')],
                         check=True, stdout=subprocess.PIPE, text=True)
    return out.stdout.strip().splitlines()[-1]


def run(file, out_dir, python=None, extra_args=(), timeout=None):
    """Run this script under the Cinder venv's python; return its JSON."""
    python = python or ensure_venv()
    cmd = [python, os.path.abspath(__file__), '--file', file,
           '--out-dir', out_dir, *extra_args]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                         timeout=timeout)
    return json.loads(out.stdout.strip().splitlines()[-1])


def change_plan(size, percent, block_size):
    """The blocks apply_change overwrites: [(offset, length)], spread evenly.

    The file is cut into ceil(size / block_size) blocks; k = round(n * percent
    / 100) of them (at least one when percent > 0) are chosen, block
    floor((j + 0.5) * n / k) for j in 0..k-1, so the change is spread over the
    whole file, not bunched at its start.
    """
    if percent <= 0 or size <= 0:
        return []
    n = math.ceil(size / block_size)
    k = min(n, max(1, round(n * percent / 100.0)))
    plan = []
    for j in range(k):
        idx = int((j + 0.5) * n / k)
        off = idx * block_size
        plan.append((off, min(block_size, size - off)))
    return plan


def apply_change(path, percent, block_size=MiB, seed=1):
    """Overwrite `percent` % of `path`'s blocks with random bytes, in place.

    The bytes come from random.Random(seed), block after block in plan order,
    so the same (size, percent, block_size, seed) gives the same file on any
    python 3.9+. The size is unchanged; the file is fsynced. Returns the plan.
    """
    size = os.path.getsize(path)
    plan = change_plan(size, percent, block_size)
    rnd = random.Random(seed)
    fd = os.open(path, os.O_WRONLY)
    try:
        for off, length in plan:
            data = rnd.randbytes(length)
            done = 0
            while done < length:
                done += os.pwrite(fd, data[done:], off + done)
        os.fsync(fd)
    finally:
        os.close(fd)
    return plan


def sha256_file(path, bufsize=8 * MiB):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(bufsize)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def drop_file_cache(path):
    """Evict one file's clean pages (no global drop_caches)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def drop_tree_cache(top):
    for d, _, files in os.walk(top):
        for name in files:
            drop_file_cache(os.path.join(d, name))


def tree_bytes(top):
    """(apparent bytes, allocated bytes, file count) under top."""
    size = alloc = count = 0
    for d, _, files in os.walk(top):
        for name in files:
            st = os.stat(os.path.join(d, name))
            size += st.st_size
            alloc += st.st_blocks * 512
            count += 1
    return size, alloc, count


def proc_io():
    vals = {}
    with open('/proc/self/io') as f:
        for line in f:
            k, v = line.split(':')
            vals[k.strip()] = int(v)
    return vals


def reset_peak_rss():
    """Reset VmHWM (Linux: write 5 to clear_refs); False if not allowed."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def peak_rss_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024.0
    return None


class Step:
    """Time a block and record its I/O counters and peak RSS."""

    def __init__(self):
        self.seconds = None
        self.rchar = self.read_bytes = self.wchar = self.write_bytes = None
        self.peak_rss_mib = None

    def __enter__(self):
        self._peak_reset = reset_peak_rss()
        self._io = proc_io()
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t
        io = proc_io()
        self.rchar = io['rchar'] - self._io['rchar']
        self.read_bytes = io['read_bytes'] - self._io['read_bytes']
        self.wchar = io['wchar'] - self._io['wchar']
        self.write_bytes = io['write_bytes'] - self._io['write_bytes']
        self.peak_rss_mib = peak_rss_mib() if self._peak_reset else None
        return False


def mib_s(nbytes, seconds):
    return round(nbytes / MiB / seconds, 1) if seconds else None


# ---------------------------------------------------------------- Cinder

CONF_TEMPLATE = """\
[DEFAULT]
host = blockstore-bench
state_path = {work}
backup_driver = cinder.backup.drivers.posix.PosixBackupDriver
backup_posix_path = {backups}
{compression_line}{chunk_line}transport_url = fake://
log_file = {work}/cinder.log
debug = {debug}

[database]
connection = sqlite:///{work}/cinder.sqlite

[oslo_messaging_notifications]
driver = noop

[oslo_concurrency]
lock_path = {work}/locks
"""


def write_conf(work, args):
    backups = os.path.join(work, 'backups')
    os.makedirs(backups, exist_ok=True)
    os.makedirs(os.path.join(work, 'locks'), exist_ok=True)
    comp = ('backup_compression_algorithm = %s\n' % args.compression
            if args.compression else '')
    chunk = ('backup_file_size = %d\n' % args.chunk_size
             if args.chunk_size else '')
    path = os.path.join(work, 'cinder.conf')
    with open(path, 'w') as f:
        f.write(CONF_TEMPLATE.format(work=work, backups=backups,
                                     compression_line=comp, chunk_line=chunk,
                                     debug='true' if args.debug else 'false'))
    return path, backups


def db_sync(conf_path):
    """Create the schema with Cinder's own migrations, as an operator would."""
    manage = os.path.join(os.path.dirname(sys.executable), 'cinder-manage')
    subprocess.run([manage, '--config-file', conf_path, 'db', 'sync'],
                   check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)


def bench(args):
    if args.threading:
        os.environ['OS_CINDER_DISABLE_EVENTLET_PATCHING'] = '1'
    # eventlet announces its deprecation on import (cinder/__init__ imports
    # it); the JSON says whether it is in use.
    import warnings
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    # As cinder/cmd/backup.py: patch before anything else of Cinder's.
    from cinder import monkey_patch
    monkey_patch.patch()

    from oslo_config import cfg
    from oslo_log import log as logging

    from cinder.backup.drivers import posix
    from cinder.common import config  # noqa: F401  (registers options)
    from cinder import context
    from cinder.db import api as db_api
    from cinder import objects
    from cinder.objects import fields
    from cinder import rpc
    from cinder import utils
    from cinder import version

    src = os.path.abspath(args.file)
    size = os.path.getsize(src)
    gib = max(1, math.ceil(size / GiB))
    work = os.path.abspath(args.out_dir)
    os.makedirs(work, exist_ok=True)
    for name in ('cinder.sqlite', 'cinder.log'):
        if os.path.exists(os.path.join(work, name)):
            os.unlink(os.path.join(work, name))
    conf_path, backups_dir = write_conf(work, args)
    if os.listdir(backups_dir):
        sys.exit('%s is not empty: use a fresh --out-dir' % backups_dir)

    db_sync(conf_path)

    CONF = cfg.CONF
    objects.register_all()
    CONF([], project='cinder', version=version.version_string(),
         default_config_files=[conf_path])
    logging.setup(CONF, 'cinder')
    rpc.init(CONF)

    ctxt = context.get_admin_context()
    project = 'benchproject'
    user = 'benchuser'
    ctxt.project_id, ctxt.user_id = project, user
    host = CONF.host + '@posix#pool'

    volume = objects.Volume(
        context=ctxt, size=gib, host=host, status='backing-up',
        previous_status='available', attach_status='detached',
        availability_zone=CONF.storage_availability_zone,
        project_id=project, user_id=user, display_name='bench-source')
    volume.create()

    driver_name = 'cinder.backup.drivers.posix.PosixBackupDriver'

    def new_backup(parent=None):
        b = objects.Backup(
            context=ctxt, volume_id=volume.id, size=gib, host=CONF.host,
            status=fields.BackupStatus.CREATING, container=None,
            service=driver_name, project_id=project, user_id=user,
            availability_zone=CONF.storage_availability_zone,
            display_name='bench-%s' % ('incremental' if parent else 'full'),
            parent_id=parent.id if parent else None)
        b.create()
        return b

    def finish_backup(b, updates):
        # What BackupManager._finish_backup does after the driver returns.
        b.status = fields.BackupStatus.AVAILABLE
        b.size = volume.size
        if updates:
            b.update(updates)
        b.save()
        if b.parent_id:
            db_api.backup_add_dependent(ctxt, b.parent_id)

    def do_backup(b):
        if args.cold:
            drop_file_cache(src)
        before = tree_bytes(backups_dir)
        drv = posix.PosixBackupDriver(ctxt)
        with open(src, 'rb') as f, Step() as st:
            updates = drv.backup(b, utils.tpool_wrap(f))
        finish_backup(b, updates)
        after = tree_bytes(backups_dir)
        b.refresh()
        return drv, st, (after[0] - before[0], after[1] - before[1],
                         after[2] - before[2])

    def do_restore(b, dest):
        target = objects.Volume(
            context=ctxt, size=gib, host=host, status='restoring-backup',
            attach_status='detached',
            availability_zone=CONF.storage_availability_zone,
            project_id=project, user_id=user,
            display_name='bench-restore-target')
        target.create()
        b.status = fields.BackupStatus.RESTORING
        b.restore_volume_id = target.id
        b.save()
        if args.cold:
            drop_tree_cache(backups_dir)
        drv = posix.PosixBackupDriver(ctxt)
        # The manager opens the device with 'wb' and wraps it likewise.
        with open(dest, 'wb') as f, Step() as st:
            drv.restore(b, target.id, utils.tpool_wrap(f),
                        args.volume_is_new)
        # With volume_is_new Cinder skips writing all-zero MiBs, so a file
        # target can end short; a device would have the size already.
        if os.path.getsize(dest) < size:
            os.truncate(dest, size)
        b.status = fields.BackupStatus.AVAILABLE
        b.save()
        target.status = 'available'
        target.save()
        return st

    result = {
        'cinder_version': version.version_string(),
        'eventlet': monkey_patch.is_patched(),
        'file': src,
        'file_bytes': size,
        'volume_gib': gib,
    }
    setup_rss = peak_rss_mib()

    # Full backup.
    src_sha = sha256_file(src)
    full = new_backup()
    drv, st, stored = do_backup(full)
    result.update({
        'compression': CONF.backup_compression_algorithm.lower(),
        'compression_is_cinder_default': not args.compression,
        'chunk_size': drv.chunk_size_bytes,
        'sha_block_size': drv.sha_block_size_bytes,
        'full_backup_seconds': round(st.seconds, 3),
        'full_backup_mib_s': mib_s(size, st.seconds),
        'full_backup_rchar': st.rchar,
        'full_backup_read_bytes': st.read_bytes,
        'full_backup_peak_rss_mib': st.peak_rss_mib,
        'stored_bytes': stored[0],
        'stored_allocated_bytes': stored[1],
        'object_count': full.object_count,
    })

    # Restore of the full backup, verified.
    dest = os.path.join(work, 'restored.img')
    st = do_restore(full, dest)
    result.update({
        'restore_volume_is_new': args.volume_is_new,
        'restore_seconds': round(st.seconds, 3),
        'restore_mib_s': mib_s(size, st.seconds),
        'restore_peak_rss_mib': st.peak_rss_mib,
        'restore_ok': sha256_file(dest) == src_sha,
    })
    if not args.keep_restored:
        os.unlink(dest)

    # Change, then an incremental backup on the full one.
    if args.change_percent > 0:
        plan = apply_change(src, args.change_percent, args.change_block_size,
                            args.seed)
        changed = sum(length for _, length in plan)
        incr = new_backup(parent=full)
        drv, st, stored = do_backup(incr)
        result.update({
            'change_percent': args.change_percent,
            'change_block_size': args.change_block_size,
            'change_seed': args.seed,
            'changed_bytes': changed,
            'incremental_seconds': round(st.seconds, 3),
            'incremental_mib_s': mib_s(size, st.seconds),
            # rchar: bytes the process read() (the volume file plus the
            # parent's sha256file); read_bytes: what reached the disk.
            'incremental_bytes_read': st.rchar,
            'incremental_disk_read_bytes': st.read_bytes,
            'incremental_peak_rss_mib': st.peak_rss_mib,
            'incremental_stored_bytes': stored[0],
            'incremental_object_count': incr.object_count,
        })
        if args.restore_incremental:
            src_sha = sha256_file(src)
            dest = os.path.join(work, 'restored-incremental.img')
            st = do_restore(incr, dest)
            result.update({
                'incremental_restore_seconds': round(st.seconds, 3),
                'incremental_restore_mib_s': mib_s(size, st.seconds),
                'incremental_restore_peak_rss_mib': st.peak_rss_mib,
                'incremental_restore_ok': sha256_file(dest) == src_sha,
            })
            if not args.keep_restored:
                os.unlink(dest)

    peaks = [p for p in (setup_rss, result.get('full_backup_peak_rss_mib'),
                         result.get('restore_peak_rss_mib'),
                         result.get('incremental_peak_rss_mib'),
                         result.get('incremental_restore_peak_rss_mib'))
             if p is not None]
    # Peak RSS of the whole run: VmHWM is reset before each step (so each
    # step's peak is its own), hence the maximum of the parts. Where the
    # reset is not allowed, VmHWM is simply the lifetime peak.
    result['setup_rss_mib'] = round(setup_rss, 1) if setup_rss else None
    result['max_rss_mib'] = round(max(peaks + [peak_rss_mib() or 0]), 1)
    for k in ('full_backup_peak_rss_mib', 'restore_peak_rss_mib',
              'incremental_peak_rss_mib', 'incremental_restore_peak_rss_mib'):
        if result.get(k) is not None:
            result[k] = round(result[k], 1)
    result['blockstore_imported'] = any(
        m == 'blockstore' or m.startswith('blockstore.') for m in sys.modules)

    rpc.cleanup()
    if not args.keep_backups:
        import shutil
        shutil.rmtree(backups_dir)
    return result


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--file', required=True,
                   help='the volume image to back up (modified in place by '
                        'the incremental step)')
    p.add_argument('--out-dir',
                   help='work directory: cinder.conf, SQLite database, '
                        'backups, restored image, cinder.log')
    p.add_argument('--compression',
                   choices=['none', 'zlib', 'bz2', 'zstd'],
                   help="backup_compression_algorithm (default: Cinder's, "
                        "zlib)")
    p.add_argument('--chunk-size', type=int,
                   help="backup_file_size in bytes (default: Cinder's, "
                        "1999994880); a multiple of 32768")
    p.add_argument('--change-percent', type=float, default=1.0,
                   help='percent of blocks changed before the incremental '
                        '(0: no incremental); default 1')
    p.add_argument('--change-block-size', type=int, default=MiB,
                   help='size of a changed block; default 1 MiB')
    p.add_argument('--seed', type=int, default=1,
                   help='seed of the changed bytes; default 1')
    p.add_argument('--change-only', action='store_true',
                   help='only apply the change to --file and print its plan '
                        '(needs no Cinder)')
    p.add_argument('--restore-incremental', action='store_true',
                   help='also restore the incremental chain and verify it')
    p.add_argument('--volume-is-new', action='store_true',
                   help="restore with volume_is_new=True (Cinder's restore "
                        "to a new volume: all-zero MiBs are not written)")
    p.add_argument('--cold', action='store_true',
                   help="evict the source's pages before each backup and "
                        "the backup objects' before each restore "
                        "(posix_fadvise DONTNEED, this file only)")
    p.add_argument('--threading', action='store_true',
                   help="Cinder's native-thread mode instead of eventlet "
                        "(OS_CINDER_DISABLE_EVENTLET_PATCHING=1)")
    p.add_argument('--keep-restored', action='store_true')
    p.add_argument('--keep-backups', action='store_true')
    p.add_argument('--debug', action='store_true',
                   help="Cinder's debug logging into cinder.log")
    args = p.parse_args(argv)
    if not args.change_only and not args.out_dir:
        p.error('--out-dir is required')
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.change_only:
        plan = apply_change(args.file, args.change_percent,
                            args.change_block_size, args.seed)
        print(json.dumps({'file': os.path.abspath(args.file),
                          'changed_bytes': sum(n for _, n in plan),
                          'plan': plan}))
        return 0
    try:
        result = bench(args)
    except Exception:
        # oslo.log's excepthook would send it to cinder.log only.
        import traceback
        traceback.print_exc()
        return 1
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
