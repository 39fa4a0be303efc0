"""The backup data layer on SQLite: db/backups.py, the Backup object, guards, quota usage."""

import datetime
import uuid

import pytest

from blockstore import objects
from blockstore.common import context
from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore.db import filters as db_filters
from blockstore.db import quotas as quota_db
from blockstore.db.models import utcnow
from blockstore.objects import states

objects.register_all()

pytestmark = pytest.mark.usefixtures('database')


@pytest.fixture
def project():
    return 'bk-' + uuid.uuid4().hex[:12]


@pytest.fixture(scope='module')
def vtype(database):
    return db.volume_type_create(context.get_admin_context(),
                                 {'name': 'backups-%s' % database.name}).id


def _volume(ctx, vtype, project, status=states.AVAILABLE, size=1, **values):
    return db.volume_create(ctx, dict(project_id=project, user_id='u', size=size, status=status,
                                      volume_type_id=vtype, **values)).id


def _backup(ctx, project, volume_id, status=states.AVAILABLE, size=1, work=None, **values):
    return db_backups.backup_create(ctx, dict(project_id=project, user_id='u', size=size,
                                              status=status, volume_id=volume_id, **values),
                                    work=work)


# ---------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------

def test_create_get_and_metadata(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    row = db_backups.backup_create(
        ctx, {'project_id': project, 'volume_id': vid, 'status': states.CREATING, 'size': 1,
              'display_name': 'b1', 'container': 'backups'},
        metadata={'k': 'v'}, work={'operation': 'create', 'status': states.CREATING})
    got = db_backups.backup_get(ctx, row.id)
    assert (got.display_name, got.status, got.size, got.object_count) == (
        'b1', 'creating', 1, 0)
    assert {m.key: m.value for m in got.backup_metadata} == {'k': 'v'}
    assert got.num_dependent_backups == 0 and got.bytes_done == 0 and got.progress is None
    [work] = db.worker_get_all(ctx, resource_id=row.id)
    assert (work.resource_type, work.operation, work.status) == ('backup', 'create', 'creating')

    assert db_backups.backup_metadata_update(ctx, row.id, {'a': '1'}) == {'k': 'v', 'a': '1'}
    assert db_backups.backup_metadata_update(ctx, row.id, {'a': '2'}, delete=True) == {'a': '2'}

    with pytest.raises(exception.BackupNotFound):
        db_backups.backup_get(ctx, row.id, project_id='someone-else')
    with pytest.raises(exception.BackupNotFound):
        db_backups.backup_get(ctx, str(uuid.uuid4()))
    with pytest.raises(exception.BackupNotFound):
        db_backups.backup_metadata_update(ctx, str(uuid.uuid4()), {'a': '1'})


def test_update_refuses_status_and_missing_rows(ctx, vtype, project):
    b = _backup(ctx, project, _volume(ctx, vtype, project))
    db_backups.backup_update(ctx, b.id, {'progress': 40, 'bytes_done': 5 << 30,
                                         'host': 'node1'})
    got = db_backups.backup_get(ctx, b.id)
    assert (got.progress, got.bytes_done, got.host) == (40, 5 << 30, 'node1')
    with pytest.raises(AssertionError):
        db_backups.backup_update(ctx, b.id, {'status': states.ERROR})
    with pytest.raises(exception.BackupNotFound):
        db_backups.backup_update(ctx, str(uuid.uuid4()), {'progress': 1})


def test_deleted_rows_are_read_only_when_asked(ctx, vtype, project):
    b = _backup(ctx, project, _volume(ctx, vtype, project))
    assert states.transition(ctx, 'backup', b.id, 'delete')
    assert states.transition(ctx, 'backup', b.id, 'delete_done')
    with pytest.raises(exception.BackupNotFound):
        db_backups.backup_get(ctx, b.id)
    row = db_backups.backup_get(ctx, b.id, read_deleted=True)
    assert row.deleted is True and row.status == 'deleted' and row.deleted_at is not None


# ---------------------------------------------------------------------------
# Listing: filters, sort, markers, count
# ---------------------------------------------------------------------------

def test_list_filters_sorts_paginates_and_counts(ctx, vtype, project):
    v1, v2 = _volume(ctx, vtype, project), _volume(ctx, vtype, project)
    base = utcnow() - datetime.timedelta(hours=1)
    made = []
    for i, (vid, name, status) in enumerate([(v1, 'c', 'available'), (v1, 'a', 'error'),
                                             (v2, 'b', 'available'), (v2, 'd', 'creating')]):
        made.append(_backup(ctx, project, vid, status=status, display_name=name,
                            created_at=base + datetime.timedelta(minutes=i)).id)
    db_backups.backup_metadata_update(ctx, made[2], {'tier': 'gold'})
    other = _backup(ctx, 'other-' + project, v1)

    rows = db_backups.backup_get_all(ctx, project_id=project)
    assert [r.id for r in rows] == made[::-1]           # newest first by default
    assert rows[1].metadata == {'tier': 'gold'}
    assert all(r.project_id == project for r in rows)
    assert other.id not in [r.id for r in db_backups.backup_get_all(ctx, project_id=project)]

    by_name = db_backups.backup_get_all(ctx, project_id=project, sort_keys=['display_name'],
                                        sort_dirs=['asc'])
    assert [r.display_name for r in by_name] == ['a', 'b', 'c', 'd']
    assert [r.id for r in db_backups.backup_get_all(
        ctx, project_id=project, filters={'volume_id': v1})] == [made[1], made[0]]
    assert [r.id for r in db_backups.backup_get_all(
        ctx, project_id=project, filters={'status': 'available'})] == [made[2], made[0]]
    assert [r.id for r in db_backups.backup_get_all(
        ctx, project_id=project, filters={'display_name': db_filters.Like('b')})] == [made[2]]
    assert [r.id for r in db_backups.backup_get_all(
        ctx, project_id=project, filters={'metadata': {'tier': 'gold'}})] == [made[2]]

    page1 = db_backups.backup_get_all(ctx, project_id=project, limit=2)
    page2 = db_backups.backup_get_all(ctx, project_id=project, limit=2, marker=page1[-1].id)
    assert [r.id for r in page1 + page2] == made[::-1]
    with pytest.raises(exception.MarkerNotFound):
        db_backups.backup_get_all(ctx, project_id=project, marker=str(uuid.uuid4()))
    with pytest.raises(exception.InvalidInput):
        db_backups.backup_get_all(ctx, project_id=project, sort_keys=['fail_reason'])
    with pytest.raises(exception.InvalidInput):
        db_backups.backup_get_all(ctx, project_id=project, filters={'service_metadata': 'x'})

    assert db_backups.backup_count(ctx, project_id=project) == 4
    assert db_backups.backup_count(ctx, {'status': 'available'}, project_id=project) == 2


def test_dependents_are_counted_live(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    full = _backup(ctx, project, vid)
    inc1 = _backup(ctx, project, vid, parent_id=full.id)
    _backup(ctx, project, vid, parent_id=inc1.id)
    assert db_backups.dependent_count(ctx, full.id) == 1
    assert db_backups.backup_get(ctx, full.id).num_dependent_backups == 1
    listed = {r.id: r.num_dependent_backups
              for r in db_backups.backup_get_all(ctx, project_id=project)}
    assert listed[full.id] == 1 and listed[inc1.id] == 1
    assert states.transition(ctx, 'backup', inc1.id, 'delete') is False   # has a child
    obj = objects.Backup.get_by_id(ctx, full.id)
    assert obj.has_dependent_backups and not obj.is_incremental
    assert objects.Backup.get_by_id(ctx, inc1.id).is_incremental


def test_latest_available_is_the_newest_available(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    assert db_backups.latest_available(ctx, vid) is None
    now = utcnow()
    older = _backup(ctx, project, vid, data_timestamp=now - datetime.timedelta(hours=2))
    newer = _backup(ctx, project, vid, data_timestamp=now - datetime.timedelta(hours=1))
    _backup(ctx, project, vid, status=states.ERROR, data_timestamp=now)
    _backup(ctx, project, vid, status=states.CREATING, data_timestamp=now)
    assert db_backups.latest_available(ctx, vid).id == newer.id
    assert states.transition(ctx, 'backup', newer.id, 'delete')
    assert db_backups.latest_available(ctx, vid).id == older.id


def test_running_count_by_host_counts_work_records(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    host_a, host_b = 'a-' + project, 'b-' + project
    work = {'operation': 'create', 'status': states.CREATING}
    for host in (host_a, host_a, host_b):
        _backup(ctx, project, vid, status=states.CREATING, host=host, work=work)
    _backup(ctx, project, vid, host=host_b)     # done: no work record
    counts = db_backups.running_count_by_host(ctx)
    assert counts[host_a] == 2 and counts[host_b] == 1


def test_backup_host_update(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    old, new = 'old-' + project, 'new-' + project
    ids = [_backup(ctx, project, vid, host=old).id for _ in range(2)]
    assert db_backups.backup_host_update(ctx, old, new) == 2
    assert {db_backups.backup_get(ctx, i).host for i in ids} == {new}


def test_purge_removes_old_deleted_backups(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    b = _backup(ctx, project, vid, status=states.DELETED, deleted=True,
                deleted_at=utcnow() - datetime.timedelta(days=3))
    live = _backup(ctx, project, vid)
    counts = db.purge_deleted(ctx, utcnow() - datetime.timedelta(days=1))
    assert counts['backups'] >= 1
    with pytest.raises(exception.BackupNotFound):
        db_backups.backup_get(ctx, b.id, read_deleted=True)
    assert db_backups.backup_get(ctx, live.id).id == live.id


# ---------------------------------------------------------------------------
# Transitions and guards
# ---------------------------------------------------------------------------

def test_parent_cannot_be_deleted_while_an_incremental_lives(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    full = _backup(ctx, project, vid)
    inc = _backup(ctx, project, vid, parent_id=full.id)
    assert states.transition(ctx, 'backup', full.id, 'delete') is False
    with pytest.raises(exception.InvalidBackup, match='incremental backups depend'):
        states.transition_or_raise(ctx, 'backup', full.id, 'force_delete')
    assert states.transition(ctx, 'backup', inc.id, 'delete')
    assert states.transition(ctx, 'backup', inc.id, 'delete_done')
    assert states.transition(ctx, 'backup', full.id, 'delete')


def test_volume_with_a_creating_backup_cannot_be_deleted(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    b = _backup(ctx, project, vid, status=states.CREATING)
    with pytest.raises(exception.InvalidVolume, match='a backup of the volume'):
        states.transition_or_raise(ctx, 'volume', vid, 'delete')
    assert states.transition(ctx, 'backup', b.id, 'create_done')
    assert states.transition(ctx, 'volume', vid, 'delete')   # a finished backup outlives it


def test_snapshot_with_a_creating_backup_cannot_be_deleted(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    sid = db.snapshot_create(ctx, dict(project_id=project, volume_id=vid, volume_size=1,
                                       status=states.AVAILABLE, volume_type_id=vtype)).id
    b = _backup(ctx, project, vid, status=states.CREATING, snapshot_id=sid)
    with pytest.raises(exception.InvalidSnapshot, match='a backup of the snapshot'):
        states.transition_or_raise(ctx, 'snapshot', sid, 'delete')
    assert states.transition(ctx, 'backup', b.id, 'create_failed')
    assert states.transition(ctx, 'snapshot', sid, 'delete')


def test_backup_and_restore_of_a_volume_go_round(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    assert states.transition(ctx, 'volume', vid, 'backup')
    assert db.volume_get(ctx, vid).status == 'backing-up'
    assert states.transition(ctx, 'volume', vid, 'backup_done')
    assert states.transition(ctx, 'volume', vid, 'restore_backup')
    assert db.volume_get(ctx, vid).status == 'restoring-backup'
    assert states.transition(ctx, 'volume', vid, 'restore_backup_failed')
    assert db.volume_get(ctx, vid).status == 'error_restoring'
    assert states.transition(ctx, 'volume', vid, 'delete')


# ---------------------------------------------------------------------------
# The object
# ---------------------------------------------------------------------------

def test_object_create_save_refresh_and_list(ctx, vtype, project):
    vid = _volume(ctx, vtype, project)
    b = objects.Backup(ctx, project_id=project, user_id='u', volume_id=vid, size=2,
                       display_name='obj', container='c', metadata={'x': 'y'})
    b.create(work={'operation': 'create'})
    assert b.status == 'creating' and b.id and b.name == 'backup-%s' % b.id
    assert b.metadata == {'x': 'y'} and b.object_count == 0 and not b.has_dependent_backups
    assert [w.status for w in db.worker_get_all(ctx, resource_id=b.id)] == ['creating']

    b.display_description = 'described'
    b.metadata = {'z': '1'}
    b.save()
    fresh = objects.Backup.get_by_id(ctx, b.id)
    assert fresh.display_description == 'described' and fresh.metadata == {'z': '1'}

    b.status = states.AVAILABLE
    with pytest.raises(AssertionError):
        b.save()
    b.obj_reset_changes(['status'])
    b.transition('create_done', service_metadata='prefix', object_count=3)
    assert b.status == 'available'
    b.refresh()
    assert (b.status, b.service_metadata, b.object_count) == ('available', 'prefix', 3)
    with pytest.raises(exception.InvalidBackup, match='but is available'):
        b.transition_or_raise('create_done')

    bad = objects.Backup(ctx, project_id=project, volume_id=vid, size=1,
                         status=states.AVAILABLE)
    with pytest.raises(AssertionError):
        bad.create()

    listed = objects.BackupList.get_all(ctx, project_id=project)
    assert [x.id for x in listed] == [b.id] and listed[0].metadata == {'z': '1'}
    with pytest.raises(exception.BackupNotFound):
        objects.Backup.get_by_id(ctx, b.id, project_id='other')


def test_object_round_trips_through_the_serializer(ctx, vtype, project):
    from blockstore.objects import base
    b = objects.Backup.get_by_id(ctx, _backup(ctx, project, _volume(ctx, vtype, project)).id)
    ser = base.BlockstoreObjectSerializer()
    back = ser.deserialize_entity(ctx, ser.serialize_entity(ctx, b))
    assert back.id == b.id and back.size == b.size and back.metadata == b.metadata
    assert base.OBJ_VERSIONS.get_manifest()['Backup'] == objects.Backup.VERSION


# ---------------------------------------------------------------------------
# Quota usage
# ---------------------------------------------------------------------------

def test_quota_counts_live_backups_and_their_gigabytes(ctx, vtype, project):
    vid = _volume(ctx, vtype, project, size=5)
    assert quota.usage(ctx, project, ['backups', 'backup_gigabytes']) == {
        'backups': 0, 'backup_gigabytes': 0}
    b1 = _backup(ctx, project, vid, size=5)
    _backup(ctx, project, vid, size=3)
    _backup(ctx, 'other-' + project, vid, size=7)
    assert quota.usage(ctx, project, ['backups', 'backup_gigabytes']) == {
        'backups': 2, 'backup_gigabytes': 8}
    assert states.transition(ctx, 'backup', b1.id, 'delete')
    # Deleting still holds its space; gone once deleted.
    assert quota.usage(ctx, project, ['backups'])['backups'] == 2
    assert states.transition(ctx, 'backup', b1.id, 'delete_done')
    assert quota.usage(ctx, project, ['backups', 'backup_gigabytes']) == {
        'backups': 1, 'backup_gigabytes': 3}
    sets = quota.get_project_quotas(ctx, project, usages=True)
    assert sets['backups']['in_use'] == 1 and sets['backup_gigabytes']['in_use'] == 3


def test_verify_backup_keeps_within_and_undoes_over(ctx, vtype, project):
    vid = _volume(ctx, vtype, project, size=5)
    quota_db.project_limits_update(ctx, project, {'backups': 2, 'backup_gigabytes': 8})
    first = objects.Backup.get_by_id(ctx, _backup(ctx, project, vid, size=5).id)
    quota.verify_backup(ctx, first)        # 1 backup, 5 GiB: within

    too_big = objects.Backup.get_by_id(ctx, _backup(ctx, project, vid, size=5).id)
    with pytest.raises(exception.VolumeBackupSizeExceedsAvailableQuota) as info:
        quota.verify_backup(ctx, too_big)
    assert info.value.code == 413
    with pytest.raises(exception.BackupNotFound):
        db_backups.backup_get(ctx, too_big.id, read_deleted=True)   # removed outright

    second = objects.Backup.get_by_id(ctx, _backup(ctx, project, vid, size=1).id)
    quota.verify_backup(ctx, second)
    undone = []
    third = objects.Backup.get_by_id(ctx, _backup(ctx, project, vid, size=1).id)
    with pytest.raises(exception.BackupLimitExceeded):
        quota.verify_backup(ctx, third, undo=lambda: undone.append(
            db_backups.backup_destroy(ctx, third.id)))
    assert len(undone) == 1
    assert quota.usage(ctx, project, ['backups'])['backups'] == 2
