"""Service runner: registration, heartbeats, RPC server, periodic tasks, signals.

One ``Service`` is one binary on one host (for volume services: one backend).
``run()`` starts any number of them in this process on native threads, so
the embedded ``blockstore-all`` and the separate commands share this code.
SIGTERM/SIGINT stop the services cleanly; SIGHUP resets RPC version pins.
"""

import ctypes
import signal
import socket
import threading
import time

from futurist import periodics
from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging

from blockstore.common import context as bs_context
from blockstore.common import coordination
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore.db import online_migrations as db_online
from blockstore import objects
from blockstore.objects import base as obj_base

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class Manager:
    """Base of scheduler and volume managers (the RPC endpoints)."""
    RPC_API_VERSION = '1.0'

    def __init__(self, host, service_name):
        self.host = host
        self.service_name = service_name
        self.service = None  # objects.Service, set by Service.start()
        self.target = messaging.Target(version=self.RPC_API_VERSION)

    def init_host(self, ctx):
        """Before the RPC server starts: set up backends, clean up lost work."""

    def init_host_with_rpc(self, ctx):
        """After the RPC server starts: announce ourselves."""

    def periodic_tasks(self):
        """[(callable, spacing_seconds)] run on the service's periodic worker."""
        return []

    def reset(self):
        rpc.reset_pins()


class Service:
    def __init__(self, binary, host, topic, manager, server=None, cluster=None,
                 availability_zone=None):
        self.binary = binary
        self.host = host
        self.topic = topic
        self.server = server or host
        self.cluster = cluster
        self.availability_zone = availability_zone or CONF.storage_availability_zone
        self.manager = manager
        self.rpcserver = None
        self.cluster_rpcserver = None
        self._periodic = None
        self._periodic_thread = None
        self._heartbeat_stop = threading.Event()
        self._heartbeat_thread = None
        self.report_interval = CONF.report_interval   # seconds between heartbeats
        self.service_ref = None

    # -- registration -------------------------------------------------------

    def _register(self, ctx):
        versions = {'rpc_current_version': self.manager.RPC_API_VERSION,
                    'object_current_version': obj_base.OBJ_VERSIONS.get_current(),
                    'availability_zone': self.availability_zone,
                    'cluster_name': self.cluster, 'topic': self.topic}
        try:
            svc = objects.Service.get_by_args(ctx, self.host, self.binary)
            for k, v in versions.items():
                setattr(svc, k, v)
            svc.save()
        except Exception as e:  # ServiceNotFound
            if getattr(e, 'code', None) != 404:
                raise
            svc = objects.Service(ctx, host=self.host, binary=self.binary, report_count=0,
                                  disabled=False, frozen=False,
                                  replication_status='not-capable', **versions)
            try:
                svc.create()
            except Exception:
                # Another start of the same service won the insert.
                svc = objects.Service.get_by_args(ctx, self.host, self.binary)
        db.service_heartbeat(ctx, svc.id, {})
        db_online.service_set_release(ctx, svc.id, rpc.CURRENT_RELEASE)
        self.service_ref = svc
        self.manager.service = svc
        return svc

    def heartbeat(self):
        ctx = bs_context.get_admin_context()
        try:
            if not db.service_heartbeat(ctx, self.service_ref.id, {}):
                LOG.warning('Service %s@%s row was removed; registering again',
                            self.binary, self.host)
                self._register(ctx)
        except Exception:
            LOG.exception('Heartbeat of %s on %s failed', self.binary, self.host)

    # -- lifecycle ----------------------------------------------------------

    def start(self):
        ctx = bs_context.get_admin_context()
        objects.register_all()
        self._register(ctx)
        self.manager.init_host(ctx)
        rpc.init()
        target = messaging.Target(topic=self.topic, server=self.server)
        self.rpcserver = rpc.get_server(target, [self.manager])
        self.rpcserver.start()
        if self.cluster:
            # The cluster's queue: messages for any member, taken by whichever is free.
            target = messaging.Target(topic=self.topic, server=self.cluster)
            self.cluster_rpcserver = rpc.get_server(target, [self.manager])
            self.cluster_rpcserver.start()
        # The heartbeat has a thread of its own: a periodic task that blocks (a
        # capability report cast while the broker is down) must not make this
        # service look down to its peers and the scheduler.
        self._heartbeat_stop.clear()
        self._heartbeat_thread = threading.Thread(target=self._heartbeat_loop, daemon=True,
                                                  name='heartbeat-%s' % self.binary)
        self._heartbeat_thread.start()
        callables = []
        for fn, spacing in self.manager.periodic_tasks():
            callables.append((self._periodic_fn(fn, spacing), None, None))
        if callables:
            self._periodic = periodics.PeriodicWorker(callables)
            self._periodic_thread = threading.Thread(target=self._periodic.start,
                                                     daemon=True,
                                                     name='periodic-%s' % self.binary)
            self._periodic_thread.start()
        self.manager.init_host_with_rpc(ctx)
        LOG.info('Started %s on %s (topic %s, server %s%s)', self.binary, self.host,
                 self.topic, self.server,
                 ', cluster %s' % self.cluster if self.cluster else '')

    def _heartbeat_loop(self):
        while not self._heartbeat_stop.wait(self.report_interval):
            self.heartbeat()

    @staticmethod
    def _periodic_fn(fn, spacing):
        @periodics.periodic(spacing=spacing, run_immediately=False)
        def task():
            try:
                fn()
            except Exception:
                LOG.exception('Periodic task %s failed', getattr(fn, '__name__', fn))
        return task

    def stop(self):
        # Long work in RPC handlers (a backup) stops early when the manager is told
        # first; the RPC server's wait() below waits for the handlers to return.
        stopping_fn = getattr(self.manager, 'prepare_stop', None)
        if stopping_fn:
            stopping_fn()
        for server in (self.cluster_rpcserver, self.rpcserver):
            if server is None:
                continue
            try:
                rpc.stop_server(server)
            except Exception:
                LOG.exception('Stopping an RPC server of %s failed', self.binary)
        self._heartbeat_stop.set()
        if self._periodic is not None:
            self._periodic.stop()
            self._periodic.wait()
        stop_fn = getattr(self.manager, 'stop', None)
        if stop_fn:
            stop_fn()

    def reset(self):
        self.manager.reset()


class HeapTrimmer:
    """WSGI wrapper returning freed heap to the OS after large responses.

    Rendering a 1,000-volume listing allocates megabytes that glibc keeps
    after they are freed; with many server threads the API's RSS would
    settle far above what it uses. A background thread calls malloc_trim
    shortly after a large response, off the request path.
    """

    def __init__(self, app, threshold=256 * 1024, delay=0.5):
        self.app = app
        self.threshold = threshold
        self.delay = delay
        self._pending = threading.Event()
        try:
            self._trim = ctypes.CDLL('libc.so.6').malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to do
            self._trim = None
            return
        threading.Thread(target=self._run, daemon=True, name='heap-trimmer').start()

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        if self._trim is not None and isinstance(body, list) and \
                sum(len(chunk) for chunk in body) >= self.threshold:
            self._pending.set()
        return body

    def _run(self):
        while True:
            self._pending.wait()
            time.sleep(self.delay)
            self._pending.clear()
            self._trim(0)


class WSGIService:
    """The API: a WSGI app served by cheroot's threaded server."""

    def __init__(self, app, host, port, threads):
        from cheroot import wsgi
        # cheroot's default listen backlog is 5: a burst of clients overflows it and
        # some connections are reset. Let the kernel's limit (somaxconn) decide.
        self.server = wsgi.Server((host, port), HeapTrimmer(app), numthreads=threads,
                                  server_name='blockstore-api',
                                  request_queue_size=socket.SOMAXCONN)
        self._thread = None

    @property
    def port(self):
        return self.server.bind_addr[1]

    def start(self):
        self.server.prepare()
        self._thread = threading.Thread(target=self.server.serve, daemon=True,
                                        name='wsgi-server')
        self._thread.start()
        LOG.info('API listening on http://%s:%s', *self.server.bind_addr[:2])

    def stop(self):
        self.server.stop()
        if self._thread:
            self._thread.join(10)

    def reset(self):
        """SIGHUP: forget version pins and re-read the policy file."""
        from blockstore.common import policy
        rpc.reset_pins()
        policy.reset()


def run(services):
    """Start services, wait for SIGTERM/SIGINT, stop them. SIGHUP resets pins."""
    stop = threading.Event()

    def _stop(signum, _frame):
        LOG.info('Caught signal %s, stopping', signum)
        stop.set()

    def _hup(_signum, _frame):
        for s in services:
            s.reset()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _hup)
    started = []
    try:
        if any(isinstance(s, Service) for s in services):
            # The lock service (an API alone takes no locks: it does not depend on it).
            coordination.start()
        for s in services:
            s.start()
            started.append(s)
        while not stop.wait(1):
            pass
    finally:
        for s in reversed(started):
            s.stop()
        rpc.cleanup()
        coordination.stop()
