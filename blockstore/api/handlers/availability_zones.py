"""Availability zones (os-availability-zone): the zones of volume services, for everyone."""

from blockstore.api import common
from blockstore.api.views import services as views
from blockstore.ops import services as ops


def index(req):
    """GET /os-availability-zone"""
    ctx = common.authorize(req, 'volume_extension:availability_zone_list')
    return common.json_response(views.availability_zones(ops.availability_zones(ctx)))
