"""Backups: the blockstore-backup service, its chunked format and its stores.

``drivers/`` holds the object stores (a POSIX directory, OpenStack Swift)
behind ``drivers.base.BackupStore``; ``chunked.py`` turns a volume into
objects and back; ``manager.py`` is the service, ``api.py`` its service
layer and ``rpcapi.py`` how the API reaches it.
"""
