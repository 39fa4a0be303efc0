"""Scheduler manager: picks a pool for each new volume and hands it over.

Placement is under one lock per scheduler process: filter, weigh, pick and
consume capacity happen together, so concurrent requests see each other's
choices before the next capability report arrives.
"""

import threading

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import context as bs_context
from blockstore.common import exception
from blockstore.common import messages
from blockstore.common import service
from blockstore.common import utils
from blockstore.db import api as db
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states
from blockstore.scheduler import filters as filter_mod
from blockstore.scheduler import host_state
from blockstore.scheduler import pool_filters
from blockstore.scheduler import weighers as weigher_mod
from blockstore.volume import rpcapi as volume_rpcapi

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class SchedulerManager(service.Manager):
    RPC_API_VERSION = '1.2'

    def __init__(self, host, service_name='blockstore-scheduler'):
        super().__init__(host, service_name)
        self.host_manager = host_state.HostManager()
        self.volume_rpcapi = volume_rpcapi.VolumeAPI()
        self.filters = [filter_mod.FILTERS[name]() for name in CONF.scheduler_default_filters]
        self.weighers = [weigher_mod.WEIGHERS[name]() for name in CONF.scheduler_default_weighers]
        self._lock = threading.Lock()
        self._reports_seen = threading.Event()

    def init_host_with_rpc(self, ctx):
        # A fresh scheduler knows nothing: ask every volume service to report now.
        self.volume_rpcapi.publish_service_capabilities(ctx)
        threading.Thread(target=self._sweep_unplaced, args=(ctx,), daemon=True,
                         name='scheduler-sweep').start()

    # -- RPC endpoints ------------------------------------------------------

    def update_service_capabilities(self, context, service_name=None, host=None,
                                    capabilities=None, cluster_name=None, timestamp=None):
        self.host_manager.update_service_capabilities(host, capabilities or {}, cluster_name,
                                                      timestamp)
        self._reports_seen.set()

    def create_volume(self, context, volume, request_spec):
        try:
            host = self._place(context, request_spec)
        except exception.NoValidBackend as e:
            LOG.warning('Volume %s: %s', volume.id, e.msg)
            self._fail(context, volume, e.msg, request_spec)
            return
        except Exception:
            LOG.exception('Scheduling volume %s failed', volume.id)
            self._fail(context, volume, 'Scheduling failed', request_spec)
            return
        # Record the placement (not a status change) only if nobody placed it yet:
        # a create may arrive twice (redelivery, or the startup sweep below).
        # A clustered backend: the volume also records its cluster (its queue).
        cluster = self.host_manager.cluster_of(host)
        placed = db.conditional_update(
            context, 'volume', volume.id,
            {'host': host, 'cluster_name': cluster, 'scheduled_at': utcnow()},
            expected={'status': states.CREATING, 'host': None})
        if not placed:
            LOG.info('Volume %s was placed or deleted meanwhile; not handing it over',
                     volume.id)
            return
        volume.host = host
        volume.cluster_name = cluster
        volume.obj_reset_changes(['host', 'cluster_name'])
        self.volume_rpcapi.create_volume(context, volume, request_spec)

    def _sweep_unplaced(self, ctx):
        """Place creates whose scheduling was lost (a scheduler died holding them)."""
        if not self._reports_seen.wait(CONF.periodic_interval * 2):
            return
        for worker in objects.WorkerList.get_all(ctx, resource_type='volume',
                                                 operation='create', service_id=None):
            try:
                volume = objects.Volume.get_by_id(ctx, worker.resource_id)
            except exception.VolumeNotFound:
                continue
            if volume.status == states.CREATING and not volume.host:
                LOG.info('Scheduling volume %s whose placement was lost', volume.id)
                self.create_volume(ctx, volume, worker.args.get('request_spec') or {})

    # -- placement ----------------------------------------------------------

    def _candidates(self, context, spec):
        pools = self.host_manager.get_pools(context)
        if not pools and not self._reports_seen.is_set():
            # Just started: give volume services a moment to answer our request.
            self._reports_seen.wait(5)
            pools = self.host_manager.get_pools(context)
        source = spec.get('source_host')
        if source:
            pools = [p for p in pools if p.serves(utils.backend_of(source))]
        return pools

    def _place(self, context, spec):
        with self._lock:
            pools = self._candidates(context, spec)
            if not pools:
                raise exception.NoValidBackend(reason='No volume service is up and reporting.')
            if spec.get('image_id'):
                # Only backends whose driver declares ImageOps can copy an image in.
                pools = [p for p in pools
                         if 'ImageOps' in (p.capabilities.get('declared_interfaces') or ())]
                if not pools:
                    raise exception.NoValidBackend(
                        reason='No backend can copy images to volumes (ImageOps).')
            for f in self.filters:
                pools = [p for p in pools if f.passes(p, spec)]
                if not pools:
                    raise exception.NoValidBackend(
                        reason='No pool passed %s for a %sGB volume.' % (
                            type(f).__name__, spec.get('size')))
            best = weigher_mod.order(pools, spec, self.weighers)[0]
            best.consume(spec.get('size') or 0)
            return best.host

    def _fail(self, context, volume, reason, request_spec=None):
        states.transition(context, 'volume', volume.id, 'create_failed')
        backup_id = (request_spec or {}).get('backup_id')
        if backup_id:
            # A volume from a backup (3.47, restore to a new volume) claimed the backup
            # ('restore'); nothing will restore into a volume that was never placed.
            states.transition(context, 'backup', backup_id, 'restore_done')
        db.worker_destroy(context, 'volume', volume.id)
        messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                        volume.id, 'SCHEDULE_ALLOCATE_VOLUME', reason)

    def get_pools(self, context, filters=None):
        """The pools of up, enabled backends that match ``filters`` (RPC 1.1)."""
        pools = pool_filters.apply(self.host_manager.get_pools(context), filters)
        return [p.as_dict() for p in pools]

    # -- types, qos, actions, transfers
    def find_backend_pool(self, context, host=None, request_spec=None):
        """The pool of ``host`` ('host@backend[#pool]') passing every filter, or None (1.2)."""
        spec = dict(request_spec or {}, source_host=host)
        wanted_pool = (host or '').partition('#')[2] or None
        with self._lock:
            pools = [p for p in self._candidates(context, spec)
                     if wanted_pool is None or p.pool_name == wanted_pool]
            for f in self.filters:
                pools = [p for p in pools if f.passes(p, spec)]
            return pools[0].host if pools else None
