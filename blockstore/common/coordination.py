"""Distributed locks through tooz: one coordinator per process.

Whatever two services must not do at once -- a manager's operations on one
resource (``common/operation.locked``), a backend's metadata updates (the
file driver's directory, LVM's relocations) -- takes :func:`lock`. The lock
service is ``[coordination] backend_url``: a shared one (Redis) when the
services of a cluster run on several nodes, else tooz's file driver under
``$state_path/locks`` (locks between the processes of one node).

The coordinator is started with the services (``service.run``) and stopped
after them; code that runs outside a service (a unit test, a manage command)
starts it on first use. With Redis, tooz's heartbeat thread keeps the locks
this process holds alive; a process that dies loses them after the driver's
``lock_timeout`` (a URL parameter, 30 s by default), so a peer taking over
its work waits at most that long. A lock asked for while the lock service is
unreachable waits for it (the redis client's own retries, then
``UNREACHABLE_RETRY`` more seconds) rather than failing the operation.
"""

import contextlib
import hashlib
import os
import re
import threading
import time
import uuid

from oslo_config import cfg
from oslo_log import log as logging
from tooz import coordination as tooz_coordination

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

PREFIX = 'blockstore'
# Seconds a lock request waits for an unreachable lock service to come back.
UNREACHABLE_RETRY = 60
# Characters a lock name may keep as they are (tooz's file driver makes a file of it).
_SAFE = re.compile(r'^[A-Za-z0-9._@#-]{1,160}$')


class LockBusy(Exception):
    """A lock asked for without waiting is held by someone else."""


def backend_url(conf=CONF):
    """The configured lock service, or the file driver under ``$state_path/locks``."""
    url = conf.coordination.backend_url
    if url:
        return url
    return 'file://' + os.path.join(conf.state_path, 'locks')


def lock_name(name):
    """The name of lock ``name`` in the lock service (prefixed, file-name safe)."""
    if not _SAFE.match(name):
        name = 'h-' + hashlib.sha256(name.encode('utf-8')).hexdigest()
    return '%s-%s' % (PREFIX, name)


class Coordinator:
    """This process's connection to the lock service."""

    def __init__(self):
        self._guard = threading.Lock()
        self._coordinator = None
        self._pid = None
        self.url = None

    @property
    def started(self):
        return self._coordinator is not None and self._pid == os.getpid()

    def start(self, member_id=None):
        """Connect to the lock service (once; again in a forked child)."""
        with self._guard:
            if self.started:
                return
            url = backend_url()
            if url.startswith('file://'):
                os.makedirs(url[len('file://'):].split('?')[0], exist_ok=True)
            member = member_id or '%s-%d-%s' % (CONF.host, os.getpid(), uuid.uuid4().hex[:8])
            coordinator = tooz_coordination.get_coordinator(url, member.encode('utf-8'))
            coordinator.start(start_heart=True)
            self._coordinator, self._pid, self.url = coordinator, os.getpid(), url
            LOG.info('Coordination started on %s as %s', _redacted(url), member)

    def stop(self):
        with self._guard:
            coordinator, self._coordinator = self._coordinator, None
            if coordinator is None or self._pid != os.getpid():
                return
            try:
                coordinator.stop()
            except Exception:
                LOG.exception('Stopping coordination failed')

    def get_lock(self, name):
        if not self.started:
            self.start()
        return self._coordinator.get_lock(lock_name(name).encode('utf-8'))

    def _acquire(self, name, blocking):
        """Acquire lock ``name``; while the lock service is unreachable, try again for
        ``UNREACHABLE_RETRY`` seconds (a Redis restart) before giving up."""
        deadline = time.monotonic() + UNREACHABLE_RETRY
        delay = 0.5
        while True:
            lk = self.get_lock(name)
            try:
                if not lk.acquire(blocking=blocking):
                    raise LockBusy(name)
                return lk
            except tooz_coordination.ToozConnectionError as e:
                if time.monotonic() + delay > deadline:
                    raise
                LOG.warning('Lock service unreachable taking %s (%s); retrying in %.1f s',
                            name, e, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5)

    @contextlib.contextmanager
    def lock(self, name, blocking=True):
        """Hold lock ``name`` for the block; ``blocking=False`` raises LockBusy if held."""
        lk = self._acquire(name, blocking)
        try:
            yield
        finally:
            try:
                lk.release()
            except Exception:
                LOG.exception('Releasing lock %s failed', name)


def _redacted(url):
    return re.sub(r'//[^/@]*@', '//***@', url)


COORDINATOR = Coordinator()


def start(member_id=None):
    COORDINATOR.start(member_id)


def stop():
    COORDINATOR.stop()


def lock(name, blocking=True):
    """The lock ``name`` of this deployment's lock service, as a context manager."""
    return COORDINATOR.lock(name, blocking=blocking)
