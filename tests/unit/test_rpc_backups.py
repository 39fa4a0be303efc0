"""RPC 1.8 of the volume service: backups reach volumes only through services that serve
backup_device; a create from a backup is refused while an older volume service runs (it
would make the volume and leave it empty and available)."""

import pytest

from blockstore.backup import rpcapi as backup_rpcapi
from blockstore.common import exception
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore import objects
from blockstore.volume import manager as vol_manager
from blockstore.volume import rpcapi as volume_rpcapi
from tests.unit.rpc_fixtures import fresh_pins  # noqa: F401  (autouse)

objects.register_all()


def test_backup_calls_need_rpc_1_8(ctx):
    rpc.init()
    svc = db.service_create(ctx, {'host': 'a@file1', 'binary': 'blockstore-volume',
                                  'topic': 'blockstore-volume', 'rpc_current_version': '1.7',
                                  'object_current_version': '1.3'})
    api = volume_rpcapi.VolumeAPI()
    volume = objects.Volume(ctx, id='6f3b2a10-0000-4000-8000-000000000010',
                            host='a@file1#file1')
    backup_id = '6f3b2a10-0000-4000-8000-000000000011'
    for call in (lambda: api.backup_device(ctx, volume, backup_id),
                 lambda: api.backup_device_release(ctx, volume, None),
                 lambda: api.create_volume(ctx, volume, {'backup_id': backup_id})):
        with pytest.raises(exception.ServiceTooOld) as info:
            call()
        assert 'older than RPC 1.8' in str(info.value)

    db.service_update(ctx, svc.id, {'rpc_current_version': '1.8'})   # upgraded
    rpc.reset_pins()
    volume_rpcapi.VolumeAPI().require_backups()


def test_versions_of_the_backup_service_and_its_clients():
    assert vol_manager.VolumeManager.RPC_API_VERSION == volume_rpcapi.VolumeAPI.RPC_API_VERSION
    from blockstore.backup import manager as backup_manager
    assert (backup_manager.BackupManager.RPC_API_VERSION
            == backup_rpcapi.BackupAPI.RPC_API_VERSION == '1.0')
    assert backup_rpcapi.BackupAPI.BINARY == 'blockstore-backup'


def test_create_from_a_backup_is_refused_beside_an_older_volume_service(ctx):
    """Refused before anything is claimed: the backup stays available, no volume row."""
    from blockstore.db import backups as db_backups
    from blockstore.objects import states
    from blockstore.volume import api as volume_api
    rpc.init()
    db.service_create(ctx, {'host': 'b@file1', 'binary': 'blockstore-volume',
                            'topic': 'blockstore-volume', 'rpc_current_version': '1.7',
                            'object_current_version': '1.3'})
    backup = db_backups.backup_create(ctx, {
        'volume_id': '6f3b2a10-0000-4000-8000-000000000020', 'project_id': 'p1',
        'user_id': 'u1', 'size': 1, 'status': states.AVAILABLE, 'deleted': False})
    with pytest.raises(exception.ServiceTooOld, match='create volumes from backups'):
        volume_api.API().create(ctx, None, 'from-backup', backup_id=backup.id)
    assert db_backups.backup_get(ctx, backup.id).status == states.AVAILABLE
    assert not [v for v in db.volume_get_all(ctx) if v.display_name == 'from-backup']
