"""Operator reads and actions that ask the scheduler or volume services over RPC.

Pools, a backend's capabilities, the service list with backend state, and the
cleanup of failed services' work. Handlers reach it as ``common.ops_api(req)``;
it owns the RPC: it is handed the holder of the process's version-pinned
clients (the volume service layer, whose ``scheduler_rpcapi`` and
``volume_rpcapi`` it shares, read at each call) so there is one set of
clients per API process.
"""

from blockstore.common import exception
from blockstore.common import utils
from blockstore.db import services as services_db
from blockstore.ops import cleanup as cleanup_ops
from blockstore.ops import services as services_ops


class API:
    def __init__(self, rpc_clients):
        self._rpc = rpc_clients

    def get_pools(self, ctx, filters=None):
        """The scheduler's pools (503 when it does not answer)."""
        return services_ops.get_pools(ctx, self._rpc.scheduler_rpcapi, filters)

    def list_services(self, ctx, host=None, binary=None, backend_state=False):
        """ServiceInfos; with ``backend_state``, volume services carry the scheduler's."""
        scheduler = self._rpc.scheduler_rpcapi if backend_state else None
        return services_ops.list_services(ctx, host=host, binary=binary,
                                          scheduler_api=scheduler)

    def capabilities(self, ctx, name):
        """What the back end ``name`` (host@backend or cluster) last reported.

        404 for no such volume service; 503 when it has reported nothing to
        the scheduler.
        """
        binary = services_ops.VOLUME_BINARY
        found = (services_db.service_get_all(ctx, host=utils.backend_of(name), binary=binary)
                 or services_db.service_get_all(ctx, cluster_name=name, binary=binary))
        if not found:
            raise exception.NotFound("Can't find service: %s" % name)
        backends = {utils.backend_of(s.host) for s in found}
        pools = [p for p in self.get_pools(ctx)
                 if utils.backend_of(p.get('name')) in backends]
        if not pools:
            raise services_ops.ServiceUnavailable(
                what='The capabilities of %s' % name,
                reason='its volume service has reported none to the scheduler (is it up?)')
        return pools[0].get('capabilities') or {}

    def cleanup(self, ctx, **params):
        """(cleaning, unavailable) of POST /workers/cleanup (see ops.cleanup)."""
        return cleanup_ops.cleanup(ctx, self._rpc.volume_rpcapi, self._rpc.scheduler_rpcapi,
                                   **params)
