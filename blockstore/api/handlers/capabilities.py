"""GET /capabilities/{hostname} (admin): what a volume back end reports about itself.

Cinder asks the volume service over RPC; blockstore answers from the
capabilities the back end last reported to the scheduler (the same data as
get_pools, see ``ops.api.API.capabilities``), so no new RPC is needed. Drivers do not describe their tunable
properties yet: ``properties`` is ``{}``.
"""

from blockstore.api import common

POLICY = 'volume_extension:capabilities'
_FIELDS = ('vendor_name', 'volume_backend_name', 'pool_name', 'driver_version',
           'storage_protocol', 'display_name', 'description', 'visibility')


def show(req):
    """GET /capabilities/{hostname}"""
    ctx = common.require_admin(req, POLICY)
    name = req.urlvars['hostname']
    caps = common.ops_api(req).capabilities(ctx, name)
    body = {'namespace': 'OS::Storage::Capabilities::%s' % name}
    body.update((f, caps.get(f)) for f in _FIELDS)
    body['replication_targets'] = caps.get('replication_targets') or []
    body['properties'] = caps.get('properties') or {}
    return common.json_response(body)
