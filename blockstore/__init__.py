"""blockstore: a block storage control plane speaking the Cinder v3 API."""

import sys

__version__ = '0.2.0'

# eventlet is installed only because oslo.service lists it; futurist and
# oslo.utils import it whenever it is importable (and eventlet then loads a
# patched copy of dnspython: ~17 MiB per process). blockstore runs on native
# threads and never uses it, so make it unimportable in our processes; the
# libraries treat it as absent.
sys.modules.setdefault('eventlet', None)


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
