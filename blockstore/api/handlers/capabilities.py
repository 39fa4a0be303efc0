"""GET /capabilities/{hostname} (admin): what a volume back end reports about itself.

Cinder asks the volume service over RPC; blockstore answers from the
capabilities the back end last reported to the scheduler (the same data as
get_pools), so no new RPC is needed. Drivers do not describe their tunable
properties yet: ``properties`` is ``{}``.
"""

from blockstore.api import common
from blockstore.common import exception
from blockstore.common import utils
from blockstore.db import services as services_db
from blockstore.ops import services as ops

POLICY = 'volume_extension:capabilities'
_FIELDS = ('vendor_name', 'volume_backend_name', 'pool_name', 'driver_version',
           'storage_protocol', 'display_name', 'description', 'visibility')


def show(req):
    """GET /capabilities/{hostname}"""
    ctx = common.require_admin(req, POLICY)
    name = req.urlvars['hostname']
    found = (services_db.service_get_all(ctx, host=utils.backend_of(name),
                                         binary=ops.VOLUME_BINARY)
             or services_db.service_get_all(ctx, cluster_name=name, binary=ops.VOLUME_BINARY))
    if not found:
        raise exception.NotFound("Can't find service: %s" % name)
    backends = {utils.backend_of(s.host) for s in found}
    pools = [p for p in ops.get_pools(ctx, common.volume_api(req).scheduler_rpcapi)
             if utils.backend_of(p.get('name')) in backends]
    if not pools:
        raise ops.ServiceUnavailable(what='The capabilities of %s' % name,
                                     reason='its volume service has reported none to the '
                                            'scheduler (is it up?)')
    caps = pools[0].get('capabilities') or {}
    body = {'namespace': 'OS::Storage::Capabilities::%s' % name}
    body.update((f, caps.get(f)) for f in _FIELDS)
    body['replication_targets'] = caps.get('replication_targets') or []
    body['properties'] = caps.get('properties') or {}
    return common.json_response(body)
