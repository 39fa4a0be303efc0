"""A backup service on another node than the volume's: the decision, the RPC shapes, and
a whole backup and restore over an export (file driver: a ``local`` connection that
os-brick's LOCAL connector opens, as a backup service seeing the backend's directory
does), with the real volume manager, store and SQLite. The iSCSI export of LVM volumes
and snapshots runs for real in the kernel tier (tests/e2e/kernel/inside/
test_backup_remote.py)."""

import os
import types

import pytest
from oslo_config import cfg

from blockstore.backup import manager as backup_manager
from blockstore.backup import remote
from blockstore.common import rpc
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import states
from blockstore.volume import rpcapi as volume_rpcapi
from blockstore.volume.backups import worker as backup_worker
from tests.unit.backup import test_manager as tm
from tests.unit.drivers import test_lvm_driver as tl

pytest.importorskip('os_brick', reason='reading over an export needs os-brick')

CONF = cfg.CONF
GiB = tm.GiB
backup_conf = tm.backup_conf   # fixtures
vmgr = tm.vmgr


@pytest.mark.parametrize('mode,service_host,volume_host,expected', [
    ('auto', 'node1', 'node1@lvm#pool', False),
    ('auto', 'node1', 'node1@lvm', False),
    ('auto', 'node2', 'node1@lvm#pool', True),
    ('auto', 'node1', 'node10@lvm#pool', True),
    ('always', 'node1', 'node1@lvm#pool', True),
    ('never', 'node2', 'node1@lvm#pool', False),
])
def test_an_export_is_used_when_the_volume_is_on_another_node(mode, service_host,
                                                              volume_host, expected):
    assert remote.use_export(mode, service_host, volume_host) is expected


def test_the_option_is_declared_with_auto_by_default():
    assert CONF.backup.backup_use_export == 'auto'
    with pytest.raises(ValueError):
        CONF.set_override('backup_use_export', 'sometimes', group='backup')


class _Recorder:
    def __init__(self):
        self.calls = []

    def prepare(self, **kwargs):
        self.calls.append(('prepare', kwargs))
        return self

    def call(self, ctxt, method, **kwargs):
        self.calls.append((method, kwargs))
        return {}


def test_rpc_shapes_carry_the_connector_only_when_exporting(ctx, monkeypatch):
    api = volume_rpcapi.VolumeAPI()
    rec = _Recorder()
    monkeypatch.setattr(api, 'require_backups', lambda *a, **k: None)
    monkeypatch.setattr(api, '_prepare', lambda host, **kw: rec.prepare(host=host, **kw))
    volume = types.SimpleNamespace(id='v1', host='node1@lvm#pool')
    api.backup_device(ctx, volume, 'b1')
    api.backup_device(ctx, volume, 'b1', connector={'initiator': 'iqn.x', 'host': 'n2'})
    api.backup_device_release(ctx, volume, None, backup_id='b1')
    api.backup_device_release(ctx, volume, None, backup_id='b1', exported=True)
    calls = [c for c in rec.calls if c[0] != 'prepare']
    assert 'connector' not in calls[0][1]
    assert calls[1][1]['connector'] == {'initiator': 'iqn.x', 'host': 'n2'}
    assert 'exported' not in calls[2][1]
    assert calls[3][1]['exported'] is True
    preps = [c[1] for c in rec.calls if c[0] == 'prepare']
    assert all(p['version'] == '1.8' for p in preps)
    assert preps[1]['timeout'] == api.BACKUP_DEVICE_TIMEOUT   # the export is made in the call


@pytest.fixture
def remote_bmgr(database, ctx, vmgr, backup_conf, monkeypatch):
    monkeypatch.setattr(backup_manager, 'CANCEL_POLL', 0.0)
    host = 'backup-node-%s' % os.urandom(3).hex()     # not the volume's node
    m = backup_manager.BackupManager(host)
    m.service = tm._service(ctx, host, 'blockstore-backup')
    m.volume_rpcapi = Answers(tm.InProcessVolumeRPC(vmgr))
    return m


class Answers:
    """Keeps what backup_device answered."""

    def __init__(self, rpc_api):
        self.rpc_api = rpc_api
        self.answers = []

    @property
    def calls(self):
        return self.rpc_api.calls

    def backup_device(self, *args, **kwargs):
        answer = self.rpc_api.backup_device(*args, **kwargs)
        self.answers.append(answer)
        return answer

    def backup_device_release(self, *args, **kwargs):
        self.calls.append(('release-exported', kwargs.get('exported')))
        return self.rpc_api.backup_device_release(*args, **kwargs)


def test_backup_and_restore_over_an_export(remote_bmgr, vmgr, ctx):
    bmgr = remote_bmgr
    v = tm._volume(ctx, vmgr)
    tm._fill(v)
    b = tm._backup(ctx, bmgr, v)
    assert b.status == states.AVAILABLE, b.fail_reason
    assert 0 < b.bytes_read < 4 * tm.MiB
    connector = [c[1] for c in bmgr.volume_rpcapi.calls if c[0] == 'connector']
    assert len(connector) == 1 and connector[0]['host'] == bmgr.host
    assert connector[0]['platform'] and 'ip' in connector[0]
    answer = bmgr.volume_rpcapi.answers[0]
    assert 'path' not in answer
    assert answer['connection_info']['driver_volume_type'] == 'local'
    assert answer['connection_info']['data']['device_path'] == v.provider_location
    assert ('release-exported', True) in bmgr.volume_rpcapi.calls
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE

    target = tm._volume(ctx, vmgr)
    tm._write(target.provider_location, 10 * tm.MiB, b'old data' * 1000)
    tm._start_restore(ctx, b, target)
    bmgr.restore_backup(ctx, b, target.id)
    assert objects.Volume.get_by_id(ctx, target.id).status == states.AVAILABLE
    assert tm._same_content(v.provider_location, target.provider_location, GiB)
    assert 'path' not in bmgr.volume_rpcapi.answers[-1]
    assert bmgr.volume_rpcapi.calls[-2] == ('release-exported', True)
    assert tm._no_work(ctx, b.id)


def test_never_reads_the_local_path_even_from_another_node(remote_bmgr, vmgr, ctx):
    CONF.set_override('backup_use_export', 'never', group='backup')
    try:
        v = tm._volume(ctx, vmgr)
        tm._fill(v)
        b = tm._backup(ctx, remote_bmgr, v)
    finally:
        CONF.clear_override('backup_use_export', group='backup')
    assert b.status == states.AVAILABLE, b.fail_reason
    assert not [c for c in remote_bmgr.volume_rpcapi.calls if c[0] == 'connector']
    assert remote_bmgr.volume_rpcapi.answers[0]['path'] == v.provider_location
    assert ('release-exported', False) in remote_bmgr.volume_rpcapi.calls


def test_an_attached_volume_is_exported_through_its_temporary_snapshot(remote_bmgr, vmgr,
                                                                        ctx):
    v = tm._volume(ctx, vmgr)
    tm._fill(v)
    assert v.transition('reset', target=states.IN_USE)
    b = tm._backup(ctx, remote_bmgr, v)
    assert b.status == states.AVAILABLE, b.fail_reason
    answer = remote_bmgr.volume_rpcapi.answers[0]
    assert answer['temp_snapshot_id']
    path = answer['connection_info']['data']['device_path']
    assert path != v.provider_location and 'snapshot' in os.path.basename(path)
    assert objects.Volume.get_by_id(ctx, v.id).status == states.IN_USE
    snap = objects.Snapshot.get_by_id(ctx, answer['temp_snapshot_id'], read_deleted=True)
    assert snap.deleted and not os.path.exists(path)


def test_lvm_exports_the_backup_device_as_a_target_of_its_own(monkeypatch):
    fake = tl.FakeHost()
    drv = tl.make_driver(fake, dm=True, monkeypatch=monkeypatch)
    seen = []

    class Target:
        def initialize_connection(self, subject, connector, path):
            seen.append(('connect', subject.name, subject.id, path, connector['initiator']))
            return {'driver_volume_type': 'iscsi', 'data': {'target_iqn': 'iqn:' + subject.name}}

        def remove_export(self, context, subject):
            seen.append(('remove', subject.name))

    drv.target = Target()
    vol = tl.volume('a')
    name = backup_worker.export_name('b1')
    info = drv.export_backup_device(None, vol, name, '/dev/vg1/_backup-b1',
                                    {'initiator': 'iqn.2004-10.com.example:bk'})
    drv.remove_backup_export(None, vol, name)
    assert info['data']['target_iqn'] == 'iqn:backup-b1'
    assert seen == [('connect', 'backup-b1', 'a', '/dev/vg1/_backup-b1',
                     'iqn.2004-10.com.example:bk'), ('remove', 'backup-b1')]
    assert backup_worker.export_name('b1', restore=True) == 'restore-b1'


def test_a_driver_that_cannot_export_is_refused_with_a_reason(vmgr, ctx, monkeypatch):
    from blockstore.volume.drivers import base
    monkeypatch.setattr(base, 'supports', lambda driver, iface: iface is not base.BackupExportOps)
    monkeypatch.setattr(backup_worker.driver_base, 'supports',
                        lambda driver, iface: iface is not base.BackupExportOps)
    v = tm._volume(ctx, vmgr)
    with pytest.raises(backup_worker.BackupDeviceRefused, match='cannot export'):
        vmgr.backup_device(ctx, v, 'b1', connector={'initiator': 'iqn.x'})
    rpc.reset_pins()


def test_recovery_releases_the_exports_a_crash_left(remote_bmgr, vmgr, ctx):
    """A crash mid-backup or mid-restore: on restart the volume service is told to remove
    the export (it may have been made) as it closes the source."""
    bmgr = remote_bmgr
    v = tm._volume(ctx, vmgr)
    b = tm._start_backup(ctx, bmgr, v)
    from blockstore.db import backups as db_backups
    db_backups.backup_update(ctx, b.id, {'service_metadata': bmgr._prefix(b)})   # begun
    # Run again from the start: the export the crashed run may have made is removed first.
    assert bmgr.recover(ctx) == 1
    assert ('release-exported', True) in bmgr.volume_rpcapi.calls
    tm._wait_status(b, states.AVAILABLE)
    # Interrupted once too often: it fails, and the export is removed as well.
    b = tm._start_backup(ctx, bmgr, v)
    db_backups.backup_update(ctx, b.id, {'service_metadata': bmgr._prefix(b)})
    db.worker_create(ctx, 'backup', b.id, 'create', states.CREATING,
                     service_id=bmgr.service.id,
                     payload={'restarts': backup_manager.MAX_RESTARTS})
    del bmgr.volume_rpcapi.calls[:]
    assert bmgr.recover(ctx) == 1
    assert ('release-exported', True) in bmgr.volume_rpcapi.calls
    assert objects.Backup.get_by_id(ctx, b.id, read_deleted=True).status == states.ERROR
    assert objects.Volume.get_by_id(ctx, v.id).status == states.AVAILABLE

    full = tm._backup(ctx, bmgr, tm._volume(ctx, vmgr))
    target = tm._volume(ctx, vmgr)
    tm._start_restore(ctx, full, target)
    db.worker_create(ctx, 'backup', full.id, 'restore', states.RESTORING,
                     payload={'volume_id': target.id,
                              'restarts': backup_manager.MAX_RESTARTS})
    del bmgr.volume_rpcapi.calls[:]
    assert bmgr.recover(ctx) == 1
    assert bmgr.volume_rpcapi.calls == [('release-exported', True),
                                        ('backup_device_release', None)]
    assert objects.Volume.get_by_id(ctx, target.id).status == states.ERROR_RESTORING
    assert tm._no_work(ctx, full.id)
