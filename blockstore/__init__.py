"""blockstore: a block storage control plane speaking the Cinder v3 API."""

import warnings

__version__ = '0.1.0'

# eventlet is installed as a dependency of oslo.service, and futurist imports it
# when present; blockstore never uses it, so its deprecation notice is noise.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')


def _use_threading_backend():
    """Select oslo.service's native-thread backend before anything loads the default.

    oslo.messaging imports oslo.service, whose default backend is eventlet;
    blockstore runs on native threads only and never monkey-patches.
    """
    from oslo_service import backend
    try:
        backend.init_backend(backend.BackendType.THREADING)
    except backend.exceptions.BackendAlreadySelected:
        pass


_use_threading_backend()
