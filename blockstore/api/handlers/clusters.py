"""Clusters (3.7): list, detail, show, enable/disable (admin only).

A cluster is derived from the services that share a ``cluster_name``.
"""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import services as schemas
from blockstore.api.views import clusters as views
from blockstore.common import exception
from blockstore.ops import services as ops

POLICY = 'clusters:%s'


def _int(key, value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise exception.InvalidInput(reason='%s must be an integer: %s' % (key, value))


_CONVERT = {
    'is_up': lambda k, v: common.parse_bool(v, k),
    'disabled': lambda k, v: common.parse_bool(v, k),
    'frozen': lambda k, v: common.parse_bool(v, k),
    'num_hosts': _int,
    'num_down_hosts': _int,
}


def _list(req, detail):
    ctx = common.require_admin(req, POLICY % 'get_all')
    version = common.version(req)
    allowed = set(ops.CLUSTER_FILTERS)
    if version >= mv.REPLICATION_CLUSTER:
        allowed.update(ops.CLUSTER_REPLICATION_FILTERS)
    filters = common.query_params(req)
    invalid = sorted(set(filters) - allowed)
    if invalid:
        raise exception.InvalidInput(reason='Invalid filter keys: %s' % ', '.join(invalid))
    filters = {k: _CONVERT.get(k, lambda k, v: v)(k, v) for k, v in filters.items()}
    return common.json_response(views.index(version, ops.list_clusters(ctx, filters), detail))


@mv.version_range(mv.CLUSTERS)
def index(req):
    """GET /clusters"""
    return _list(req, detail=False)


@mv.version_range(mv.CLUSTERS)
def detail(req):
    """GET /clusters/detail"""
    return _list(req, detail=True)


@mv.version_range(mv.CLUSTERS)
def show(req):
    """GET /clusters/{name}[?binary=]"""
    ctx = common.require_admin(req, POLICY % 'get')
    binary = req.GET.get('binary') or ops.VOLUME_BINARY
    cluster = ops.get_cluster(ctx, req.urlvars['name'], binary)
    return common.json_response(views.show(common.version(req), cluster))


def _set_disabled(req, ctx, disabled):
    version = common.version(req)
    schema = schemas.disable_cluster if disabled else schemas.enable_cluster
    body = schema.validate(common.json_body(req), version)
    reason = body.get('disabled_reason') if disabled else None
    if reason:
        reason = reason.strip()
        if not reason:
            raise exception.InvalidInput(reason='Disabled reason must not be blank.')
    cluster = ops.set_cluster_disabled(ctx, body['name'],
                                       body.get('binary') or ops.VOLUME_BINARY, disabled,
                                       reason or None)
    return common.json_response(views.update(version, cluster, reason or None))


ACTIONS = actions.Table({
    'enable': actions.Action(lambda req, ctx: _set_disabled(req, ctx, False)),
    'disable': actions.Action(lambda req, ctx: _set_disabled(req, ctx, True)),
}, unknown=lambda name: exception.NotFound('Unknown action'))


@mv.version_range(mv.CLUSTERS)
def update(req):
    """PUT /clusters/enable, PUT /clusters/disable"""
    ctx = common.require_admin(req, POLICY % 'update')
    return actions.dispatch(req, ACTIONS, req.urlvars['name'], ctx)
