"""The API as one WSGI callable: request id -> faults -> auth -> microversion -> router.

``make_app(conf)`` builds the stack with one volume service-layer instance
(``app.volume_api``), handed to handlers through the WSGI environ.
"""

from oslo_config import cfg

from blockstore.api import common
from blockstore.api import middleware
from blockstore.api import router as api_router
from blockstore.api import routes


class _WithVolumeAPI:
    def __init__(self, app, volume_api):
        self.app = app
        self.volume_api = volume_api

    def __call__(self, environ, start_response):
        environ[common.VOLUME_API_KEY] = self.volume_api
        return self.app(environ, start_response)


class APIApplication:
    """The outermost WSGI callable, exposing the pieces tests and servers need."""

    def __init__(self, app, volume_api, router):
        self._app = app
        self.volume_api = volume_api
        self.router = router

    def __call__(self, environ, start_response):
        return self._app(environ, start_response)


def make_app(conf=None, volume_api=None):
    """The full API stack; ``volume_api`` defaults to a new ``volume.api.API()``."""
    conf = conf if conf is not None else cfg.CONF
    if volume_api is None:
        from blockstore.volume import api as volume_api_mod
        volume_api = volume_api_mod.API()
    router = api_router.Router(routes.ROUTES)
    app = middleware.MicroversionMiddleware(router)
    if conf.auth_strategy == 'keystone':
        app = middleware.keystone_pipeline(app, conf)
    else:
        app = middleware.NoAuthMiddleware(app)
    app = middleware.RequestIdMiddleware(
        middleware.FaultWrapper(_WithVolumeAPI(app, volume_api)))
    return APIApplication(app, volume_api, router)
