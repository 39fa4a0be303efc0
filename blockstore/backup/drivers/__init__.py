"""Backup stores: where the objects of a backup live (see base.py)."""

from blockstore.backup.drivers.base import (
    BackupObjectNotFound, BackupStore, BackupStoreError, BackupStoreUnavailable, load_store)

__all__ = ['BackupObjectNotFound', 'BackupStore', 'BackupStoreError',
           'BackupStoreUnavailable', 'load_store']
