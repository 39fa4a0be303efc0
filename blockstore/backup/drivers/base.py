"""The interface of a backup store, the exceptions it raises, and how one is chosen.

A store keeps named objects (bytes) in containers, and knows nothing of
volumes: ``blockstore.backup.chunked`` decides what the objects hold. Two
stores exist: ``posix`` (a directory, local or a mounted share) and
``swift`` (OpenStack Swift). ``[backup] backup_driver`` chooses one.

Contract (tests/functional/backup/store_contract.py checks it on every store):

- ``put`` is atomic: a reader sees the whole object or none of it.
- ``get`` of an absent object raises ``BackupObjectNotFound``.
- ``delete`` of an absent object succeeds (deletes are retried after crashes).
- ``list`` returns every name under a prefix, sorted, however many there are.
- ``check`` raises ``BackupStoreUnavailable`` with a reason naming where the
  store is when it cannot be reached or written.
- With ``thread_safe`` true, ``put``/``get``/``delete`` may be called from
  several threads at once (the chunked pipeline does).
"""

import abc
import importlib

from blockstore.common import exception


class BackupStoreError(exception.BlockstoreException):
    msg_fmt = 'Backup store error: %(reason)s'
    safe = True


class BackupStoreUnavailable(BackupStoreError):
    msg_fmt = 'Backup store unavailable: %(reason)s'


class BackupObjectNotFound(BackupStoreError):
    msg_fmt = 'Backup object %(name)s not found in container %(container)s.'
    code = 404


class BackupStore(abc.ABC):
    """Named objects in containers. Subclasses set ``name`` (recorded in backups.service)."""

    name = None
    thread_safe = True

    def __init__(self, conf):
        self.conf = conf

    @property
    def default_container(self):
        return self.conf.backup.backup_container

    @abc.abstractmethod
    def check(self):
        """Raise BackupStoreUnavailable(reason=...) if the store cannot be used now."""

    @abc.abstractmethod
    def ensure_container(self, container):
        """Create the container if it does not exist (idempotent)."""

    @abc.abstractmethod
    def put(self, container, name, data):
        """Store ``data`` (bytes) as object ``name``, replacing it atomically."""

    @abc.abstractmethod
    def get(self, container, name):
        """Return the bytes of object ``name``; BackupObjectNotFound if absent."""

    @abc.abstractmethod
    def delete(self, container, name):
        """Remove object ``name``; an absent object is not an error."""

    @abc.abstractmethod
    def list(self, container, prefix=''):
        """Sorted names of the objects of ``container`` starting with ``prefix``."""


_STORES = {
    'posix': 'blockstore.backup.drivers.posix:PosixStore',
    'swift': 'blockstore.backup.drivers.swift:SwiftStore',
}


def store_class(name):
    try:
        module, cls = _STORES[name].split(':')
    except KeyError:
        raise BackupStoreError(reason='unknown backup store %r (known: %s)'
                               % (name, ', '.join(sorted(_STORES))))
    return getattr(importlib.import_module(module), cls)


def load_store(conf, name=None):
    """The store named by ``name`` or ``[backup] backup_driver``."""
    return store_class(name or conf.backup.backup_driver)(conf)
