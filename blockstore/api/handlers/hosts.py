"""Hosts (os-hosts): services by host, and what a volume backend holds (admin only)."""

from blockstore.api import common
from blockstore.api.views import services as views
from blockstore.common import exception
from blockstore.ops import services as ops

POLICY = 'volume_extension:hosts'


def index(req):
    """GET /os-hosts[?zone=]"""
    ctx = common.require_admin(req, POLICY)
    return common.json_response(views.hosts(ops.list_hosts(ctx, req.GET.get('zone'))))


def show(req):
    """GET /os-hosts/{host}: volumes and snapshots on a volume backend, per project."""
    try:
        ctx = common.authorize(req, POLICY)
    except exception.PolicyNotAuthorized:
        raise exception.NotAuthorized('Describe-resource is admin only functionality')
    host = req.urlvars['host']
    try:
        total, per_project = ops.host_usage(ctx, host)
    except exception.HostNotFound:
        raise exception.NotFound('Host not found')
    return common.json_response(views.host_show(host, total, per_project))
