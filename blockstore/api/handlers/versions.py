"""Version discovery: served without a token."""

from blockstore.api import common
from blockstore.api.views import versions as views


def root(req):
    """GET / -> 300 Multiple Choices with every API version."""
    return common.json_response(views.versions(req), status=300)


def v3(req):
    """GET /v3 and /v3/ -> 200 with the v3 version document."""
    return common.json_response(views.version(req))
