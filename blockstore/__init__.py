"""blockstore: a block storage control plane speaking the Cinder v3 API."""

__version__ = '0.1.0'
