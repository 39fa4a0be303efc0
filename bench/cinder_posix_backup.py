#!/usr/bin/env python
"""One backup or restore with Cinder's posix backup driver, for bench/backup_bench.py.

Run by the Python of a separate virtualenv holding Cinder (never blockstore's:
Cinder pulls eventlet), e.g.::

    python3 -m venv /tmp/cinder-venv && /tmp/cinder-venv/bin/pip install cinder==29.0.0
    .venv/bin/python bench/backup_bench.py --cinder-venv /tmp/cinder-venv

It drives ``cinder.backup.drivers.posix.PosixBackupDriver`` directly, as the
cinder-backup service would (eventlet monkey-patched, Cinder's option
defaults but the compression), with stand-ins for what is not data path: the
backup row (a plain object whose ``save``/``refresh`` do nothing), the
volume lookup (``db.volume_get`` returns the size) and the usage
notifications (dropped). Prints one JSON line: seconds, peak RSS.
"""

import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from oslo_config import cfg  # noqa: E402


def peak_rss():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    return 0


class FakeBackup:
    """The attributes of a Backup object the chunked driver uses."""

    def __init__(self, backup_id, volume_id, size_gib, status):
        self.id = backup_id
        self.volume_id = volume_id
        self.size = size_gib
        self.status = status
        self.container = None
        self.parent_id = None
        self.parent = None
        self.service_metadata = None
        self.object_count = 0
        self.availability_zone = 'nova'
        self.data_timestamp = None
        self.display_name = 'bench'
        self.display_description = None

    def __getattr__(self, name):   # any other field of a Backup: unset
        if name.startswith('__'):
            raise AttributeError(name)
        return None

    def __getitem__(self, key):
        return getattr(self, key)

    def save(self):
        pass

    def refresh(self):
        pass

    @contextlib.contextmanager
    def as_read_deleted(self):
        yield


class FakeDB:
    def __init__(self, size_gib):
        self.size_gib = size_gib

    def volume_get(self, context, volume_id):
        return {'id': volume_id, 'size': self.size_gib}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('kind', choices=['backup', 'restore'])
    p.add_argument('--file', required=True)
    p.add_argument('--store', required=True)
    p.add_argument('--size', type=int, required=True)
    p.add_argument('--compression', default='zlib')
    p.add_argument('--state', required=True, help='JSON file carrying the backup between runs')
    args = p.parse_args()

    from cinder import context
    from cinder import objects
    from cinder.backup.drivers import posix
    from cinder.volume import volume_utils

    objects.register_all()
    cfg.CONF([], project='cinder', default_config_files=[])
    cfg.CONF.set_override('backup_compression_algorithm', args.compression)
    cfg.CONF.set_override('backup_enable_progress_timer', False)
    cfg.CONF.set_override('connection', 'sqlite://', group='database')  # never queried
    volume_utils.notify_about_backup_usage = lambda *a, **k: None

    size_gib = max(1, -(-args.size // (1 << 30)))
    driver = posix.PosixBackupDriver(context.get_admin_context(), backup_path=args.store)
    driver.db = FakeDB(size_gib)
    base_rss = peak_rss()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    t0 = time.monotonic()
    if args.kind == 'backup':
        backup = FakeBackup(str(uuid.uuid4()), str(uuid.uuid4()), size_gib, 'creating')
        with open(args.file, 'rb') as f:
            driver.backup(backup, f, backup_metadata=False)
        with open(args.state, 'w') as f:
            json.dump({k: getattr(backup, k) for k in (
                'id', 'volume_id', 'container', 'service_metadata', 'object_count')}, f)
        result = {'object_count': backup.object_count}
    else:
        with open(args.state) as f:
            state = json.load(f)
        backup = FakeBackup(state['id'], state['volume_id'], size_gib, 'restoring')
        backup.container = state['container']
        backup.service_metadata = state['service_metadata']
        with open(args.file, 'wb') as f:   # a new volume: sparse, of the size
            f.truncate(args.size)
        with open(args.file, 'r+b') as f:
            driver.restore(backup, backup.volume_id, f, volume_is_new=True)
        result = {}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result.update(seconds=time.monotonic() - t0, peak_rss=peak_rss(), base_rss=base_rss,
                  cpu_seconds=usage.ru_utime + usage.ru_stime - cpu0)
    print(json.dumps(result))


if __name__ == '__main__':
    main()
