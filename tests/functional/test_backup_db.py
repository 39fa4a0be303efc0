"""Backup claims racing deletes on SQLite, MariaDB and PostgreSQL.

The backup service layer (blockstore/backup/api.py) claims several rows in one
transaction: an incremental's parent with the insert of the incremental
(``db.backups.backup_create(claim=...)``), and a restore's volume and backup
(``states.transition(..., then=transition_in ...)``). Whatever the backend
does with concurrent transactions, the invariants must hold: no deleting
parent with a live incremental, and no restore holding only one of its two
rows.
"""


import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore.objects import states
from tests.fixtures import races


@pytest.fixture(scope='module')
def vtype(database):
    return db.volume_type_create(context.get_admin_context(),
                                 {'name': 'backup-race-%s' % database.name}).id


def _volume(ctx, vtype):
    return db.volume_create(ctx, {'project_id': 'proj', 'size': 1, 'status': 'available',
                                  'volume_type_id': vtype}).id


def _backup(ctx, volume_id, **values):
    return db_backups.backup_create(ctx, dict(project_id='proj', size=1,
                                              status=states.AVAILABLE, volume_id=volume_id,
                                              **values)).id


def _run_together(n, target):
    return races.run_together(n, target)


@pytest.mark.parametrize('round_', range(4))
def test_incremental_create_racing_parent_delete(database, vtype, round_):
    ctx = context.get_admin_context()
    vid = _volume(ctx, vtype)
    parent = _backup(ctx, vid)

    def work(i):
        ctx = context.get_admin_context()   # one per thread: it carries the transaction
        if i == 0:
            return states.transition(ctx, 'backup', parent, 'delete')
        row = db_backups.backup_create(
            ctx, {'project_id': 'proj', 'size': 1, 'status': states.CREATING,
                  'volume_id': vid, 'parent_id': parent},
            claim=lambda: states.transition(ctx, 'backup', parent, 'use_as_source'))
        return row.id if row is not None else None

    results = _run_together(7, work)
    children = [r for r in results[1:] if r is not None]
    status = db_backups.backup_get(ctx, parent).status
    assert db_backups.dependent_count(ctx, parent) == len(children)
    if results[0]:
        assert status == 'deleting'
        assert children == [], 'parent deleting with live incrementals %s' % children
    else:
        assert status == 'available' and children


@pytest.mark.parametrize('round_', range(4))
def test_restore_claim_racing_backup_delete(database, vtype, round_):
    ctx = context.get_admin_context()
    backup = _backup(ctx, _volume(ctx, vtype))
    targets = [_volume(ctx, vtype) for _ in range(4)]

    class Lost(Exception):
        pass

    def restore(ctx, target):
        def claim_backup(session):
            if not states.transition_in(session, 'backup', backup, 'restore',
                                        {'restore_volume_id': target},
                                        work={'operation': 'restore',
                                              'payload': {'volume_id': target}}):
                raise Lost()
            return True
        try:
            return states.transition(ctx, 'volume', target, 'restore_backup',
                                     then=claim_backup)
        except Lost:
            return False

    def work(i):
        ctx = context.get_admin_context()
        if i == 0:
            return states.transition(ctx, 'backup', backup, 'delete')
        return restore(ctx, targets[i - 1])

    results = _run_together(len(targets) + 1, work)
    row = db_backups.backup_get(ctx, backup)
    restoring = [t for t in targets if db.volume_get(ctx, t).status == 'restoring-backup']
    assert results.count(True) == 1, results     # the backup is claimed once
    if results[0]:
        assert row.status == 'deleting' and restoring == []
    else:
        assert row.status == 'restoring' and restoring == [row.restore_volume_id]
        [w] = db.worker_get_all(ctx, resource_id=backup)
        assert w.operation == 'restore'
    others = set(targets) - set(restoring)
    assert {db.volume_get(ctx, t).status for t in others} == {'available'}
