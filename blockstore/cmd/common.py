"""Bootstrap shared by every command: config, logging, database, messaging."""

import ctypes
import os
import signal
import sys

from oslo_config import cfg
from oslo_log import log as logging
from oslo_messaging import opts as messaging_opts

from blockstore.common import conf as bs_conf
from blockstore.db import api as db
from blockstore import objects

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def _register_messaging_opts(conf):
    for group, opts in messaging_opts.list_opts():
        if group is None:
            conf.register_opts(opts)


def _limit_malloc_arenas(arenas=2):
    """Cap glibc's per-thread malloc arenas before worker threads start.

    Every thread that allocates otherwise gets an arena of its own, and the
    API's thread pool would keep tens of MiB of freed memory resident.
    """
    try:
        libc = ctypes.CDLL('libc.so.6')
        libc.mallopt(-8, arenas)   # M_ARENA_MAX
    except (OSError, AttributeError):  # not glibc
        pass


def setup(argv=None, embedded=False, prog=None, cli_tool=False):
    """Parse config; in embedded mode default to SQLite, fake:// and a file backend."""
    _limit_malloc_arenas()
    # SIGHUP's default action ends the process; until service.run() installs
    # the pin-reset handler, an early SIGHUP (a config-management reload
    # racing the start) is ignored rather than fatal.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    argv = sys.argv[1:] if argv is None else argv
    bs_conf.register_opts(CONF)
    _register_messaging_opts(CONF)
    if embedded:
        CONF.set_default('embedded', True)
        CONF.set_default('transport_url', 'fake://')
    bs_conf.setup(argv, CONF, log_name=prog or 'blockstore', cli_tool=cli_tool)
    if embedded:
        os.makedirs(CONF.state_path, exist_ok=True)
        if not CONF.database.connection:
            CONF.set_default('connection', 'sqlite:///%s' % os.path.join(
                CONF.state_path, 'blockstore.sqlite'), group='database')
        if not CONF.enabled_backends:
            CONF.set_default('enabled_backends', ['file'])
            backend = bs_conf.register_backend_opts('file', CONF)
            CONF.set_default('volume_backend_name', 'file', group='file')
            del backend
    if not CONF.database.connection:
        sys.exit('No [database] connection is configured.')
    db.configure(connection=CONF.database.connection)
    objects.register_all()
    return CONF


def backend_sections(conf=CONF):
    """(section, conf group) for every enabled backend, options registered."""
    result = []
    for name in conf.enabled_backends:
        group = bs_conf.register_backend_opts(name, conf)
        if group.volume_backend_name is None:
            conf.set_default('volume_backend_name', name, group=name)
        if group.volume_driver == 'file' and group.file_volumes_dir is None:
            conf.set_default('file_volumes_dir',
                             os.path.join(conf.state_path, 'volumes', name), group=name)
        result.append((name, conf[name]))
    return result


def make_volume_services(conf=CONF):
    """One volume service per enabled backend.

    With ``[DEFAULT] cluster = NAME`` the service of backend B belongs to
    cluster ``NAME@B`` (as Cinder names it) and also serves that queue; a
    driver that cannot be shared by a cluster's nodes stops the command.
    """
    from blockstore.common import coordination
    from blockstore.common import exception
    from blockstore.common import service
    from blockstore.volume import manager
    if conf.cluster and coordination.backend_url(conf).startswith('file://'):
        LOG.warning('Cluster %s uses the lock service %s: only services on this node share '
                    'its locks. Set [coordination] backend_url to a shared one (e.g. '
                    'redis://...) before running members on other nodes.', conf.cluster,
                    coordination.backend_url(conf))
    services = []
    for name, group in backend_sections(conf):
        host = '%s@%s' % (conf.host, name)
        cluster = '%s@%s' % (conf.cluster, name) if conf.cluster else None
        try:
            mgr = manager.VolumeManager(host, group, cluster=cluster)
        except exception.NotClusterable as e:
            sys.exit(e.msg)
        services.append(service.Service('blockstore-volume', host, conf.volume_topic, mgr,
                                        cluster=cluster))
    return services


def make_backup_service(conf=CONF):
    """The backup service of this node (server: ``conf.host``, topic ``backup_topic``).

    ``cluster`` names volume services' clusters only (as Cinder's): backup
    services are placed one by one, by zone and load, so they join none.
    """
    from blockstore.backup import manager
    from blockstore.common import service
    mgr = manager.BackupManager(conf.host, conf=conf)
    return service.Service('blockstore-backup', conf.host, conf.backup_topic, mgr)


def make_scheduler_service(conf=CONF):
    from blockstore.common import service
    from blockstore.scheduler import manager
    mgr = manager.SchedulerManager(conf.host)
    return service.Service('blockstore-scheduler', conf.host, conf.scheduler_topic, mgr)


def make_api_service(conf=CONF):
    from blockstore.api import app as api_app
    from blockstore.common import service
    return service.WSGIService(api_app.make_app(conf), conf.osapi_volume_listen,
                               conf.osapi_volume_listen_port, conf.osapi_volume_threads)
