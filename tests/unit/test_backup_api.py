"""The backup service layer (blockstore/backup/api.py) on SQLite, with a recording backup rpcapi.

The volume service layer is the real one (its RPC clients record); only the
restore to a new volume goes through a stand-in of ``volume_api.create``'s
``backup_id`` keyword, which the volume service layer gains on another branch.
"""

import base64
import datetime
import uuid

import pytest
from oslo_serialization import jsonutils

from blockstore import objects
from blockstore.backup import api as backup_api
from blockstore.common import context
from blockstore.common import exception
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore.db import quotas as quota_db
from blockstore.db.models import utcnow
from blockstore.objects import states
from blockstore.volume import api as volume_api
from tests.unit.api.conftest import RPCRecorder

pytestmark = pytest.mark.usefixtures('database')


class BackupRPC:
    """Records every call of the backup rpcapi; export_record answers as a service would."""

    def __init__(self):
        self.calls = []

    def _record(self, name, *args):
        self.calls.append((name,) + args)

    def create_backup(self, ctxt, backup):
        self._record('create_backup', backup.id)

    def restore_backup(self, ctxt, backup, volume_id):
        self._record('restore_backup', backup.id, volume_id)

    def delete_backup(self, ctxt, backup):
        self._record('delete_backup', backup.id)

    def import_record(self, ctxt, backup, backup_service, backup_url):
        self._record('import_record', backup.id, backup_service, backup_url)

    def export_record(self, ctxt, backup):
        self._record('export_record', backup.id, backup.host)
        return {'backup_service': 'posix', 'backup_url': 'url-of-%s' % backup.id}

    def names(self):
        return [c[0] for c in self.calls]


class VolumeAPI(volume_api.API):
    """The real volume service layer; ``create(backup_id=...)`` is recorded (bk-api adds it)."""

    def __init__(self):
        super().__init__(volume_rpcapi=RPCRecorder(), scheduler_rpcapi=RPCRecorder())
        self.creates = []
        self.on_get = None

    def get(self, ctx, volume_id):
        volume = super().get(ctx, volume_id)
        if self.on_get is not None:
            self.on_get()
        return volume

    def create(self, ctx, size, **kwargs):
        if 'backup_id' not in kwargs:
            return super().create(ctx, size, **kwargs)
        self.creates.append(dict(kwargs, size=size))
        return objects.Volume(ctx, id=str(uuid.uuid4()), display_name=kwargs.get('name'))


@pytest.fixture
def project():
    return 'bapi-' + uuid.uuid4().hex[:10]


@pytest.fixture
def user_ctx(project):
    return context.RequestContext(user_id='u', project_id=project, is_admin=False,
                                  overwrite=False)


@pytest.fixture
def admin():
    return context.get_admin_context()


@pytest.fixture
def rpc():
    return BackupRPC()


@pytest.fixture
def volumes(database):
    return VolumeAPI()


@pytest.fixture
def api(volumes, rpc):
    return backup_api.API(volume_api=volumes, backup_rpcapi=rpc)


def _service(host, az='nova', disabled=False, seen=0):
    ctx = context.get_admin_context()
    row = db.service_create(ctx, {'host': host, 'binary': backup_api.BINARY,
                                  'topic': 'blockstore-backup', 'availability_zone': az,
                                  'disabled': disabled})
    db.service_update(ctx, row.id, {'last_seen_at': utcnow() - datetime.timedelta(seconds=seen)})
    return row


@pytest.fixture
def services(database):
    """Tests start without backup services and leave none behind."""
    ctx = context.get_admin_context()

    def clear():
        for svc in db.service_get_all(ctx, binary=backup_api.BINARY):
            db.service_destroy(ctx, svc.id)
    clear()
    made = []

    def make(host=None, **kwargs):
        row = _service(host or 'bk-%s' % uuid.uuid4().hex[:8], **kwargs)
        made.append(row)
        return row
    yield make
    clear()


@pytest.fixture
def service(services):
    return services('node-a')


@pytest.fixture(scope='module')
def vtype(database):
    return db.volume_type_create(context.get_admin_context(),
                                 {'name': 'bapi-%s' % database.name}).id


def _volume(ctx, vtype, project, status=states.AVAILABLE, size=2, **values):
    return db.volume_create(ctx, dict(project_id=project, user_id='u', size=size, status=status,
                                      volume_type_id=vtype, availability_zone='nova',
                                      **values)).id


def _backup(project, volume_id, status=states.AVAILABLE, size=2, work=None, **values):
    return db_backups.backup_create(context.get_admin_context(), dict(
        project_id=project, user_id='u', size=size, status=status, volume_id=volume_id,
        **values), work=work)


def _status(resource, rid):
    ctx = context.get_admin_context()
    get = {'volume': db.volume_get, 'snapshot': db.snapshot_get,
           'backup': db_backups.backup_get}[resource]
    return get(ctx, rid, read_deleted=True).status


def _work(rid):
    return [(w.operation, w.status, w.service_id)
            for w in db.worker_get_all(context.get_admin_context(), resource_id=rid)]


# ---------------------------------------------------------------------------
# create
# ---------------------------------------------------------------------------

def test_create_claims_the_volume_records_work_and_casts(api, rpc, user_ctx, vtype, project,
                                                         service):
    vid = _volume(user_ctx, vtype, project)
    backup = api.create(user_ctx, vid, name='b', description='d', container='mine',
                        metadata={'k': 'v'})
    assert _status('volume', vid) == 'backing-up'
    row = db_backups.backup_get(user_ctx, backup.id)
    assert (row.status, row.size, row.host, row.availability_zone, row.container) == (
        'creating', 2, 'node-a', 'nova', 'mine')
    assert (row.display_name, row.display_description, row.project_id) == ('b', 'd', project)
    assert row.parent_id is None and row.data_timestamp is not None
    assert backup.metadata == {'k': 'v'} and not backup.is_incremental
    assert _work(backup.id) == [('create', 'creating', service.id)]
    assert rpc.calls == [('create_backup', backup.id)]


def test_create_refuses_unusable_volumes(api, rpc, user_ctx, vtype, project, service):
    with pytest.raises(exception.VolumeNotFound):
        api.create(user_ctx, str(uuid.uuid4()))
    other = _volume(user_ctx, vtype, 'someone-else')
    with pytest.raises(exception.VolumeNotFound):
        api.create(user_ctx, other)
    busy = _volume(user_ctx, vtype, project, status=states.EXTENDING)
    with pytest.raises(exception.InvalidVolume, match='must be available or in-use'):
        api.create(user_ctx, busy)
    attached = _volume(user_ctx, vtype, project, status=states.IN_USE, attach_status='attached')
    with pytest.raises(exception.InvalidVolume, match='force flag'):
        api.create(user_ctx, attached)
    assert rpc.calls == []
    assert db_backups.backup_count(user_ctx, project_id=project) == 0


def test_forced_backup_of_an_in_use_volume_keeps_it_in_use(api, rpc, user_ctx, vtype, project,
                                                          service):
    vid = _volume(user_ctx, vtype, project, status=states.IN_USE, attach_status='attached')
    backup = api.create(user_ctx, vid, force=True)
    assert _status('volume', vid) == 'in-use'
    assert _status('backup', backup.id) == 'creating'
    assert rpc.names() == ['create_backup']


def test_lost_claim_inserts_nothing(api, volumes, rpc, user_ctx, vtype, project, service):
    vid = _volume(user_ctx, vtype, project)
    parent = _backup(project, vid)
    # Read available, then migrating before the claim: the claim decides.
    volumes.on_get = lambda: db.volume_update(user_ctx, vid, {'migration_status': 'migrating'})
    with pytest.raises(exception.InvalidVolume, match='migrating'):
        api.create(user_ctx, vid, incremental=True)
    assert _status('volume', vid) == 'available'
    assert db_backups.backup_count(user_ctx, project_id=project) == 1   # the parent only
    assert db_backups.backup_get(user_ctx, parent.id).updated_at == parent.updated_at
    assert rpc.calls == []


def test_incremental_takes_the_newest_available_backup_as_parent(api, user_ctx, vtype, project,
                                                                 service):
    vid = _volume(user_ctx, vtype, project)
    with pytest.raises(exception.InvalidBackup, match='No backups available'):
        api.create(user_ctx, vid, incremental=True)
    now = utcnow()
    _backup(project, vid, data_timestamp=now - datetime.timedelta(hours=2))
    newest = _backup(project, vid, data_timestamp=now - datetime.timedelta(hours=1))
    _backup(project, vid, status=states.ERROR, data_timestamp=now)
    inc = api.create(user_ctx, vid, incremental=True)
    assert inc.parent_id == newest.id and inc.is_incremental
    # The parent cannot go while its incremental lives.
    with pytest.raises(exception.InvalidBackup, match='incremental backups depend'):
        api.delete(user_ctx, newest.id)
    assert api.get(user_ctx, newest.id).has_dependent_backups


def test_backup_of_a_snapshot_claims_the_snapshot(api, rpc, user_ctx, vtype, project, service):
    vid = _volume(user_ctx, vtype, project)
    snap = db.snapshot_create(user_ctx, dict(project_id=project, volume_id=vid, volume_size=2,
                                             status=states.AVAILABLE, volume_type_id=vtype))
    backup = api.create(user_ctx, vid, snapshot_id=snap.id)
    assert _status('snapshot', snap.id) == 'backing-up'
    assert _status('volume', vid) == 'available'
    assert backup.snapshot_id == snap.id
    assert backup.data_timestamp.replace(tzinfo=None) == snap.created_at
    with pytest.raises(exception.InvalidSnapshot, match='must be available'):
        api.create(user_ctx, vid, snapshot_id=snap.id)
    other = _volume(user_ctx, vtype, project)
    with pytest.raises(exception.InvalidVolume, match='does not match'):
        api.create(user_ctx, other, snapshot_id=snap.id)
    # The snapshot cannot be deleted while its backup is being made.
    assert states.transition(user_ctx, 'snapshot', snap.id, 'backup_done')
    with pytest.raises(exception.InvalidSnapshot, match='a backup of the snapshot'):
        states.transition_or_raise(user_ctx, 'snapshot', snap.id, 'delete')


def test_over_quota_gives_the_volume_back(api, rpc, user_ctx, admin, vtype, project, service):
    quota_db.project_limits_update(admin, project, {'backups': 1, 'backup_gigabytes': 3})
    vid = _volume(user_ctx, vtype, project)
    first = api.create(user_ctx, vid)
    assert states.transition(admin, 'volume', vid, 'backup_done')
    with pytest.raises(exception.BackupLimitExceeded) as info:
        api.create(user_ctx, vid)
    assert info.value.code == 413
    assert _status('volume', vid) == 'available'
    assert [b.id for b in api.get_all(user_ctx)[0]] == [first.id]
    quota_db.project_limits_update(admin, project, {'backups': 5})
    with pytest.raises(exception.VolumeBackupSizeExceedsAvailableQuota):
        api.create(user_ctx, vid)           # 2 GiB more than the 3 allowed
    assert _status('volume', vid) == 'available'
    assert rpc.names() == ['create_backup']


# ---------------------------------------------------------------------------
# choosing a backup service
# ---------------------------------------------------------------------------

def test_no_live_backup_service_is_a_503(api, rpc, user_ctx, vtype, project, services):
    vid = _volume(user_ctx, vtype, project)
    services('down', seen=3600)
    services('off', disabled=True)
    with pytest.raises(exception.BackupServiceUnavailable) as info:
        api.create(user_ctx, vid)
    assert info.value.code == 503
    assert 'Retry-After' not in getattr(info.value, 'headers', {})   # none is coming back
    assert _status('volume', vid) == 'available' and rpc.calls == []


def test_a_restarting_backup_service_is_a_503_to_retry(api, rpc, user_ctx, vtype, project,
                                                       services):
    """Down, but seen a moment ago (restarting): the 503 carries Retry-After."""
    from oslo_config import cfg
    vid = _volume(user_ctx, vtype, project)
    services('restarting', seen=cfg.CONF.service_down_time + 5)
    with pytest.raises(exception.BackupServiceUnavailable) as info:
        api.create(user_ctx, vid)
    assert int(info.value.headers['Retry-After']) > 0
    assert _status('volume', vid) == 'available' and rpc.calls == []


def test_service_choice_by_zone_and_load(api, user_ctx, vtype, project, services):
    busy, idle = services('busy'), services('idle')
    services('elsewhere', az='az2')
    vid = _volume(user_ctx, vtype, project)
    for _ in range(2):
        _backup(project, vid, status=states.CREATING, host='busy',
                work={'operation': 'create', 'status': states.CREATING})
    assert api.create(user_ctx, vid).host == 'idle'
    vid2 = _volume(user_ctx, vtype, project)
    assert api.create(user_ctx, vid2, availability_zone='az2').host == 'elsewhere'
    vid3 = _volume(user_ctx, vtype, project)
    with pytest.raises(exception.BackupServiceUnavailable, match='az3'):
        api.create(user_ctx, vid3, availability_zone='az3')
    assert busy.id != idle.id


# ---------------------------------------------------------------------------
# reads and update
# ---------------------------------------------------------------------------

def test_get_and_get_all_are_project_scoped(api, user_ctx, admin, vtype, project):
    vid = _volume(user_ctx, vtype, project)
    mine = [_backup(project, vid, display_name='n%d' % i).id for i in range(3)]
    theirs = _backup('other-' + project, vid)
    assert api.get(user_ctx, mine[0]).id == mine[0]
    with pytest.raises(exception.BackupNotFound):
        api.get(user_ctx, theirs.id)
    assert api.get(admin, theirs.id).id == theirs.id
    page, count = api.get_all(user_ctx, limit=2, sort_keys=['display_name'], sort_dirs=['asc'])
    assert [b.display_name for b in page] == ['n0', 'n1'] and count == 3
    page, count = api.get_all(user_ctx, filters={'project_id': 'other-' + project})
    assert count == 3                         # a member's project_id filter is dropped
    _page, count = api.get_all(admin, filters={'project_id': 'other-' + project},
                               all_tenants=True)
    assert count == 1


def test_update_name_description_metadata(api, user_ctx, vtype, project):
    b = _backup(project, _volume(user_ctx, vtype, project))
    updated = api.update(user_ctx, b.id, {'display_name': 'new', 'display_description': 'x',
                                          'metadata': {'a': '1'}})
    assert (updated.display_name, updated.metadata) == ('new', {'a': '1'})
    got = api.get(user_ctx, b.id)
    assert (got.display_name, got.display_description, got.metadata) == ('new', 'x', {'a': '1'})
    with pytest.raises(exception.InvalidInput):
        api.update(user_ctx, b.id, {'status': 'error'})
    with pytest.raises(exception.BackupNotFound):
        api.update(user_ctx, _backup('other', b.volume_id).id, {'display_name': 'x'})


# ---------------------------------------------------------------------------
# delete and reset
# ---------------------------------------------------------------------------

def test_delete_claims_and_casts_to_a_live_service(api, rpc, user_ctx, vtype, project, services):
    svc = services('node-b')
    b = _backup(project, _volume(user_ctx, vtype, project), host='gone-host',
                service_metadata='prefix')
    api.delete(user_ctx, b.id)
    row = db_backups.backup_get(user_ctx, b.id)
    assert (row.status, row.host) == ('deleting', 'node-b')   # its own host is not up
    assert _work(b.id) == [('delete', 'deleting', svc.id)]
    assert rpc.calls == [('delete_backup', b.id)]


def test_delete_refusals(api, rpc, user_ctx, admin, vtype, project, service):
    vid = _volume(user_ctx, vtype, project)
    running = _backup(project, vid, status=states.CREATING, host='node-a')
    with pytest.raises(exception.InvalidBackup, match='but is creating'):
        api.delete(user_ctx, running.id)
    with pytest.raises(exception.BackupNotFound):
        api.delete(user_ctx, _backup('other-' + project, vid, host='node-a').id)
    assert _status('backup', running.id) == 'creating' and rpc.calls == []


def test_delete_of_a_backup_that_stored_nothing_finishes_here(api, rpc, user_ctx, vtype,
                                                              project, services):
    vid = _volume(user_ctx, vtype, project)
    b = _backup(project, vid, status=states.ERROR)
    api.delete(user_ctx, b.id)          # no host, nothing stored, no service needed
    failed = _backup(project, vid, status=states.ERROR, host='gone-host')
    api.delete(user_ctx, failed.id)     # failed before it stored anything
    assert _status('backup', b.id) == 'deleted' and _status('backup', failed.id) == 'deleted'
    assert rpc.calls == []
    stored = _backup(project, vid, status=states.ERROR, host='gone-host', service='posix',
                     service_metadata='prefix')
    with pytest.raises(exception.BackupServiceUnavailable):
        api.delete(user_ctx, stored.id)
    assert _status('backup', stored.id) == 'error'


def test_force_delete_cancels_a_running_backup(api, rpc, admin, user_ctx, vtype, project,
                                               service):
    vid = _volume(user_ctx, vtype, project)
    running = _backup(project, vid, status=states.CREATING, host='node-a',
                      work={'operation': 'create', 'status': states.CREATING})
    api.delete(admin, running.id, force=True)
    assert _status('backup', running.id) == 'deleting'
    assert [w[0] for w in _work(running.id)] == ['create']   # its operation ends it
    assert rpc.calls == []
    stuck = _backup(project, vid, status=states.ERROR_DELETING, host='node-a',
                    service_metadata='p')
    api.delete(admin, stuck.id, force=True)
    assert _status('backup', stuck.id) == 'deleting'
    assert rpc.calls == [('delete_backup', stuck.id)]
    orphan = _backup(project, vid, status=states.CREATING)     # no service ever took it
    api.delete(admin, orphan.id, force=True)
    assert _status('backup', orphan.id) == 'deleted'
    assert rpc.calls == [('delete_backup', stuck.id)]


def test_reset_status(api, admin, user_ctx, vtype, project):
    b = _backup(project, _volume(user_ctx, vtype, project), status=states.CREATING)
    api.reset_status(admin, b.id, 'error')
    assert _status('backup', b.id) == 'error'
    api.reset_status(admin, b.id, 'available')
    assert _status('backup', b.id) == 'available'
    with pytest.raises(exception.InvalidBackup, match='available or error'):
        api.reset_status(admin, b.id, 'creating')


# ---------------------------------------------------------------------------
# restore
# ---------------------------------------------------------------------------

def test_restore_onto_a_volume_claims_both_and_casts(api, rpc, user_ctx, vtype, project,
                                                     service):
    b = _backup(project, _volume(user_ctx, vtype, project), host='node-a')
    target = _volume(user_ctx, vtype, project, size=3, display_name='target')
    result = api.restore(user_ctx, b.id, volume_id=target)
    assert result == {'backup_id': b.id, 'volume_id': target, 'volume_name': 'target'}
    assert _status('volume', target) == 'restoring-backup'
    row = db_backups.backup_get(user_ctx, b.id)
    assert (row.status, row.restore_volume_id, row.host) == ('restoring', target, 'node-a')
    [w] = db.worker_get_all(user_ctx, resource_id=b.id)
    assert (w.operation, w.status, w.service_id) == ('restore', 'restoring', service.id)
    assert jsonutils.loads(w.payload) == {'volume_id': target}
    assert rpc.calls == [('restore_backup', b.id, target)]
    # The backup is held: it cannot be deleted or restored again meanwhile.
    with pytest.raises(exception.InvalidBackup):
        api.delete(user_ctx, b.id)
    with pytest.raises(exception.InvalidBackup, match='must be available'):
        api.restore(user_ctx, b.id, volume_id=_volume(user_ctx, vtype, project))


def test_restore_refusals_leave_both_as_they_were(api, volumes, rpc, user_ctx, admin, vtype,
                                                  project, service):
    b = _backup(project, _volume(user_ctx, vtype, project), size=2, host='node-a')
    small = _volume(user_ctx, vtype, project, size=1)
    with pytest.raises(exception.InvalidVolume, match='too small'):
        api.restore(user_ctx, b.id, volume_id=small)
    attached = _volume(user_ctx, vtype, project, status=states.IN_USE, attach_status='attached')
    with pytest.raises(exception.InvalidVolume, match='must be available'):
        api.restore(user_ctx, b.id, volume_id=attached)
    with pytest.raises(exception.VolumeNotFound):
        api.restore(user_ctx, b.id, volume_id=_volume(user_ctx, vtype, 'other-' + project))
    # The volume claim wins, the backup's loses (reset meanwhile): both rolled back.
    target = _volume(user_ctx, vtype, project)
    volumes.on_get = lambda: states.transition(admin, 'backup', b.id, 'reset', target='error')
    with pytest.raises(exception.InvalidBackup, match='but is error'):
        api.restore(user_ctx, b.id, volume_id=target)
    assert _status('volume', target) == 'available'
    assert db_backups.backup_get(user_ctx, b.id).restore_volume_id is None
    assert _work(b.id) == [] and rpc.calls == []


def test_restore_to_a_new_volume_goes_through_the_volume_service(api, volumes, rpc, user_ctx,
                                                                 vtype, project, service):
    b = _backup(project, _volume(user_ctx, vtype, project), size=4, host='node-a')
    result = api.restore(user_ctx, b.id)
    [create] = volumes.creates
    assert create == {'size': 4, 'name': 'restore_backup_%s' % b.id,
                      'description': 'auto-created_from_restore_from_backup',
                      'backup_id': b.id}
    assert result['backup_id'] == b.id and result['volume_name'] == 'restore_backup_%s' % b.id
    assert api.restore(user_ctx, b.id, name='mine')['volume_name'] == 'mine'
    assert rpc.calls == []     # the volume service hands the new volume over


# ---------------------------------------------------------------------------
# export and import
# ---------------------------------------------------------------------------

def test_export_record_needs_an_available_backup(api, rpc, admin, user_ctx, vtype, project,
                                                 service):
    vid = _volume(user_ctx, vtype, project)
    b = _backup(project, vid, host='node-a')
    assert api.export_record(admin, b.id) == {'backup_service': 'posix',
                                              'backup_url': 'url-of-%s' % b.id}
    bad = _backup(project, vid, status=states.ERROR, host='node-a')
    with pytest.raises(exception.InvalidBackup, match='but is error'):
        api.export_record(admin, bad.id)
    elsewhere = _backup(project, vid, host='gone-host')   # its own service is not up
    api.export_record(admin, elsewhere.id)
    assert rpc.calls == [('export_record', b.id, 'node-a'),
                         ('export_record', elsewhere.id, 'node-a')]
    assert db_backups.backup_get(admin, elsewhere.id).host == 'gone-host'


def _url(**values):
    return base64.b64encode(jsonutils.dump_as_bytes(values)).decode('ascii')


def test_import_record_makes_a_creating_backup_and_casts(api, rpc, admin, service):
    bid, vid = str(uuid.uuid4()), str(uuid.uuid4())
    url = _url(id=bid, volume_id=vid, project_id='exporter', size=3, object_count=7, container='c',
               service_metadata='volume_x/backup_y', display_name='imported',
               data_timestamp='2026-12-01T10:00:00', metadata={'m': 'n'})
    backup = api.import_record(admin, 'posix', url)
    assert backup.id == bid
    row = db_backups.backup_get(admin, bid)
    assert (row.status, row.volume_id, row.size, row.object_count, row.service, row.host) == (
        'creating', vid, 3, 7, 'posix', 'node-a')
    assert (row.container, row.service_metadata, row.display_name) == (
        'c', 'volume_x/backup_y', 'imported')
    assert row.data_timestamp == datetime.datetime(2026, 12, 1, 10, 0)
    assert row.project_id == 'exporter'    # the admin context has no project
    assert backup.metadata == {'m': 'n'}
    assert _work(bid) == [('import', 'creating', service.id)]
    assert rpc.calls == [('import_record', bid, 'posix', url)]

    with pytest.raises(exception.InvalidBackup, match='already exists'):
        api.import_record(admin, 'posix', url)
    assert states.transition(admin, 'backup', bid, 'create_failed')
    assert states.transition(admin, 'backup', bid, 'delete')
    assert states.transition(admin, 'backup', bid, 'delete_done')
    again = api.import_record(admin, 'posix', url)      # a deleted one's id: a new id
    assert again.id != bid and again.service_metadata == 'volume_x/backup_y'


def test_import_record_refuses_bad_input(api, rpc, admin, service):
    with pytest.raises(exception.InvalidBackup, match='unknown backup service'):
        api.import_record(admin, 'tape', _url(id=str(uuid.uuid4())))
    with pytest.raises(exception.InvalidBackup, match='cannot be decoded'):
        api.import_record(admin, 'posix', 'not base64!')
    with pytest.raises(exception.InvalidBackup, match='not an object'):
        api.import_record(admin, 'posix', base64.b64encode(b'[1]').decode())
    assert rpc.calls == []
