"""Services (os-services): list, enable/disable, freeze/thaw, failover (admin only)."""

from blockstore.api import actions
from blockstore.api import common
from blockstore.api import microversion as mv
from blockstore.api.schemas import services as schemas
from blockstore.api.views import services as views
from blockstore.common import exception
from blockstore.ops import services as ops

GET_ALL_POLICY = 'volume_extension:services:index'
UPDATE_POLICY = 'volume_extension:services:update'



def index(req):
    """GET /os-services[?host=&binary=]"""
    ctx = common.require_admin(req, GET_ALL_POLICY)
    version = common.version(req)
    infos = common.ops_api(req).list_services(
        ctx, host=req.GET.get('host'), binary=req.GET.get('binary'),
        backend_state=version >= mv.BACKEND_STATE_REPORT)
    return common.json_response(views.services(version, infos))


def cluster_host(req, body, cluster_version=None):
    """(cluster, host) of a body: one and only one, as Cinder's get_cluster_host.

    ``cluster_version`` False: only a host is accepted; None: a cluster always
    may be given; a version: from that version on.
    """
    if cluster_version is not False and (cluster_version is None
                                         or common.version(req) >= cluster_version):
        cluster = body.get('cluster')
        msg = 'One and only one of cluster and host must be set.'
    else:
        cluster = None
        msg = 'Host field is missing.'
    host = body.get('host')
    if bool(cluster) == bool(host):
        raise exception.InvalidInput(reason=msg)
    return cluster, host


def _enable_disable(req, body, disabled, with_reason=False):
    ctx = common.context(req)
    schema = schemas.disable_log_reason if with_reason else schemas.enable_and_disable
    body = schema.validate(body, common.version(req))
    host = cluster_host(req, body, False)[1]
    service = body.get('service', '')
    binary = body.get('binary', '')
    reason = None
    if with_reason:
        reason = body.get('disabled_reason')
        if not reason or not 1 <= len(reason.strip()) <= 255:
            raise exception.Invalid('Disabled reason contains invalid characters or is too '
                                    'long')
    ops.set_disabled(ctx, host, binary or service, disabled, reason, set_reason=with_reason)
    extra = {'reason': reason} if (with_reason or not disabled) else {}
    return common.json_response(views.service_update(host, service, binary, disabled, **extra))


def _freeze(req, body, frozen):
    schemas.freeze_and_thaw.validate(body, common.version(req))
    cluster, host = cluster_host(req, body, mv.REPLICATION_CLUSTER)
    ops.set_frozen(common.context(req), host, cluster, frozen)
    return common.empty_response(200)


def _failover(req, body, clustered):
    body = schemas.failover_host.validate(body, common.version(req))
    # failover (3.26) takes a host or a cluster; failover_host a host only.
    cluster, host = cluster_host(req, body, None if clustered else False)
    ops.failover(common.context(req), host, cluster, body.get('backend_id'))


def _log_levels(req, body):
    raise exception.InvalidInput(reason='Reading and setting the log levels of services is '
                                        'not supported.')


def _unknown_action(name):
    return exception.InvalidInput(reason='Unknown action')


# Cinder answers an action newer than the request's version as an unknown one.
ACTIONS = actions.Table({
    'enable': actions.Action(lambda req, body: _enable_disable(req, body, False)),
    'disable': actions.Action(lambda req, body: _enable_disable(req, body, True)),
    'disable-log-reason': actions.Action(
        lambda req, body: _enable_disable(req, body, True, True)),
    'freeze': actions.Action(lambda req, body: _freeze(req, body, True)),
    'thaw': actions.Action(lambda req, body: _freeze(req, body, False)),
    'failover_host': actions.Action(lambda req, body: _failover(req, body, False)),
    'failover': actions.Action(lambda req, body: _failover(req, body, True),
                               since=mv.REPLICATION_CLUSTER),
    'set-log': actions.Action(_log_levels, since=mv.LOG_LEVEL),
    'get-log': actions.Action(_log_levels, since=mv.LOG_LEVEL),
}, unknown=_unknown_action, out_of_range=lambda version, name: _unknown_action(name))


def update(req):
    """PUT /os-services/{action}"""
    common.require_admin(req, UPDATE_POLICY)
    handler = ACTIONS.handler(req, req.urlvars['action'])
    body = common.json_body(req)
    if not isinstance(body, dict):
        raise exception.Invalid('Malformed message body: a JSON object is expected')
    return handler(req, body)
