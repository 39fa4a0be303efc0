"""Client side of the volume RPC API.

Volume services listen on topic ``volume_topic`` with server ``host@backend``;
``volume.host`` is ``host@backend#pool`` and the pool part is stripped here.

History:
  1.0 - create_volume, delete_volume, extend_volume, create_snapshot,
        delete_snapshot, publish_service_capabilities
"""

from oslo_config import cfg

from blockstore.common import rpc
from blockstore.common import utils

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF


class VolumeAPI(rpc.RPCAPI):
    RPC_API_VERSION = '1.0'
    BINARY = 'blockstore-volume'

    @property
    def TOPIC(self):
        return CONF.volume_topic

    def _prepare(self, host, version='1.0', **kwargs):
        return self.prepare(server=utils.backend_of(host), version=version, **kwargs)

    def create_volume(self, ctxt, volume, request_spec):
        self._prepare(volume.host).cast(ctxt, 'create_volume', volume=volume,
                                        request_spec=request_spec)

    def delete_volume(self, ctxt, volume):
        self._prepare(volume.host).cast(ctxt, 'delete_volume', volume=volume)

    def extend_volume(self, ctxt, volume, new_size):
        self._prepare(volume.host).cast(ctxt, 'extend_volume', volume=volume,
                                        new_size=new_size)

    def create_snapshot(self, ctxt, volume, snapshot):
        self._prepare(volume.host).cast(ctxt, 'create_snapshot', snapshot=snapshot)

    def delete_snapshot(self, ctxt, volume, snapshot):
        self._prepare(volume.host).cast(ctxt, 'delete_snapshot', snapshot=snapshot)

    def publish_service_capabilities(self, ctxt):
        self.prepare(fanout=True, version='1.0').cast(ctxt, 'publish_service_capabilities')
