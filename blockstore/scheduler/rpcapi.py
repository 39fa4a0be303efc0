"""Client side of the scheduler RPC API.

History:
  1.0 - create_volume, update_service_capabilities
  1.1 - get_pools (a call: the pools the scheduler knows, filtered)
  1.2 - find_backend_pool (a call: may a volume stay on its backend)
"""

from oslo_config import cfg

from blockstore.common import exception
from blockstore.common import rpc

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF


class SchedulerAPI(rpc.RPCAPI):
    RPC_API_VERSION = '1.2'
    BINARY = 'blockstore-scheduler'

    @property
    def TOPIC(self):
        return CONF.scheduler_topic

    def create_volume(self, ctxt, volume, request_spec):
        cctxt = self.prepare(version='1.0')
        cctxt.cast(ctxt, 'create_volume', volume=volume, request_spec=request_spec)

    def update_service_capabilities(self, ctxt, service_name, host, capabilities,
                                    cluster_name=None, timestamp=None):
        cctxt = self.prepare(fanout=True, version='1.0')
        cctxt.cast(ctxt, 'update_service_capabilities', service_name=service_name,
                   host=host, capabilities=capabilities, cluster_name=cluster_name,
                   timestamp=timestamp)

    def get_pools(self, ctxt, filters=None, timeout=None):
        """[{'name': 'host@backend#pool', 'capabilities': {...}}] (needs schedulers at 1.1).

        ``timeout``: seconds to wait for the answer (default rpc_response_timeout).
        """
        if not self.can_send_version('1.1'):
            raise exception.ServiceTooOld(reason='the scheduler cannot list pools before '
                                                 'RPC version 1.1; upgrade it')
        cctxt = self.prepare(version='1.1', timeout=timeout)
        return cctxt.call(ctxt, 'get_pools', filters=filters)

    # -- types, qos, actions, transfers
    def find_backend_pool(self, ctxt, host, request_spec):
        """The pool of ``host`` that passes every filter for ``request_spec``, or None.

        Retype and manage ask this before keeping a volume where it is (a call, RPC 1.2).
        """
        if not self.can_send_version('1.2'):
            raise exception.ServiceTooOld(reason='the scheduler cannot check a backend '
                                                 'before RPC version 1.2; upgrade it')
        cctxt = self.prepare(version='1.2', timeout=60)
        return cctxt.call(ctxt, 'find_backend_pool', host=host, request_spec=request_spec)
