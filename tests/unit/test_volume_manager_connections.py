"""Volume manager, legacy attach actions: export model updates saved, exports restored at start."""

import os
import types

import pytest

from blockstore.common import exception
from blockstore import objects
from blockstore.volume import manager as vol_manager
from blockstore.volume.drivers import base as driver_base
from blockstore.volume.drivers import file as file_driver
from tests.unit.test_volume_manager import _volume

CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:unit', 'host': 'compute1'}


class ExportingFileDriver(file_driver.FileDriver, driver_base.ExportOps):
    """The file driver plus an in-memory export table (what a target helper would keep)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.exports = {}   # volume id -> record
        self.calls = []

    def create_export(self, context, volume, connector):
        self.calls.append(('create_export', volume.id))
        self.exports[volume.id] = {'live': True}
        return {'provider_location': 'portal,1 iqn.x:%s 1' % volume.id,
                'provider_auth': 'CHAP user secret-password'}

    def ensure_export(self, context, volume):
        self.calls.append(('ensure_export', volume.id))
        if volume.id not in self.exports:
            return None
        self.exports[volume.id]['live'] = True
        return {'provider_location': volume.provider_location}

    def remove_export(self, context, volume):
        self.calls.append(('remove_export', volume.id))
        self.exports.pop(volume.id, None)

    def initialize_connection(self, volume, connector):
        self.calls.append(('initialize_connection', volume.id, volume.provider_auth))
        return {'driver_volume_type': 'iscsi', 'data': {'auth_password': 'secret-password'}}

    def terminate_connection(self, volume, connector, remaining_attachments=None, **kw):
        self.calls.append(('terminate_connection', volume.id, connector,
                           remaining_attachments))


@pytest.fixture
def mgr(database, tmp_path, ctx, monkeypatch):
    conf = types.SimpleNamespace(volume_driver='file', volume_backend_name='b1',
                                 file_volumes_dir=str(tmp_path / 'vols'), file_capacity_gb=100,
                                 reserved_percentage=0, max_over_subscription_ratio=20.0)
    host = 'node-%s@b1' % os.urandom(3).hex()
    m = vol_manager.VolumeManager(host, conf)
    m.driver = ExportingFileDriver(conf, host)
    svc = objects.Service(ctx, host=host, binary='blockstore-volume', topic='t',
                          report_count=0, disabled=False, frozen=False,
                          availability_zone='nova', replication_status='not-capable')
    svc.create()
    m.service = svc
    return m


def _available(ctx, mgr):
    v = _volume(ctx, mgr.host)
    assert v.transition('create_done')
    return v


def test_initialize_saves_the_export_and_returns_connection_info(mgr, ctx, caplog):
    mgr.init_host(ctx)
    v = _available(ctx, mgr)
    info = mgr.initialize_connection(ctx, v, CONNECTOR)
    assert info['driver_volume_type'] == 'iscsi'
    v.refresh()
    assert v.provider_location == 'portal,1 iqn.x:%s 1' % v.id
    assert v.provider_auth == 'CHAP user secret-password' and v.status == 'available'
    assert ('initialize_connection', v.id, v.provider_auth) in mgr.driver.calls
    assert 'secret-password' not in caplog.text

    mgr.terminate_connection(ctx, v, CONNECTOR)
    assert mgr.driver.calls[-2:] == [('terminate_connection', v.id, CONNECTOR, []),
                                     ('remove_export', v.id)]
    assert v.id not in mgr.driver.exports


def test_initialize_on_a_deleting_volume_removes_the_export(mgr, ctx):
    mgr.init_host(ctx)
    v = _available(ctx, mgr)
    assert v.transition('delete')
    with pytest.raises(exception.InvalidVolume):
        mgr.initialize_connection(ctx, v, CONNECTOR)
    assert v.id not in mgr.driver.exports
    assert objects.Volume.get_by_id(ctx, v.id).provider_auth is None


def test_init_host_restores_exports_of_exported_volumes(mgr, ctx):
    mgr.init_host(ctx)
    exported, plain = _available(ctx, mgr), _available(ctx, mgr)
    mgr.initialize_connection(ctx, exported, CONNECTOR)
    mgr.driver.exports[exported.id]['live'] = False   # e.g. tgtd restarted
    mgr.driver.calls.clear()
    mgr._ready = False
    mgr.init_host(ctx)
    assert ('ensure_export', exported.id) in mgr.driver.calls
    assert ('ensure_export', plain.id) not in mgr.driver.calls   # no provider_location
    assert mgr.driver.exports[exported.id]['live']


@pytest.mark.parametrize('shared', [False, True, None])
def test_create_records_whether_targets_are_shared(mgr, ctx, shared):
    mgr.init_host(ctx)
    mgr.driver.shared_targets = shared
    v = _volume(ctx, mgr.host)
    mgr.create_volume(ctx, v)
    v.refresh()
    assert v.status == 'available' and v.shared_targets is shared
    assert v.service_uuid == mgr.service.uuid
