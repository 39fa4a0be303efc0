"""Policy: Cinder's personas (admin, project member, project reader) through the API.

For a representative action of every resource: the admin is allowed, a member
of the owning project is allowed, a reader may read but gets 403 on writes,
and another project gets 404 (not 403) on volumes, snapshots and transfers.
A policy file overriding a rule changes the outcome.
"""

import uuid

from oslo_config import cfg
import pytest

from blockstore.common import policy
from tests.unit.api.conftest import Client, fault_of, make_available

V = '3.70'


class RoleClient(Client):
    """A client that always sends ``X-Roles``."""

    def __init__(self, app, token, roles):
        super().__init__(app, token, version=V)
        self.roles = roles

    def request(self, method, path, body=None, version=None, headers=None, raw=None):
        headers = dict(headers or {}, **{'X-Roles': self.roles})
        return super().request(method, path, body, version, headers, raw)


@pytest.fixture
def member(app, project):
    return Client(app, 'user1:%s' % project, version=V)


@pytest.fixture
def reader(app, project):
    return RoleClient(app, 'reader1:%s' % project, 'reader')


@pytest.fixture
def other(app):
    return Client(app, 'eve:p-%s' % uuid.uuid4().hex[:12], version=V)


@pytest.fixture
def admin(app):
    return Client(app, 'admin:admin', version=V)


@pytest.fixture
def volume(member):
    vol = member.create_volume()
    make_available('volume', vol['id'])
    return vol


def _forbidden(resp, action=None):
    assert resp.status_int == 403, resp.body
    key, _, message = fault_of(resp)
    assert key == 'forbidden'
    if action:
        assert message == "Policy doesn't allow %s to be performed." % action


def _not_found(resp):
    assert resp.status_int == 404, resp.body
    assert fault_of(resp)[0] == 'itemNotFound'


# -- volumes -------------------------------------------------------------------------------

def test_volumes_personas(member, reader, other, admin, volume):
    url = '/v3/volumes/%s' % volume['id']
    # reader: reads, never writes
    assert reader.get(url).status_int == 200
    assert [v['id'] for v in reader.get('/v3/volumes').json['volumes']] == [volume['id']]
    assert reader.get(url + '/metadata').status_int == 200
    _forbidden(reader.post('/v3/volumes', {'volume': {'size': 1}}), 'volume:create')
    _forbidden(reader.put(url, {'volume': {'name': 'x'}}), 'volume:update')
    _forbidden(reader.delete(url), 'volume:delete')
    _forbidden(reader.post(url + '/metadata', {'metadata': {'k': 'v'}}),
               'volume:create_volume_metadata')
    _forbidden(reader.post(url + '/action', {'os-extend': {'new_size': 2}}), 'volume:extend')
    _forbidden(reader.post(url + '/action', {'os-set_bootable': {'bootable': True}}),
               'volume_extension:volume_actions:set_bootable')
    # another project: the volume does not exist for it
    for resp in (other.get(url), other.put(url, {'volume': {'name': 'x'}}), other.delete(url),
                 other.post(url + '/action', {'os-extend': {'new_size': 2}})):
        _not_found(resp)
    # member and admin
    assert member.put(url, {'volume': {'name': 'mine'}}).status_int == 200
    assert admin.get(url).json['volume']['name'] == 'mine'
    _forbidden(member.post(url + '/action', {'os-reset_status': {'status': 'error'}}),
               'volume_extension:volume_admin_actions:reset_status')
    assert admin.post(url + '/action', {'os-reset_status': {'status': 'error'}}
                      ).status_int == 202
    assert member.delete(url).status_int == 202


def test_volume_force_delete_is_admin(member, admin, volume):
    url = '/v3/volumes/%s?force=true' % volume['id']
    _forbidden(member.delete(url), 'volume:force_delete')
    assert admin.delete(url).status_int == 202


# -- snapshots -----------------------------------------------------------------------------

def test_snapshots_personas(member, reader, other, admin, volume):
    snap = member.create_snapshot(volume['id'])
    make_available('snapshot', snap['id'])
    url = '/v3/snapshots/%s' % snap['id']
    assert reader.get(url).status_int == 200
    assert reader.get('/v3/snapshots').status_int == 200
    _forbidden(reader.post('/v3/snapshots', {'snapshot': {'volume_id': volume['id']}}),
               'volume:create_snapshot')
    _forbidden(reader.put(url, {'snapshot': {'name': 'x'}}), 'volume:update_snapshot')
    _forbidden(reader.delete(url), 'volume:delete_snapshot')
    _forbidden(reader.put(url + '/metadata', {'metadata': {'k': 'v'}}),
               'volume:update_snapshot_metadata')
    for resp in (other.get(url), other.put(url, {'snapshot': {'name': 'x'}}),
                 other.delete(url)):
        _not_found(resp)
    assert admin.get(url).status_int == 200
    assert member.put(url, {'snapshot': {'name': 'mine'}}).status_int == 200
    _forbidden(member.post(url + '/action', {'os-reset_status': {'status': 'error'}}),
               'volume_extension:snapshot_admin_actions:reset_status')
    assert member.delete(url).status_int == 202


# -- transfers -----------------------------------------------------------------------------

def test_transfers_personas(member, reader, other, admin, volume):
    body = {'transfer': {'volume_id': volume['id'], 'name': 't'}}
    _forbidden(reader.post('/v3/volume-transfers', body), 'volume:create_transfer')
    resp = member.post('/v3/volume-transfers', body)
    assert resp.status_int == 202, resp.body
    url = '/v3/volume-transfers/%s' % resp.json['transfer']['id']
    assert reader.get(url).status_int == 200
    assert reader.get('/v3/volume-transfers').status_int == 200
    _forbidden(reader.delete(url), 'volume:delete_transfer')
    _not_found(other.get(url))
    _not_found(other.delete(url))
    assert admin.get(url).status_int == 200
    assert member.delete(url).status_int == 202


# -- attachments -----------------------------------------------------------------------

def test_attachments_personas(member, reader, other, admin, volume):
    body = {'attachment': {'volume_uuid': volume['id'], 'instance_uuid': str(uuid.uuid4())}}
    _forbidden(reader.post('/v3/attachments', body), 'volume:attachment_create')
    _not_found(other.post('/v3/attachments', body))
    resp = member.post('/v3/attachments', body)
    assert resp.status_int == 200, resp.body
    url = '/v3/attachments/%s' % resp.json['attachment']['id']
    assert reader.get(url).status_int == 200
    assert [a['id'] for a in reader.get('/v3/attachments').json['attachments']] == [
        resp.json['attachment']['id']]
    _forbidden(reader.delete(url), 'volume:attachment_delete')
    _forbidden(reader.post(url + '/action', {'os-complete': None}),
               'volume:attachment_complete')
    for r in (other.get(url), other.delete(url),
              other.put(url, {'attachment': {'connector': {'initiator': 'iqn.x:y'}}})):
        _not_found(r)
    assert other.get('/v3/attachments').json == {'attachments': []}
    assert admin.get(url).status_int == 200
    assert url.rsplit('/', 1)[1] in [
        a['id'] for a in admin.get('/v3/attachments?all_tenants=1').json['attachments']]
    _forbidden(member.post('/v3/attachments/reclaim',
                           {'host': 'compute-x', 'confirm_dead': True}))
    assert member.delete(url).status_int == 200


# -- types, extra specs, access, encryption, default types, qos ------------------------

def test_types_personas(member, reader, admin):
    assert reader.get('/v3/types').status_int == 200
    body = {'volume_type': {'name': 'pt-%s' % uuid.uuid4().hex[:8]}}
    _forbidden(member.post('/v3/types', body), 'volume_extension:types_manage:create')
    resp = admin.post('/v3/types', body)
    assert resp.status_int == 200, resp.body
    url = '/v3/types/%s' % resp.json['volume_type']['id']
    assert reader.get(url).status_int == 200
    assert reader.get(url + '/extra_specs').status_int == 200
    _forbidden(member.post(url + '/extra_specs', {'extra_specs': {'k': 'v'}}),
               'volume_extension:types_extra_specs:create')
    _forbidden(member.get(url + '/os-volume-type-access'),
               'volume_extension:volume_type_access')
    _forbidden(member.get(url + '/encryption'), 'volume_extension:volume_type_encryption:get')
    assert admin.get(url + '/encryption').status_int == 200
    _forbidden(member.get('/v3/default-types'), 'volume_extension:default_get_all')
    assert admin.get('/v3/default-types').status_int == 200
    _forbidden(member.get('/v3/qos-specs'), 'volume_extension:qos_specs_manage:get_all')
    assert admin.get('/v3/qos-specs').status_int == 200


# -- quotas, quota classes, limits ----------------------------------------------------------

def test_quotas_personas(member, reader, other, admin, project):
    url = '/v3/os-quota-sets/%s' % project
    assert reader.get(url).status_int == 200
    assert reader.get('/v3/limits').status_int == 200
    _forbidden(other.get(url), 'volume_extension:quotas:show')
    _forbidden(member.put(url, {'quota_set': {'volumes': 5}}), 'volume_extension:quotas:update')
    assert admin.put(url, {'quota_set': {'volumes': 5}}).status_int == 200
    assert reader.get(url).json['quota_set']['volumes'] == 5
    _forbidden(member.get('/v3/os-quota-class-sets/default'), 'volume_extension:quota_classes')
    assert admin.get('/v3/os-quota-class-sets/default').status_int == 200


# -- operations --------------------------------------------------------------------------

@pytest.mark.parametrize('method,path,action', [
    ('GET', '/v3/os-services', 'volume_extension:services:index'),
    ('GET', '/v3/clusters', 'clusters:get_all'),
    ('GET', '/v3/os-hosts', 'volume_extension:hosts'),
    ('GET', '/v3/scheduler-stats/get_pools', 'scheduler_extension:scheduler_stats:get_pools'),
    ('GET', '/v3/manageable_volumes?host=h@b', 'volume_extension:list_manageable'),
    ('POST', '/v3/workers/cleanup', 'workers:cleanup'),
])
def test_admin_only_operations(member, admin, method, path, action):
    _forbidden(member.request(method, path, {} if method == 'POST' else None), action)
    assert admin.request(method, path, {} if method == 'POST' else None).status_int != 403


def test_everyone_reads_zones_filters_and_messages(reader):
    assert reader.get('/v3/os-availability-zone').status_int == 200
    assert reader.get('/v3/resource_filters').status_int == 200
    assert reader.get('/v3/messages').status_int == 200


# -- roles from noauth --------------------------------------------------------------------

def test_x_roles_admin_makes_an_admin(app, project):
    boss = RoleClient(app, 'boss:%s' % project, 'admin')
    assert boss.get('/v3/os-services').status_int == 200


def test_unknown_role_only_is_refused(app, project):
    guest = RoleClient(app, 'guest:%s' % project, 'observer')
    _forbidden(guest.get('/v3/volumes'), 'volume:get_all')


# -- a policy file changes the outcome ----------------------------------------------------

@pytest.fixture
def policy_file(tmp_path):
    path = tmp_path / 'policy.yaml'

    def write(text):
        path.write_text(text)
        cfg.CONF.set_override('policy_file', str(path), group='oslo_policy')
        policy.reset()
    yield write
    cfg.CONF.clear_override('policy_file', group='oslo_policy')
    policy.reset()


def test_policy_file_overrides_a_rule(member, admin, policy_file):
    assert member.post('/v3/volumes', {'volume': {'size': 1}}).status_int == 202
    policy_file('"volume:create": "rule:admin_api"\n')
    _forbidden(member.post('/v3/volumes', {'volume': {'size': 1}}), 'volume:create')
    assert admin.post('/v3/volumes', {'volume': {'size': 1}}).status_int == 202
    # the other defaults are untouched
    assert member.get('/v3/volumes').status_int == 200


def test_policy_file_can_open_an_admin_rule(member, policy_file):
    policy_file('"volume_extension:services:index": "rule:admin_or_project_reader"\n')
    assert member.get('/v3/os-services').status_int == 200
