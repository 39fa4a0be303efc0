"""Volume encryption metadata: GET /volumes/{volume_id}/encryption[/{key}] (Cinder's
os-volume-encryption-metadata), what a compute host reads to attach an encrypted volume."""

from blockstore.api import common
from blockstore.common import exception
from blockstore.volume import volume_types

RULE = 'volume_extension:volume_encryption_metadata'


def _metadata(req):
    volume = common.volume_api(req).get(common.context(req), req.urlvars['volume_id'])
    common.authorize(req, RULE, volume)
    return volume_types.volume_encryption_metadata(common.context(req), volume)


def index(req):
    """GET /volumes/{volume_id}/encryption"""
    return common.json_response(_metadata(req))


def show(req):
    """GET /volumes/{volume_id}/encryption/{key}: the bare value, as Cinder answers."""
    found = _metadata(req)
    key = req.urlvars['key']
    if key not in found:
        raise exception.NotFound('Volume encryption metadata has no key %s.' % key)
    return common.json_response(found[key])
