"""GET /capabilities/{hostname}: a back end's capabilities, from what it reported to the
scheduler (admin only)."""

import uuid

from blockstore.common import context
from blockstore.db import api as db
from tests.unit.api.conftest import fault_of
from tests.unit.api.test_services import Pools


def _volume_service(host, cluster=None):
    ctx = context.get_admin_context()
    row = db.service_create(ctx, {'host': host, 'binary': 'blockstore-volume',
                                  'topic': 'blockstore-volume', 'cluster_name': cluster,
                                  'availability_zone': 'nova', 'rpc_current_version': '1.0',
                                  'object_current_version': '1.0'})
    db.service_heartbeat(ctx, row.id, {})


def test_capabilities(app, admin, client):
    node = 'n-%s' % uuid.uuid4().hex[:8]
    backend = node + '@lvm'
    _volume_service(backend, cluster='c-' + node)
    caps = {'vendor_name': 'Open Source', 'volume_backend_name': 'lvm',
            'driver_version': '1.0', 'storage_protocol': 'iSCSI', 'pool_name': 'vg1',
            'total_capacity_gb': 10}
    app.volume_api.scheduler_rpcapi = Pools([
        {'name': backend + '#vg1', 'capabilities': caps},
        {'name': node + '@other#p', 'capabilities': {'vendor_name': 'nobody'}}])
    for name in (backend, 'c-' + node):
        resp = admin.get('/v3/capabilities/%s' % name)
        assert resp.status_int == 200, resp.body
        assert resp.json == {
            'namespace': 'OS::Storage::Capabilities::%s' % name,
            'vendor_name': 'Open Source', 'volume_backend_name': 'lvm', 'pool_name': 'vg1',
            'driver_version': '1.0', 'storage_protocol': 'iSCSI', 'display_name': None,
            'description': None, 'visibility': None, 'replication_targets': [],
            'properties': {}}
    assert client.get('/v3/capabilities/%s' % backend).status_int == 403
    resp = admin.get('/v3/capabilities/%s@nowhere' % node)
    assert resp.status_int == 404 and "Can't find service" in fault_of(resp)[2]
    # A service whose back end has reported nothing yet: 503, not made-up values.
    _volume_service(node + '@silent')
    resp = admin.get('/v3/capabilities/%s@silent' % node)
    assert resp.status_int == 503 and 'reported none' in fault_of(resp)[2]
