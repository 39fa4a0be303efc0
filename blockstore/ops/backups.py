"""Operator actions on backups (blockstore-manage backup ...), as cinder-manage has them.

``list_backups`` gives the rows of ``backup list``; ``update_backup_host``
moves the live backups of one backup service host to another (after the old
host is retired, so that the new one restores and deletes them). Both work on
every project.
"""

from blockstore.db import backups as db_backups
from blockstore import objects

# The columns of ``backup list`` (cinder-manage's), and the Backup fields they show.
LIST_COLUMNS = (('ID', 'id'), ('User ID', 'user_id'), ('Project ID', 'project_id'),
                ('Host', 'host'), ('Name', 'display_name'), ('Container', 'container'),
                ('Status', 'status'), ('Size (GB)', 'size'), ('Object Count', 'object_count'))


def list_backups(ctx, host=None):
    """(headers, rows) of the live backups of every project, oldest first."""
    filters = {'host': host} if host else None
    backups = objects.BackupList.get_all(ctx, filters=filters, sort_keys=['created_at'],
                                         sort_dirs=['asc'], project_id=None)
    rows = [tuple('' if getattr(b, field) is None else getattr(b, field)
                  for _h, field in LIST_COLUMNS) for b in backups]
    return tuple(h for h, _f in LIST_COLUMNS), rows


def update_backup_host(ctx, current_host, new_host):
    """Point every live backup of ``current_host`` at ``new_host`` (one statement); how many."""
    if not current_host or not new_host:
        raise ValueError('both hosts are required')
    return db_backups.backup_host_update(ctx, current_host, new_host)
