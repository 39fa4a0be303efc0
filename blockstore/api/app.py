"""The API as one WSGI callable: request id -> faults -> auth -> microversion -> router.

``make_app(conf)`` builds the stack with one instance of each service layer
(``app.volume_api``, ``app.ops_api``, ``app.transfer_api``, ``app.backup_api``), handed to
handlers through the WSGI environ (``common.volume_api(req)`` ...).
"""

from oslo_config import cfg

from blockstore.api import common
from blockstore.api import middleware
from blockstore.api import router as api_router
from blockstore.api import routes


class _WithServiceLayer:
    def __init__(self, app, apis):
        self.app = app
        self.apis = apis

    def __call__(self, environ, start_response):
        environ.update(self.apis)
        return self.app(environ, start_response)


class APIApplication:
    """The outermost WSGI callable, exposing the pieces tests and servers need."""

    def __init__(self, app, volume_api, router, ops_api=None, transfer_api=None,
                 backup_api=None):
        self._app = app
        self.volume_api = volume_api
        self.ops_api = ops_api
        self.transfer_api = transfer_api
        self.backup_api = backup_api
        self.router = router

    def __call__(self, environ, start_response):
        return self._app(environ, start_response)


def make_app(conf=None, volume_api=None, backup_api=None):
    """The full API stack; ``volume_api`` defaults to a new ``volume.api.API()``,
    ``backup_api`` to a ``backup.api.API`` using that volume API."""
    conf = conf if conf is not None else cfg.CONF
    if volume_api is None:
        from blockstore.volume import api as volume_api_mod
        volume_api = volume_api_mod.API()
    if backup_api is None:
        from blockstore.backup import api as backup_api_mod
        backup_api = backup_api_mod.API(volume_api=volume_api)
    from blockstore.ops import api as ops_api_mod
    from blockstore.transfer import api as transfer_api_mod
    ops_api = ops_api_mod.API(volume_api)
    transfer_api = transfer_api_mod.API()
    router = api_router.Router(routes.ROUTES)
    app = middleware.MicroversionMiddleware(router)
    if conf.auth_strategy == 'keystone':
        app = middleware.keystone_pipeline(app, conf)
    else:
        app = middleware.NoAuthMiddleware(app)
    app = middleware.RequestIdMiddleware(middleware.FaultWrapper(_WithServiceLayer(app, {
        common.VOLUME_API_KEY: volume_api, common.OPS_API_KEY: ops_api,
        common.TRANSFER_API_KEY: transfer_api, common.BACKUP_API_KEY: backup_api})))
    return APIApplication(app, volume_api, router, ops_api, transfer_api, backup_api)
