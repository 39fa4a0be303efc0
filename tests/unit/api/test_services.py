"""os-services, clusters, os-availability-zone and os-hosts: wire format, policy, bad input."""

import datetime
import uuid

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db.models import utcnow
from tests.unit.api.conftest import fault_of, make_available


class Pools:
    """A scheduler rpcapi stand-in answering get_pools."""

    def __init__(self, pools=()):
        self.pools = list(pools)
        self.calls = []

    def get_pools(self, ctx, filters=None, timeout=None):
        self.calls.append(filters)
        return [p for p in self.pools
                if not filters or not filters.get('name') or p['name'] == filters['name']]

    def __getattr__(self, name):
        return lambda *a, **kw: None


def _svc(host, binary='blockstore-volume', up=True, cluster=None, zone='nova', **values):
    ctx = context.get_admin_context()
    row = db.service_create(ctx, dict({'host': host, 'binary': binary, 'topic': binary,
                                       'availability_zone': zone, 'cluster_name': cluster,
                                       'rpc_current_version': '1.0',
                                       'object_current_version': '1.0'}, **values))
    db.service_heartbeat(ctx, row.id, {})
    if not up:
        db.service_update(ctx, row.id, {'last_seen_at': utcnow() - datetime.timedelta(
            seconds=3600)})
    return row


@pytest.fixture
def node():
    return 'n-%s' % uuid.uuid4().hex[:8]


def _services(admin, node, version=None, binary=None):
    url = '/v3/os-services?host=%s' % node
    if binary:
        url += '&binary=%s' % binary
    resp = admin.get(url, version=version)
    assert resp.status_int == 200, resp.body
    return resp.json['services']


def test_service_list_fields_by_version_and_binary(admin, node):
    _svc(node + '@b1', cluster='c1')
    _svc(node, binary='blockstore-scheduler')
    _svc(node + '@b2', up=False)
    vols = _services(admin, node + '@b1')
    assert len(vols) == 1
    vol = vols[0]
    assert set(vol) == {'binary', 'host', 'zone', 'status', 'state', 'updated_at',
                        'disabled_reason', 'replication_status', 'active_backend_id',
                        'frozen'}
    assert (vol['binary'], vol['status'], vol['state'], vol['zone']) == (
        'blockstore-volume', 'enabled', 'up', 'nova')
    assert vol['replication_status'] == 'not-capable' and vol['frozen'] is False
    # node matches its backends too (node@b1, node@b2), as in Cinder
    assert len(_services(admin, node)) == 3
    sched = _services(admin, node, binary='blockstore-scheduler')[0]
    assert set(sched) == {'binary', 'host', 'zone', 'status', 'state', 'updated_at',
                          'disabled_reason'}
    assert _services(admin, node + '@b2')[0]['state'] == 'down'
    assert _services(admin, node + '@b1', version='3.7')[0]['cluster'] == 'c1'
    assert 'cluster' not in _services(admin, node + '@b1', version='3.6')[0]
    assert 'backend_state' not in _services(admin, node + '@b1', version='3.48')[0]


def test_backend_state_from_the_scheduler_since_3_49(app, admin, node):
    _svc(node + '-sched', binary='blockstore-scheduler')
    _svc(node + '@b1')
    app.volume_api.scheduler_rpcapi = Pools([
        {'name': node + '@b1#p', 'capabilities': {'backend_state': 'down'}}])
    vol = _services(admin, node + '@b1', version='3.49')[0]
    assert vol['backend_state'] == 'down'
    assert 'backend_state' not in _services(admin, node + '-sched', version='3.49')[0]


def test_service_list_filters_and_binary_alias(admin, node):
    _svc(node + '@b1')
    assert _services(admin, node + '@b1', binary='cinder-volume')[0]['host'] == node + '@b1'
    assert _services(admin, node + '@b1', binary='blockstore-scheduler') == []


def test_services_are_admin_only(client):
    resp = client.get('/v3/os-services')
    assert resp.status_int == 403 and fault_of(resp)[0] == 'forbidden'
    assert client.put('/v3/os-services/enable', {'host': 'x', 'binary': 'y'}).status_int == 403


def test_enable_disable_and_reason(admin, node):
    host = node + '@b1'
    _svc(host)
    resp = admin.put('/v3/os-services/disable', {'host': host, 'binary': 'blockstore-volume'})
    assert resp.status_int == 200
    assert resp.json == {'host': host, 'service': '', 'binary': 'blockstore-volume',
                         'status': 'disabled', 'disabled': True}
    assert _services(admin, host)[0]['status'] == 'disabled'
    resp = admin.put('/v3/os-services/disable-log-reason',
                     {'host': host, 'binary': 'cinder-volume', 'disabled_reason': 'maint'})
    assert resp.status_int == 200
    assert resp.json['disabled_reason'] == 'maint' and resp.json['disabled'] is True
    assert _services(admin, host)[0]['disabled_reason'] == 'maint'
    resp = admin.put('/v3/os-services/enable', {'host': host, 'service': 'blockstore-volume'})
    assert resp.status_int == 200
    assert resp.json == {'host': host, 'service': 'blockstore-volume', 'binary': '',
                         'status': 'enabled', 'disabled': False, 'disabled_reason': None}
    svc = _services(admin, host)[0]
    assert (svc['status'], svc['disabled_reason']) == ('enabled', None)


@pytest.mark.parametrize('action, body, code, words', [
    ('enable', {'host': 'nope', 'binary': 'blockstore-volume'}, 404, 'could not be found'),
    ('enable', {'binary': 'blockstore-volume'}, 400, 'Host field is missing.'),
    ('enable', {'host': 'h'}, 400, 'is not valid under any of the given schemas'),
    ('enable', {'host': 'h', 'binary': 'b', 'extra': 1}, 400, 'Additional properties'),
    ('enable', {'host': 'h/x', 'binary': 'b'}, 400, 'does not match'),
    ('enable', [1], 400, 'JSON object'),
    ('disable-log-reason', {'host': 'h', 'binary': 'b', 'disabled_reason': ' ' * 3}, 400,
     'Disabled reason contains invalid characters or is too long'),
    ('disable-log-reason', {'host': 'h', 'binary': 'b'}, 400,
     'Disabled reason contains invalid characters or is too long'),
    ('reboot', {}, 400, 'Unknown action'),
    ('freeze', {}, 400, 'One and only one of cluster and host must be set.'),
    ('freeze', {'host': 'nowhere'}, 400, 'No service found with host=nowhere'),
    ('failover_host', {'host': 'nowhere'}, 400, 'No service found with host=nowhere'),
])
def test_service_actions_bad_input(admin, action, body, code, words):
    resp = admin.put('/v3/os-services/%s' % action, body, version='3.71')
    assert resp.status_int == code, resp.body
    assert words in fault_of(resp)[2]


def test_freeze_thaw_set_the_flag_for_the_host_and_its_backends(admin, node):
    _svc(node + '@b1')
    _svc(node + '@b2')
    resp = admin.put('/v3/os-services/freeze', {'host': node})
    assert resp.status_int == 200 and resp.body == b''
    assert [s['frozen'] for s in _services(admin, node + '@b1') + _services(
        admin, node + '@b2')] == [True, True]
    assert admin.put('/v3/os-services/thaw', {'host': node + '@b1'}).status_int == 200
    assert _services(admin, node + '@b1')[0]['frozen'] is False
    assert _services(admin, node + '@b2')[0]['frozen'] is True


def test_freeze_a_cluster_since_3_26(admin, node):
    cluster = 'cl-' + node
    _svc(node + '@b1', cluster=cluster)
    _svc(node + 'x@b1', cluster=cluster)
    resp = admin.put('/v3/os-services/freeze', {'cluster': cluster}, version='3.26')
    assert resp.status_int == 200
    assert all(s['frozen'] for s in _services(admin, node + '@b1') + _services(
        admin, node + 'x@b1'))
    resp = admin.put('/v3/os-services/freeze', {'cluster': cluster}, version='3.25')
    assert resp.status_int == 400


def test_failover_is_refused_without_replication(admin, node):
    _svc(node + '@b1')
    for action, version in (('failover_host', '3.0'), ('failover', '3.26')):
        resp = admin.put('/v3/os-services/%s' % action, {'host': node + '@b1'},
                         version=version)
        assert resp.status_int == 400
        assert 'replication is not configured on this backend' in fault_of(resp)[2]
    resp = admin.put('/v3/os-services/failover', {'host': node + '@b1'}, version='3.25')
    assert fault_of(resp)[2] == 'Invalid input received: Unknown action'


def test_set_and_get_log_are_not_supported(admin):
    for action in ('set-log', 'get-log'):
        resp = admin.put('/v3/os-services/%s' % action, {'level': 'DEBUG'}, version='3.32')
        assert resp.status_int == 400 and 'not supported' in fault_of(resp)[2]
        resp = admin.put('/v3/os-services/%s' % action, {}, version='3.31')
        assert fault_of(resp)[2] == 'Invalid input received: Unknown action'


# -- clusters -------------------------------------------------------------------------------------

def _cluster_services(node):
    name = 'cl-' + node
    _svc(node + 'a@b', cluster=name)
    _svc(node + 'b@b', cluster=name, up=False)
    return name


def test_clusters_need_3_7(admin):
    assert admin.get('/v3/clusters', version='3.6').status_int == 404


def test_cluster_list_detail_show(admin, node):
    name = _cluster_services(node)
    resp = admin.get('/v3/clusters?name=%s' % name, version='3.7')
    assert resp.status_int == 200
    assert resp.json['clusters'] == [{'name': name, 'binary': 'blockstore-volume',
                                      'state': 'up', 'status': 'enabled'}]
    detail = admin.get('/v3/clusters/detail?name=%s' % name, version='3.26').json[
        'clusters'][0]
    assert set(detail) == {'name', 'binary', 'state', 'status', 'replication_status',
                           'num_hosts', 'num_down_hosts', 'last_heartbeat', 'created_at',
                           'updated_at', 'disabled_reason', 'frozen', 'active_backend_id'}
    assert (detail['num_hosts'], detail['num_down_hosts']) == (2, 1)
    shown = admin.get('/v3/clusters/%s?binary=cinder-volume' % name, version='3.7').json
    assert shown['cluster']['name'] == name and 'frozen' not in shown['cluster']
    resp = admin.get('/v3/clusters/no-such-cluster', version='3.7')
    assert resp.status_int == 404
    assert fault_of(resp)[2] == 'Cluster no-such-cluster could not be found.'


def test_cluster_filters(admin, node):
    name = _cluster_services(node)
    url = '/v3/clusters?name=%s&' % name
    assert len(admin.get(url + 'is_up=true', version='3.7').json['clusters']) == 1
    assert admin.get(url + 'disabled=true', version='3.7').json['clusters'] == []
    assert len(admin.get(url + 'num_hosts=2', version='3.7').json['clusters']) == 1
    for bad in ('bogus=1', 'is_up=maybe', 'num_hosts=two', 'frozen=true'):
        resp = admin.get(url + bad, version='3.7')
        assert resp.status_int == 400, bad
    assert admin.get(url + 'frozen=false', version='3.26').status_int == 200


def test_cluster_enable_disable(admin, client, node):
    name = _cluster_services(node)
    resp = admin.put('/v3/clusters/disable', {'name': name, 'disabled_reason': 'maint'},
                     version='3.7')
    assert resp.status_int == 200, resp.body
    assert resp.json['cluster'] == {'name': name, 'binary': 'blockstore-volume',
                                    'state': 'up', 'status': 'disabled',
                                    'disabled_reason': 'maint'}
    # the services are disabled: the scheduler skips them
    assert {s['status'] for s in _services(admin, node + 'a@b')} == {'disabled'}
    resp = admin.put('/v3/clusters/enable', {'name': name, 'binary': 'cinder-volume'},
                     version='3.7')
    assert resp.json['cluster']['status'] == 'enabled'
    assert resp.json['cluster']['disabled_reason'] is None
    assert admin.put('/v3/clusters/reboot', {'name': name}, version='3.7').status_int == 404
    assert admin.put('/v3/clusters/enable', {}, version='3.7').status_int == 400
    assert admin.put('/v3/clusters/enable', {'name': 'nope'}, version='3.7').status_int == 404
    assert client.put('/v3/clusters/enable', {'name': name}, version='3.7').status_int == 403


# -- availability zones and hosts ---------------------------------------------------------------

def test_availability_zones(client, node):
    _svc(node + '@b1', zone='z-up-' + node)
    _svc(node + '@b2', zone='z-down-' + node, up=False)
    _svc(node + '@b3', zone='z-off-' + node, disabled=True)
    resp = client.get('/v3/os-availability-zone')
    assert resp.status_int == 200
    zones = {z['zoneName']: z['zoneState'] for z in resp.json['availabilityZoneInfo']}
    assert zones['z-up-' + node] == {'available': True}
    assert zones['z-down-' + node] == {'available': False}
    assert zones['z-off-' + node] == {'available': False}


def test_hosts(admin, client, node):
    _svc(node + '@b1', zone='hz-' + node)
    resp = admin.get('/v3/os-hosts?zone=hz-' + node)
    assert resp.status_int == 200
    (host,) = resp.json['hosts']
    assert set(host) == {'host_name', 'service', 'zone', 'service-status', 'service-state',
                         'last-update'}
    assert (host['host_name'], host['service-status'], host['service-state']) == (
        node + '@b1', 'available', 'enabled')
    assert client.get('/v3/os-hosts').status_int == 403


def test_host_show_counts_volumes_per_project(admin, client, project, node):
    host = node + '@b1'
    _svc(host)
    vol = client.create_volume(size=3)
    db.volume_update(context.get_admin_context(), vol['id'], {'host': host + '#pool'})
    make_available('volume', vol['id'])
    client.create_snapshot(vol['id'])
    resp = admin.get('/v3/os-hosts/%s' % host)
    assert resp.status_int == 200
    total, mine = resp.json['host']
    assert total['resource'] == {'host': host, 'project': '(total)', 'volume_count': '1',
                                 'total_volume_gb': '3', 'snapshot_count': '1',
                                 'total_snapshot_gb': '3'}
    assert mine['resource']['project'] == project
    assert admin.get('/v3/os-hosts/nowhere').status_int == 404
    resp = client.get('/v3/os-hosts/%s' % host)
    assert resp.status_int == 403
    assert fault_of(resp)[2] == 'Describe-resource is admin only functionality'


def test_backup_services_are_reported_as_cinder_backup(admin, node):
    """Tools look for a live cinder-backup to tell whether backups are offered."""
    _svc(node + '-bk', binary='blockstore-backup')
    for binary in (None, 'cinder-backup', 'blockstore-backup'):
        found = _services(admin, node + '-bk', binary=binary)
        assert [(s['binary'], s['state']) for s in found] == [('cinder-backup', 'up')]
        assert 'frozen' not in found[0] and 'replication_status' not in found[0]
