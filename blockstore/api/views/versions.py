"""Version discovery documents (Cinder's format, read by keystoneauth)."""

import re

from blockstore.api import microversion
from blockstore.api.views import links

_DESCRIBEDBY = {'rel': 'describedby', 'type': 'text/html',
                'href': 'https://docs.openstack.org/'}


def _version(root):
    base = re.sub(r'/v[1-9]+/?$', '', root)
    return {
        'id': 'v3.0',
        'status': 'CURRENT',
        'version': str(microversion.MAX),
        'min_version': str(microversion.MIN),
        'updated': microversion.UPDATED,
        'links': [dict(_DESCRIBEDBY), {'rel': 'self', 'href': base + '/v3/'}],
        'media-types': [{'base': 'application/json',
                         'type': 'application/vnd.openstack.volume+json;version=3'}],
    }


def versions(req):
    """``GET /``: every version (there is one)."""
    return {'versions': [_version(links.root_url(req))]}


def version(req):
    """``GET /v3``: Cinder answers with the ``versions`` list; ``version`` is the same
    entry as a single object (the form some clients read first)."""
    entry = _version(links.root_url(req))
    return {'versions': [entry], 'version': entry}
