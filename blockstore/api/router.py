"""Dispatch a request through the route table (``routes.ROUTES``).

Matching is by path segments: literal segments must be equal, ``{name}``
segments capture. A route with more literal segments, earlier, wins
(``/v3/volumes/detail`` before ``/v3/volumes/{volume_id}``).

Every ``/v3/...`` route is also served as ``/v3/{project_id}/...``: when the
segment after ``v3`` is not the name of a collection in the table, it is
taken as a project id, removed, and must equal the caller's project.

A known URL with an unknown method gets 405 with an ``Allow`` header; an
unknown URL 404; a request whose microversion no handler of the URL and
method serves, 404 (as Cinder).
"""

from blockstore.api import microversion
from blockstore.api.views import links
from blockstore.common import exception

CONTEXT_KEY = 'blockstore.context'


class MethodNotAllowed(exception.BlockstoreException):
    code = 405
    safe = True
    msg_fmt = 'The method specified is not allowed for this resource.'

    def __init__(self, allowed):
        super().__init__()
        self.headers = {'Allow': ', '.join(allowed)}


class VersionNotFoundForAPIMethod(exception.NotFound):
    msg_fmt = 'API version %(version)s is not supported on this method.'


class _Route:
    __slots__ = ('template', 'segments', 'methods', 'allow', 'specificity')

    def __init__(self, template, methods):
        self.template = template
        self.segments = tuple(s for s in template.strip('/').split('/') if s) \
            if template != '/' else ()
        norm = {}
        for method, handlers in methods.items():
            if callable(handlers):
                handlers = (handlers,)
            norm[method.upper()] = tuple(handlers)
        self.methods = norm
        self.allow = sorted(norm)
        self.specificity = tuple(1 if _is_var(s) else 0 for s in self.segments)

    def match(self, parts):
        args = {}
        for want, got in zip(self.segments, parts):
            if _is_var(want):
                args[want[1:-1]] = got
            elif want != got:
                return None
        return args


def _is_var(segment):
    return segment.startswith('{') and segment.endswith('}')


class Router:
    """WSGI app: find the handler, call it with the request, return its response."""

    def __init__(self, table):
        self._by_length = {}
        collections = set()
        for template, methods in table.items():
            route = _Route(template, methods)
            self._by_length.setdefault(len(route.segments), []).append(route)
            segs = route.segments
            if len(segs) >= 2 and segs[0] == 'v3' and not _is_var(segs[1]):
                collections.add(segs[1])
        for routes in self._by_length.values():
            routes.sort(key=lambda r: r.specificity)
        self.collections = frozenset(collections)

    def split(self, path):
        """Path segments, and the project id the URL carried (or None)."""
        parts = [p for p in path.split('/') if p]
        project = None
        if len(parts) > 2 and parts[0] == 'v3' and parts[1] not in self.collections:
            project = parts.pop(1)
        return parts, project

    def find(self, parts):
        for route in self._by_length.get(len(parts), ()):
            args = route.match(parts)
            if args is not None:
                return route, args
        return None, None

    def dispatch(self, req):
        parts, project = self.split(req.path_info)
        route, args = self.find(parts)
        if route is None:
            raise exception.NotFound('The resource could not be found.')
        handlers = route.methods.get(req.method)
        if handlers is None:
            raise MethodNotAllowed(route.allow)
        version = microversion.request_version(req)
        for handler in handlers:
            lo, hi = microversion.handler_range(handler)
            if lo <= version <= hi:
                break
        else:
            raise VersionNotFoundForAPIMethod(version=version)
        if project is not None:
            ctx = req.environ.get(CONTEXT_KEY)
            if ctx is not None and ctx.project_id != project:
                raise exception.Invalid('Malformed request url')
            req.environ[links.URL_PROJECT_KEY] = project
        req.environ['wsgiorg.routing_args'] = ((), args)
        return handler(req)
