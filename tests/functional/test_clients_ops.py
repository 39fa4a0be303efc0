"""Operations and quotas through real clients against the embedded blockstore-all:
python-cinderclient (API and the ``cinder`` CLI), openstacksdk and the ``openstack`` CLI,
in noauth mode.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from cinderclient import exceptions as cinder_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import openstack.connection
import pytest
import requests

from tests.fixtures import deployment as depfix
from tests.fixtures.deployment import MEMBER_HEADERS

CLUSTER = 'ops-cluster'
# As Cinder names a volume service's cluster: [DEFAULT] cluster @ the backend.
CLUSTER_NAME = CLUSTER + '@file1'


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    dep = depfix.Deployment(tmp_path_factory.mktemp('embedded-ops'),
                            extra_conf='[DEFAULT]\ncluster = %s\n' % CLUSTER)
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        _wait_for_pools(dep)
        yield dep
    finally:
        dep.stop_all()


def _cinder(dep, project='admin', user=None, version='3.71'):
    auth = noauth.CinderNoAuthPlugin(user or project, project, endpoint=dep.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client(version, session=sess)


def _wait_for_pools(dep, timeout=30):
    c = _cinder(dep)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if c.pools.list():
            return
        time.sleep(0.2)
    raise AssertionError('the scheduler reported no pools')


def _project():
    return 'ops-' + uuid.uuid4().hex[:8]


def _wait(get, want, timeout=30):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        time.sleep(0.1)
        obj = get()
    assert obj.status == want, obj.status
    return obj


# -- python-cinderclient ---------------------------------------------------------------------

def test_cinderclient_quotas_and_limits(embedded):
    admin = _cinder(embedded)
    project = _project()
    user = _cinder(embedded, project)
    qs = user.quotas.get(project)
    assert (qs.volumes, qs.gigabytes, qs.snapshots) == (10, 1000, 10)
    defaults = admin.quotas.defaults(project)
    assert defaults.volumes == 10 and defaults.per_volume_gigabytes == -1
    updated = admin.quotas.update(project, volumes=2, gigabytes=5)
    assert (updated.volumes, updated.gigabytes) == (2, 5)
    with pytest.raises(cinder_exc.Forbidden):
        user.quotas.update(project, volumes=100)

    v1 = user.volumes.create(1)
    user.volumes.create(1)
    with pytest.raises(cinder_exc.OverLimit) as err:
        user.volumes.create(1)
    assert err.value.code == 413
    assert "Maximum number of volumes allowed (2) exceeded for quota 'volumes'" in str(
        err.value)
    usage = user.quotas.get(project, usage=True)
    assert usage.volumes == {'limit': 2, 'in_use': 2, 'reserved': 0}
    assert usage.gigabytes['in_use'] == 2

    absolute = {lim.name: lim.value for lim in user.limits.get().absolute}
    assert absolute['maxTotalVolumes'] == 2 and absolute['totalVolumesUsed'] == 2
    assert absolute['maxTotalVolumeGigabytes'] == 5 and absolute['totalGigabytesUsed'] == 2
    assert list(user.limits.get().rate) == []
    # admins read another project's limits (3.39, cinderclient's tenant_id)
    other = {lim.name: lim.value for lim in admin.limits.get(tenant_id=project).absolute}
    assert other['totalVolumesUsed'] == 2

    # extending beyond the gigabytes quota is refused, and the volume stays usable
    _wait(lambda: user.volumes.get(v1.id), 'available')
    with pytest.raises(cinder_exc.OverLimit):
        user.volumes.extend(v1, 10)
    assert user.volumes.get(v1.id).status == 'available'

    admin.quotas.delete(project)
    assert user.quotas.get(project).volumes == 10

    name = 'cls-' + uuid.uuid4().hex[:6]
    qcs = admin.quota_classes.update(name, volumes=33)
    assert qcs.volumes == 33
    assert admin.quota_classes.get(name).volumes == 33


def test_cinderclient_services_zones_pools_clusters(embedded):
    admin = _cinder(embedded)
    services = admin.services.list()
    by_binary = {s.binary: s for s in services}
    vol = by_binary['blockstore-volume']
    assert by_binary['blockstore-scheduler'].state == 'up'
    assert (vol.host, vol.state, vol.status, vol.cluster) == (
        embedded.host + '@file1', 'up', 'enabled', CLUSTER_NAME)
    assert vol.backend_state == 'up'
    assert [s.host for s in admin.services.list(binary='blockstore-volume')] == [vol.host]

    admin.services.disable_log_reason(vol.host, 'blockstore-volume', 'maintenance')
    svc = admin.services.list(host=vol.host)[0]
    assert (svc.status, svc.disabled_reason) == ('disabled', 'maintenance')
    # a disabled backend takes no new volumes: its zone is no longer available
    zones = {z.zoneName: z.zoneState for z in admin.availability_zones.list()}
    assert zones['nova'] == {'available': False}
    admin.services.enable(vol.host, 'cinder-volume')
    assert admin.services.list(host=vol.host)[0].status == 'enabled'
    zones = {z.zoneName: z.zoneState for z in _cinder(embedded, 'demo').availability_zones.list()}
    assert zones['nova'] == {'available': True}

    admin.services.freeze_host(vol.host)
    assert admin.services.list(host=vol.host)[0].frozen is True
    admin.services.thaw_host(vol.host)
    assert admin.services.list(host=vol.host)[0].frozen is False
    with pytest.raises(cinder_exc.BadRequest) as err:
        admin.services.failover_host(vol.host, None)
    assert 'replication is not configured' in str(err.value)

    pools = admin.pools.list(detailed=True)
    assert [p.name for p in pools] == [vol.host + '#file1']
    assert pools[0].volume_backend_name == 'file1' and pools[0].total_capacity_gb > 0
    assert [p.name for p in admin.pools.list()] == [vol.host + '#file1']
    with pytest.raises(cinder_exc.Forbidden):
        _cinder(embedded, 'demo').pools.list()

    clusters = admin.clusters.list(detailed=True)
    assert [(c.name, c.num_hosts, c.num_down_hosts, c.state) for c in clusters] == [
        (CLUSTER_NAME, 1, 0, 'up')]
    assert admin.clusters.show(CLUSTER_NAME, binary='cinder-volume').status == 'enabled'
    assert admin.clusters.update(CLUSTER_NAME, 'cinder-volume', disabled=True,
                                 disabled_reason='drain').status == 'disabled'
    assert admin.clusters.update(CLUSTER_NAME, 'cinder-volume',
                                 disabled=False).status == 'enabled'

    filters = admin.resource_filters.list(resource='volume')
    assert filters[0].resource == 'volume' and 'name' in filters[0].filters

    cleaning, unavailable = admin.workers.clean()
    assert list(cleaning) == [] and list(unavailable) == []


def test_cinderclient_user_messages(embedded):
    admin = _cinder(embedded)
    project = _project()
    user = _cinder(embedded, project)
    vt = admin.volume_types.create('nowhere-' + uuid.uuid4().hex[:6])
    vt.set_keys({'volume_backend_name': 'no-such-backend'})
    vol = user.volumes.create(1, volume_type=vt.name)
    _wait(lambda: user.volumes.get(vol.id), 'error')
    deadline = time.time() + 10
    msgs = []
    while not msgs and time.time() < deadline:
        msgs = [m for m in user.messages.list() if m.resource_uuid == vol.id]
        time.sleep(0.1)
    (msg,) = msgs
    assert msg.event_id == 'VOLUME_VOLUME_001_003'
    assert msg.user_message == ('schedule allocate volume: Could not find any available '
                                'weighted backend.')
    assert msg.resource_type == 'VOLUME' and msg.message_level == 'ERROR'
    assert user.messages.get(msg.id).id == msg.id
    found = user.messages.list(search_opts={'resource_uuid': vol.id})
    assert [m.id for m in found] == [msg.id]
    # another project does not see it
    with pytest.raises(cinder_exc.NotFound):
        _cinder(embedded, _project()).messages.get(msg.id)
    user.messages.delete(msg)
    with pytest.raises(cinder_exc.NotFound):
        user.messages.get(msg.id)
    user.volumes.delete(vol)


def test_cinder_cli(embedded):
    cinder = os.path.join(os.path.dirname(sys.executable), 'cinder')
    base = [cinder, '--os-auth-type', 'noauth', '--os-user-id', 'admin', '--os-project-id',
            'admin', '--os-endpoint', embedded.endpoint + '/v3', '--os-volume-api-version',
            '3.71']

    def run(*args):
        out = subprocess.run(base + list(args), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout

    assert 'per_volume_gigabytes' in run('quota-show', 'admin')
    assert 'In_use' in run('quota-usage', 'admin')
    assert 'volumes' in run('quota-defaults', 'admin')
    assert 'blockstore-volume' in run('service-list')
    assert 'nova' in run('availability-zone-list')
    assert embedded.host + '@file1#file1' in run('get-pools')
    assert 'maxTotalVolumes' in run('absolute-limits')
    run('message-list')
    assert CLUSTER_NAME in run('cluster-list')
    caps = run('get-capabilities', embedded.host + '@file1')
    assert 'OS::Storage::Capabilities::%s@file1' % embedded.host in caps


def test_like_and_time_filters_through_cinderclient(embedded):
    """``cinder list --filters name~=...`` (3.34) and ``created_at=gt:...`` (3.60)."""
    admin = _cinder(embedded)
    tag = uuid.uuid4().hex[:8]
    vols = [admin.volumes.create(1, name='%s-%s' % (word, tag)) for word in ('red', 'blue')]
    for v in vols:
        _wait(lambda v=v: admin.volumes.get(v.id), 'available')
    got = admin.volumes.list(search_opts={'name~': 'red-' + tag})
    assert [v.id for v in got] == [vols[0].id]
    cinder = os.path.join(os.path.dirname(sys.executable), 'cinder')
    base = [cinder, '--os-auth-type', 'noauth', '--os-user-id', 'admin', '--os-project-id',
            'admin', '--os-endpoint', embedded.endpoint + '/v3', '--os-volume-api-version',
            '3.71']

    def ids(*filters):
        args = [a for f in filters for a in ('--filters', f)]  # one value per --filters
        out = subprocess.run(base + ['list'] + args,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (filters, out.stderr)
        return {v.id for v in vols if v.id in out.stdout}

    assert ids('name~=' + tag) == {v.id for v in vols}
    assert ids('name~=blue-' + tag) == {vols[1].id}
    assert ids('name~=' + tag, 'created_at=gt:2000-01-01T00:00:00Z') == {v.id for v in vols}
    assert ids('name~=' + tag, 'created_at=lt:2000-01-01T00:00:00Z') == set()
    with pytest.raises(cinder_exc.BadRequest):
        admin.volumes.list(search_opts={'created_at': 'after:2000-01-01T00:00:00Z'})
    for v in vols:
        admin.volumes.delete(v)


# -- openstacksdk ---------------------------------------------------------------------------------

def _sdk(dep, project='admin'):
    auth = token_endpoint.Token(dep.endpoint + '/v3/' + project, '%s:%s' % (project, project))
    return openstack.connection.Connection(
        session=ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS),
        block_storage_endpoint_override=dep.endpoint + '/v3/' + project,
        block_storage_api_version='3')


def test_openstacksdk_ops(embedded):
    bs = _sdk(embedded).block_storage
    project = _project()
    qs = bs.get_quota_set(project, usage=True)
    assert qs.volumes == 10 and qs.usage['volumes'] == 0
    assert bs.get_quota_set_defaults(project).gigabytes == 1000
    assert bs.update_quota_set(project, volumes=7).volumes == 7
    assert bs.get_quota_set(project).volumes == 7
    bs.revert_quota_set(project)
    assert bs.get_quota_set(project).volumes == 10

    limits = bs.get_limits()
    assert limits.absolute.max_total_volumes == 10
    assert limits.absolute.total_volumes_used >= 0

    services = {s.binary: s for s in bs.services()}
    vol = services['blockstore-volume']
    assert vol.state == 'up' and vol.cluster == CLUSTER_NAME
    vol = bs.disable_service(vol, reason='sdk')
    assert (vol.status, vol.disabled_reason) == ('disabled', 'sdk')
    vol = bs.enable_service(vol)
    assert vol.status == 'enabled'
    bs.freeze_service(vol)
    bs.thaw_service(vol)

    assert [z.name for z in bs.availability_zones()] == ['nova']
    pools = list(bs.backend_pools())
    assert [p.name for p in pools] == [embedded.host + '@file1#file1']
    assert pools[0].capabilities['volume_backend_name'] == 'file1'
    filters = {f.resource: f.filters for f in bs.resource_filters()}
    assert filters['pool'] == ['name', 'volume_type']


# -- openstack CLI ------------------------------------------------------------------------------

def _openstack():
    path = os.path.join(os.path.dirname(sys.executable), 'openstack')
    if not os.path.exists(path):
        path = shutil.which('openstack')
    if not path:
        pytest.skip('python-openstackclient is not installed (pip install '
                    'python-openstackclient)')
    return path


def test_openstack_cli(embedded):
    osc = _openstack()
    endpoint = embedded.endpoint + '/v3'
    # Administrators: keystoneauth's admin_token plugin sends X-Auth-Token as given.
    admin = [osc, '--os-auth-type', 'admin_token', '--os-token', 'admin:admin',
             '--os-endpoint', endpoint]
    # No auth at all: keystoneauth's 'none' sends a placeholder token, a plain user.
    anyone = [osc, '--os-auth-type', 'none', '--os-endpoint', endpoint]

    def run(cmd, *args):
        out = subprocess.run(cmd + list(args) + ['-f', 'value'], capture_output=True,
                             text=True, timeout=90)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout

    listed = run(admin, 'volume', 'service', 'list')
    assert 'blockstore-volume' in listed and 'blockstore-scheduler' in listed
    host = embedded.host + '@file1'
    subprocess.run(admin + ['volume', 'service', 'set', '--disable', '--disable-reason',
                            'osc', host, 'blockstore-volume'], check=True, timeout=90)
    assert 'disabled' in run(admin, 'volume', 'service', 'list', '--host', host)
    subprocess.run(admin + ['volume', 'service', 'set', '--enable', host,
                            'blockstore-volume'], check=True, timeout=90)
    assert 'enabled' in run(admin, 'volume', 'service', 'list', '--host', host)
    assert host + '#file1' in run(admin, 'volume', 'backend', 'pool', 'list')
    assert 'nova available' in run(anyone, 'availability', 'zone', 'list', '--volume')
    # noauth without X-Roles makes every caller an administrator, as Cinder's noauth does
    assert 'blockstore-volume' in run(anyone, 'volume', 'service', 'list')
    # ... the services stay admin-only for a member (X-Roles, which osc cannot send):
    # Cinder's 403
    r = requests.get(endpoint + '/os-services', timeout=30,
                     headers=dict(MEMBER_HEADERS, **{'X-Auth-Token': 'notused'}))
    assert r.status_code == 403 and r.json()['forbidden']['code'] == 403
