"""Workers cleanup (3.24): redo or fail the work that failed services left (admin)."""

from oslo_utils import uuidutils

from blockstore.api import common
from blockstore.api.schemas import services as schemas
from blockstore.api.views import pools as views
from blockstore.api import microversion as mv
from blockstore.common import exception
from blockstore.ops import cleanup as ops
from blockstore.ops import services as services_ops

POLICY = 'workers:cleanup'
ALLOWED = frozenset(('service_id', 'cluster_name', 'host', 'binary', 'is_up', 'disabled',
                     'resource_id', 'resource_type', 'until'))


def _params(ctx, body):
    params = {k: v for k, v in (body or {}).items() if v is not None}
    invalid = sorted(set(params) - ALLOWED)
    if invalid:
        raise exception.InvalidInput(reason='Invalid filter keys: %s' % ', '.join(invalid))
    params.pop('until', None)   # Cinder sets it to now
    if 'binary' in params:
        params['binary'] = services_ops.binary_name(params['binary'])
        if params['binary'] not in (services_ops.VOLUME_BINARY,
                                    services_ops.SCHEDULER_BINARY):
            raise exception.InvalidInput(reason='binary must be empty or set to '
                                                'cinder-volume or cinder-scheduler')
    for key in ('disabled', 'is_up'):
        if key in params:
            params[key] = common.parse_bool(params[key], key)
    if 'service_id' in params:
        params['service_id'] = int(params['service_id'])
    rtype = params.get('resource_type')
    if rtype is not None:
        if rtype.lower() not in ops.CLEANABLE:
            raise exception.InvalidInput(
                reason='Resource type %s not valid, must be %s.' % (
                    rtype.title(), ' or '.join(t.title() for t in ops.CLEANABLE)))
        params['resource_type'] = rtype.lower()
    rid = params.get('resource_id')
    if rid is not None:
        if not uuidutils.is_uuid_like(rid):
            raise exception.InvalidInput(reason='Resource ID must be a UUID, and %s is not.'
                                         % rid)
        if not {'service_id', 'cluster_name', 'host'} & set(params):
            params.update(ops.locate(ctx, rid, params.get('resource_type')))
    return params


@mv.version_range(mv.WORKERS_CLEANUP)
def cleanup(req):
    """POST /workers/cleanup -> 202 {"cleaning": [...], "unavailable": [...]}"""
    ctx = common.require_admin(req, POLICY)
    body = schemas.cleanup.validate(common.json_body(req) or None, common.version(req))
    params = _params(ctx, body)
    params.setdefault('is_up', False)   # by default: the services that are down
    cleaning, unavailable = common.ops_api(req).cleanup(ctx, **params)
    return common.json_response(views.cleanup(cleaning, unavailable), status=202)
