"""WSGI layers around the router: faults, authentication, microversions.

Errors leave the API in Cinder's format::

    {"itemNotFound": {"code": 404, "message": "Volume ... could not be found."}}

A ``BlockstoreException`` keeps its code and message (5xx messages only when
the exception is marked ``safe``); anything unexpected becomes a 500
``computeFault`` with a generic message and a logged traceback.
"""

import json

from oslo_context import context as o_context
from oslo_db import exception as db_exc
from oslo_log import log as logging
from sqlalchemy import exc as sa_exc
import webob
import webob.exc

from blockstore.api import common
from blockstore.api import microversion
from blockstore.common import context as bs_context
from blockstore.common import exception

LOG = logging.getLogger(__name__)

FAULT_NAMES = {
    400: 'badRequest',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'itemNotFound',
    405: 'badMethod',
    409: 'conflictingRequest',
    413: 'overLimit',
    415: 'badMediaType',
    501: 'notImplemented',
    503: 'serviceUnavailable',
}
DEFAULT_FAULT_NAME = 'computeFault'
GENERIC_500 = ('The server has either erred or is incapable of performing the requested '
               'operation.')

# Paths served without a token: version discovery (keystoneauth reads them
# unauthenticated).
UNAUTHENTICATED_PATHS = frozenset(('', '/', '/v3', '/v3/',
                                   '/v3/openapi.json'))  # the OpenAPI document

REQUEST_ID_HEADER = 'x-openstack-request-id'
# Cinder sends the same id under Nova's name too; python-cinderclient reads the
# request id of a failed call from it (``ERROR: ... (Request-ID: req-...)``).
COMPAT_REQUEST_ID_HEADER = 'x-compute-request-id'
REQUEST_ID_HEADERS = (REQUEST_ID_HEADER, COMPAT_REQUEST_ID_HEADER)
# Where the id waits for the context (oslo.context's from_environ reads this key).
REQUEST_ID_ENVIRON_KEY = 'openstack.request_id'


def fault(code, message, headers=None):
    name = FAULT_NAMES.get(code, DEFAULT_FAULT_NAME)
    resp = webob.Response(status=code, content_type='application/json', charset=None)
    resp.body = json.dumps({name: {'code': code, 'message': message}}).encode('utf-8')
    if headers:
        for k, v in headers.items():
            resp.headers[k] = v
    return resp


# The database was unreachable (restarting, failing over): nothing the client
# did wrong, and a retry soon may work. oslo.db raises these once its own
# reconnect attempts are spent.
# The driver's OperationalError (connection refused or lost, the server shutting
# down, a lock wait timed out) is not always wrapped by oslo.db: on PostgreSQL a
# connection refused at checkout reaches the API as it is, or inside a DBError.
DB_UNAVAILABLE = (db_exc.DBConnectionError, sa_exc.OperationalError)
DB_UNAVAILABLE_MESSAGE = 'The database is unavailable; retry the request shortly.'
DB_RETRY_AFTER = '2'


def _db_unavailable(exc):
    return isinstance(exc, DB_UNAVAILABLE) or (
        isinstance(exc, db_exc.DBError)
        and isinstance(getattr(exc, 'inner_exception', None), DB_UNAVAILABLE))


def fault_from_exception(exc, req=None):
    """The Cinder-format response for an exception raised by a handler."""
    if _db_unavailable(exc):
        LOG.warning('%s %s: the database is unavailable (%s); answering 503',
                    getattr(req, 'method', ''), getattr(req, 'path', ''), exc)
        return fault(503, DB_UNAVAILABLE_MESSAGE, {'Retry-After': DB_RETRY_AFTER})
    if isinstance(exc, exception.BlockstoreException):
        code = exc.code or 500
        if code >= 500 and not exc.safe:
            LOG.error('%s %s failed: %s', getattr(req, 'method', ''),
                      getattr(req, 'path', ''), exc, exc_info=exc)
            message = GENERIC_500
        else:
            message = exc.msg
        return fault(code, message, getattr(exc, 'headers', None))
    if isinstance(exc, webob.exc.HTTPException):
        code = exc.code
        if code >= 500:
            return fault(code, GENERIC_500)
        return fault(code, exc.explanation or exc.title)
    LOG.error('Unexpected error in %s %s', getattr(req, 'method', ''),
              getattr(req, 'path', ''), exc_info=exc)
    return fault(500, GENERIC_500)


class FaultWrapper:
    """Outermost layer: no exception escapes as anything but a Cinder fault."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except Exception as exc:
            resp = fault_from_exception(exc, webob.Request(environ))
            return resp(environ, start_response)


def _is_discovery(environ):
    return environ.get('PATH_INFO', '') in UNAUTHENTICATED_PATHS


class RequestIdMiddleware:
    """Outermost layer: one request id per request, on every response (errors included).

    The id is made here, before authentication, so a 401 carries it too; the
    auth layers give it to the request context (``ctx.request_id``). Each
    response is logged with it (INFO), so a client's Request-ID finds the
    server's side of the story.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        request_id = o_context.generate_request_id()
        environ[REQUEST_ID_ENVIRON_KEY] = request_id

        def start(status, headers, exc_info=None):
            LOG.info('%s %s %s returned %s', request_id, environ.get('REQUEST_METHOD'),
                     environ.get('PATH_INFO'), status.split(' ', 1)[0])
            headers = [(k, v) for k, v in headers if k.lower() not in REQUEST_ID_HEADERS]
            headers.extend((name, request_id) for name in REQUEST_ID_HEADERS)
            return start_response(status, headers, exc_info)
        return self.app(environ, start)


# The roles of a noauth caller without X-Roles: an administrator, as with
# Cinder's noauth middleware (which makes every caller one), with the other
# default personas' roles on its project too.
NOAUTH_DEFAULT_ROLES = ('admin', 'member', 'reader')


class NoAuthMiddleware:
    """Trust ``X-Auth-Token: user[:project]`` (Cinder's noauth format).

    Without an ``X-Roles`` header the caller is an administrator, as with
    Cinder's noauth (``cinder type-create`` and ``force-delete`` work as its
    documentation shows). With ``X-Roles`` the roles decide: an ``admin`` role,
    or ``admin`` as user or project, makes the caller an administrator; an
    empty header means ``member`` and ``reader`` on its project (Cinder's
    default personas).
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if _is_discovery(environ):
            return self.app(environ, start_response)
        token = environ.get('HTTP_X_AUTH_TOKEN', '').strip()
        if not token:
            return fault(401, 'Authentication required')(environ, start_response)
        user_id, _, project_id = token.partition(':')
        project_id = project_id or user_id
        header = environ.get('HTTP_X_ROLES')
        if header is None:
            roles = list(NOAUTH_DEFAULT_ROLES)
        else:
            roles = [r.strip() for r in header.split(',') if r.strip()]
            if not roles:
                # An ordinary noauth user is a member (and reader) of its own project.
                roles = ['member', 'reader']
        is_admin = 'admin' in (user_id, project_id) or 'admin' in [r.lower() for r in roles]
        if is_admin and 'admin' not in roles:
            roles.append('admin')
        ctx = bs_context.RequestContext(user_id=user_id, project_id=project_id,
                                        is_admin=is_admin, roles=roles, auth_token=token,
                                        request_id=environ.get(REQUEST_ID_ENVIRON_KEY),
                                        overwrite=False)
        ctx.update_store()   # this thread's log lines now carry the request's id
        environ[common.CONTEXT_KEY] = ctx
        return self.app(environ, start_response)


class KeystoneContextMiddleware:
    """Behind keystonemiddleware.auth_token: the context from its identity headers."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get('HTTP_X_IDENTITY_STATUS') != 'Confirmed':
            return fault(401, 'Authentication required')(environ, start_response)
        ctx = bs_context.RequestContext.from_environ(environ, overwrite=False)
        ctx.is_admin = 'admin' in [r.lower() for r in (ctx.roles or [])]
        ctx.update_store()
        environ[common.CONTEXT_KEY] = ctx
        return self.app(environ, start_response)


class DiscoveryBypass:
    """Send discovery URLs straight to ``public``, everything else through ``protected``."""

    def __init__(self, protected, public):
        self.protected = protected
        self.public = public

    def __call__(self, environ, start_response):
        if _is_discovery(environ):
            return self.public(environ, start_response)
        return self.protected(environ, start_response)


def keystone_pipeline(app, conf):
    from keystonemiddleware import auth_token
    protected = auth_token.AuthProtocol(KeystoneContextMiddleware(app),
                                        {'oslo_config_config': conf})
    return DiscoveryBypass(protected, app)


class MicroversionMiddleware:
    """Negotiate the version, dispatch, and echo the version on every response."""

    def __init__(self, router):
        self.router = router

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        try:
            version = microversion.from_headers(req.headers)
        except microversion.InvalidVersionString as e:
            return fault(400, str(e))(environ, start_response)
        except microversion.VersionNotAcceptable as e:
            return fault(406, str(e))(environ, start_response)
        environ[microversion.ENVIRON_KEY] = version
        try:
            resp = self.router.dispatch(req)
        except Exception as exc:
            resp = fault_from_exception(exc, req)
        headers = resp.headers
        headers[microversion.HEADER] = microversion.header_value(version)
        headers['Vary'] = microversion.HEADER
        return resp(environ, start_response)
