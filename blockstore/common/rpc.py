"""oslo.messaging plumbing: transport, servers, clients, and version pins.

Clients cap their RPC version at the lowest version recorded by the running
services of the binary they talk to, and backport objects to the lowest
object history version, so an upgraded API can talk to old volume services.
The pins are read from the services table once and cached; ``reset_pins()``
(SIGHUP) forgets them.
"""

import importlib
import threading
import time

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_messaging.rpc import dispatcher

import blockstore
from blockstore.common import context as bs_context
from blockstore.objects import base as obj_base

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

TRANSPORT = None
NOTIFIER = None
_lock = threading.Lock()

# The release this code is (what a service records in services.release_name).
CURRENT_RELEASE = '.'.join(blockstore.__version__.split('.')[:2])

# Known releases and the versions they run, for the operator's explicit pin
# ([DEFAULT] upgrade_level_release). An entry is what that release's commit declares
# (its rpcapi RPC_API_VERSIONs and newest OBJ_VERSIONS entry); for the release a rolling
# upgrade starts from (tools/upgrade/previous-release) tests/unit/test_release_pins.py
# reads them from that commit and compares.
RELEASES = {
    '0.1': {'rpc': {'blockstore-scheduler': '1.2', 'blockstore-volume': '1.8',
                    'blockstore-backup': '1.0'},
            'objects': '1.3'},
}


# RabbitMQ prefetch: with the library's default (0, unlimited) the broker pushes
# a consumer every queued message, and a server that stops drops those it had not
# yet taken: a SIGTERM during a rolling upgrade lost about one cast in ten sent in
# that second (1 with a prefetch of 1). An operator's own setting still wins.
RABBIT_PREFETCH = 1


def set_messaging_defaults(conf=CONF):
    """blockstore's defaults of oslo.messaging options (registered here to set them)."""
    from oslo_messaging import opts as messaging_opts
    for group, opts in messaging_opts.list_opts():
        if group == 'oslo_messaging_rabbit':
            conf.register_opts(opts, group=group)
    conf.set_default('rabbit_qos_prefetch_count', RABBIT_PREFETCH,
                     group='oslo_messaging_rabbit')


def init(conf=CONF):
    """Create the process's transport (once). ``fake://`` is in-process."""
    global TRANSPORT
    with _lock:
        if TRANSPORT is None:
            set_messaging_defaults(conf)
            TRANSPORT = messaging.get_rpc_transport(conf)
    return TRANSPORT


def cleanup():
    global TRANSPORT
    with _lock:
        if TRANSPORT is not None:
            TRANSPORT.cleanup()
            TRANSPORT = None
    reset_pins()


class RequestContextSerializer(messaging.Serializer):
    def __init__(self, base=None):
        self._base = base or obj_base.BlockstoreObjectSerializer()

    def serialize_entity(self, ctxt, entity):
        return self._base.serialize_entity(ctxt, entity)

    def deserialize_entity(self, ctxt, entity):
        return self._base.deserialize_entity(ctxt, entity)

    def serialize_context(self, ctxt):
        return ctxt.to_dict()

    def deserialize_context(self, ctxt):
        return bs_context.RequestContext.from_dict(ctxt)


def get_server(target, endpoints):
    init()
    return messaging.get_rpc_server(
        TRANSPORT, target, endpoints, executor='threading',
        serializer=RequestContextSerializer(),
        access_policy=dispatcher.DefaultRPCAccessPolicy)


def stop_server(server, timeout=10):
    """Stop an RPC server without losing what the broker already sent it.

    oslo.messaging's RabbitMQ listener keeps its consumers registered until its
    connection closes, after polling stopped; whatever the broker pushes meanwhile is
    dropped (a cast never done, a call never answered: measured in
    tests/functional/test_rpc_stop.py). So first cancel the consumers, from the
    listener's own I/O thread (kombu is not thread-safe): the broker stops delivering
    and what it delivered before is polled and handled as usual; then stop and wait.
    Other drivers (fake:// in tests) are simply stopped.
    """
    listener = getattr(getattr(server, 'listener', None), '_poll_style_listener', None)
    handler = getattr(listener, '_message_operations_handler', None)
    conn = getattr(listener, 'conn', None)
    if handler is not None and conn is not None:
        done = threading.Event()

        def cancel():
            try:
                for consumer, tag in list(getattr(conn, '_consumers', {}).items()):
                    consumer.cancel(tag)
            except Exception:
                LOG.exception('Cancelling the RPC consumers failed; stopping anyway')
            finally:
                done.set()
        handler.do(cancel)
        if not done.wait(timeout):
            LOG.warning('RPC consumers not cancelled in %ss; stopping anyway', timeout)
        else:
            # Deliveries that crossed the cancel are polled and dispatched first.
            time.sleep(0.2)
    server.stop()
    server.wait()


# ---------------------------------------------------------------------------
# Version pins
# ---------------------------------------------------------------------------

_pins = {}


def reset_pins():
    """Forget cached version pins; the next call re-reads the services table."""
    with _lock:
        _pins.clear()
    LOG.info('RPC and object version pins reset')


def get_pins(binary, current_rpc):
    """(rpc_version_cap, object_history_version) for clients of ``binary``."""
    with _lock:
        if binary in _pins:
            return _pins[binary]
    release = CONF.upgrade_level_release
    if release:
        rel = RELEASES[release]
        pins = (rel['rpc'].get(binary, current_rpc), rel['objects'])
        source = 'release %s' % release
    else:
        from blockstore.db import api as db
        rpc_v, obj_v = db.service_min_versions(bs_context.get_admin_context(), binary)
        pins = (rpc_v or current_rpc, obj_v or obj_base.OBJ_VERSIONS.get_current())
        source = 'the services table'
    with _lock:
        _pins[binary] = pins
    # Operators (and the upgrade drill) read which versions a process sends.
    LOG.info('RPC pins for %s: version cap %s (this code %s), objects %s (from %s)',
             binary, pins[0], current_rpc, pins[1], source)
    return pins


class RPCAPI:
    """Base of every rpcapi client: version-capped, object-backporting."""
    TOPIC = None
    BINARY = None
    RPC_API_VERSION = None

    def __init__(self):
        self._clients = {}

    def _client(self):
        init()
        rpc_cap, obj_version = get_pins(self.BINARY, self.RPC_API_VERSION)
        key = (rpc_cap, obj_version)
        client = self._clients.get(key)
        if client is None:
            target = messaging.Target(topic=self.TOPIC, version=self.RPC_API_VERSION)
            serializer = RequestContextSerializer(
                obj_base.BlockstoreObjectSerializer(obj_version))
            client = messaging.get_rpc_client(TRANSPORT, target, version_cap=rpc_cap,
                                              serializer=serializer)
            self._clients = {key: client}
        return client

    @property
    def version_cap(self):
        return get_pins(self.BINARY, self.RPC_API_VERSION)[0]

    def can_send_version(self, version):
        return self._client().can_send_version(version)

    def prepare(self, **kwargs):
        return self._client().prepare(**kwargs)


class LazyClient:
    """A manager's RPC client, made on first use (the transport is set up by then) and
    replaceable by assignment (tests hand in fakes).

    ``LazyClient('blockstore.volume.rpcapi', 'VolumeAPI')``: the module is imported
    when the client is first needed, which keeps managers free of import cycles.
    """

    def __init__(self, module, cls):
        self.module, self.cls = module, cls

    def __set_name__(self, owner, name):
        self.attr = '_' + name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        client = obj.__dict__.get(self.attr)
        if client is None:
            client = getattr(importlib.import_module(self.module), self.cls)()
            obj.__dict__[self.attr] = client
        return client

    def __set__(self, obj, value):
        obj.__dict__[self.attr] = value
