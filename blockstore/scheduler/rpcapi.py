"""Client side of the scheduler RPC API.

History:
  1.0 - create_volume, update_service_capabilities
"""

from oslo_config import cfg

from blockstore.common import rpc

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF


class SchedulerAPI(rpc.RPCAPI):
    RPC_API_VERSION = '1.0'
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
