"""Links in responses: self/bookmark links of a resource and ``next`` links of lists.

Hrefs are built like Cinder's: ``<root>/v3[/<project_id>]/<collection>/<id>``
for ``self`` and ``<root>[/<project_id>]/<collection>/<id>`` for ``bookmark``.
The project id appears only when the request URL carried one (3.67 made it
optional). ``<root>`` is the request's host URL and script name, with the
host taken from ``X-Forwarded-Host`` when a proxy set it.
"""

import re
import urllib.parse

from blockstore.api import microversion

URL_PROJECT_KEY = 'blockstore.url_project_id'


def root_url(req):
    url = req.host_url
    forwarded = req.environ.get('HTTP_X_FORWARDED_HOST')
    if forwarded:
        parts = list(urllib.parse.urlsplit(url))
        parts[1] = re.split(r',\s?', forwarded)[-1]
        url = urllib.parse.urlunsplit(parts).rstrip('/')
    return url + req.script_name


class RenderContext:
    """Request-wide values a view needs, computed once per response."""
    __slots__ = ('req', 'ctx', 'version', 'is_admin', 'self_prefix', 'bookmark_prefix',
                 'api_root', 'collection')

    def __init__(self, req, collection):
        self.req = req
        self.ctx = req.environ.get('blockstore.context')
        self.version = microversion.request_version(req)
        self.is_admin = bool(self.ctx is not None and self.ctx.is_admin)
        self.collection = collection
        root = root_url(req)
        project = req.environ.get(URL_PROJECT_KEY)
        project_part = '/' + project if project else ''
        self.api_root = root + '/v3' + project_part
        self.self_prefix = '%s/%s/' % (self.api_root, collection)
        self.bookmark_prefix = '%s%s/%s/' % (root, project_part, collection)


def resource_links(item, rc):
    ident = item.id
    return [{'rel': 'self', 'href': rc.self_prefix + ident},
            {'rel': 'bookmark', 'href': rc.bookmark_prefix + ident}]


def collection_links(rc, items, limit, path, item_count=None):
    """``[{'rel': 'next', 'href': ...}]`` when the page is full, else ``[]``.

    As in Cinder: a next link is given when the number of items returned
    reaches the effective limit (the requested one, capped by
    ``osapi_max_limit``). ``path`` is the collection path, e.g. ``volumes/detail``.
    """
    count = item_count or len(items)
    if not items or limit is None or limit > count:
        return []
    params = [(k, v) for k, v in rc.req.GET.items() if k != 'marker']
    params.append(('marker', items[-1].id))
    href = '%s/%s?%s' % (rc.api_root, path, urllib.parse.urlencode(params))
    return [{'rel': 'next', 'href': href}]
