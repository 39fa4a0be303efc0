"""Quota sets, quota class sets and limits: Cinder's wire format, policy, bad input."""

import uuid

import pytest

from blockstore.common import context
from blockstore.db import quotas as quota_db
from blockstore.volume import volume_types
from tests.unit.api.conftest import Client, fault_of, make_available

BASE = {'volumes', 'per_volume_gigabytes', 'snapshots', 'gigabytes', 'backups',
        'backup_gigabytes', 'groups'}


def _qs(client, project, **kw):
    resp = client.get('/v3/os-quota-sets/%s' % project, **kw)
    assert resp.status_int == 200, resp.body
    return resp.json['quota_set']


def test_show_own_quotas_with_per_type_resources(client, project, ctx):
    volume_types.get_default(ctx)
    qs = _qs(client, project)
    assert qs['id'] == project
    assert BASE <= set(qs)
    assert (qs['volumes'], qs['snapshots'], qs['gigabytes']) == (10, 10, 1000)
    assert (qs['backups'], qs['backup_gigabytes'], qs['groups']) == (10, 1000, 10)
    assert qs['per_volume_gigabytes'] == -1
    assert qs['volumes___DEFAULT__'] == -1 and qs['gigabytes___DEFAULT__'] == -1
    assert qs['snapshots___DEFAULT__'] == -1


def test_show_with_usage_counts_the_resources(client, project):
    vol = client.create_volume(size=3)
    make_available('volume', vol['id'])
    client.create_snapshot(vol['id'])
    client.create_volume(size=2)
    qs = _qs(client, project + '?usage=true')
    assert qs['volumes'] == {'limit': 10, 'in_use': 2, 'reserved': 0}
    assert qs['snapshots'] == {'limit': 10, 'in_use': 1, 'reserved': 0}
    assert qs['gigabytes'] == {'limit': 1000, 'in_use': 3 + 2 + 3, 'reserved': 0}
    assert qs['volumes___DEFAULT__']['in_use'] == 2
    assert qs['id'] == project
    # cinderclient sends usage=False / usage=True
    assert _qs(client, project + '?usage=False')['volumes'] == 10
    resp = client.get('/v3/os-quota-sets/%s?usage=maybe' % project)
    assert resp.status_int == 400 and fault_of(resp)[0] == 'badRequest'


def test_other_projects_quotas_are_admin_only(client, admin, project):
    resp = client.get('/v3/os-quota-sets/someone-else')
    assert resp.status_int == 403
    assert fault_of(resp) == ('forbidden', 403, "Policy doesn't allow "
                              "volume_extension:quotas:show to be performed.")
    assert admin.get('/v3/os-quota-sets/%s' % project).status_int == 200
    # with the project in the URL too
    resp = client.get('/v3/%s/os-quota-sets/%s' % (project, project))
    assert resp.status_int == 200


def test_defaults(client, admin, project):
    resp = client.get('/v3/os-quota-sets/%s/defaults' % project)
    assert resp.status_int == 200
    qs = resp.json['quota_set']
    assert qs['id'] == project and qs['volumes'] == 10


def test_update_and_delete_are_admin_only(client, admin, project):
    resp = client.put('/v3/os-quota-sets/%s' % project, {'quota_set': {'volumes': 5}})
    assert resp.status_int == 403
    resp = admin.put('/v3/os-quota-sets/%s' % project,
                     {'quota_set': {'tenant_id': project, 'volumes': 5, 'gigabytes': '50',
                                    'snapshots': -1}})
    assert resp.status_int == 200, resp.body
    qs = resp.json['quota_set']
    assert 'id' not in qs
    assert (qs['volumes'], qs['gigabytes'], qs['snapshots']) == (5, 50, -1)
    assert _qs(client, project)['volumes'] == 5
    assert client.delete('/v3/os-quota-sets/%s' % project).status_int == 403
    resp = admin.delete('/v3/os-quota-sets/%s' % project)
    assert resp.status_int == 200 and resp.body == b''
    assert _qs(client, project)['volumes'] == 10


@pytest.mark.parametrize('body, words', [
    ({'quota_set': {'volumes': 'many'}}, 'volumes must be an integer'),
    ({'quota_set': {'volumes': -2}}, 'volumes must be >= -1'),
    ({'quota_set': {'volumes': 2 ** 31}}, 'volumes must be <= 2147483647'),
    ({'quota_set': {'volumes': True}}, 'volumes must be an integer'),
    ({'quota_set': {'bogus': 1, 'volumes': 1}}, 'Bad key(s) in quota set: bogus'),
    ({'quota_set': {'volumes_no-such-type': 1}}, 'Bad key(s) in quota set'),
    ({'quota_set': {}}, 'should be non-empty'),
    ({'quota_set': []}, "is not of type 'object'"),
    ({'quotas': {'volumes': 1}}, "'quota_set' is a required property"),
    ({'quota_set': {'volumes': 1}, 'extra': 1}, 'Additional properties'),
])
def test_update_bad_input_is_400(admin, project, body, words):
    resp = admin.put('/v3/os-quota-sets/%s' % project, body)
    assert resp.status_int == 400, resp.body
    key, _, message = fault_of(resp)
    assert key == 'badRequest' and words in message, message


def test_update_malformed_json_and_long_project_are_400(admin):
    resp = admin.put('/v3/os-quota-sets/p', raw=b'{"quota_set": ')
    assert resp.status_int == 400
    resp = admin.put('/v3/os-quota-sets/%s' % ('x' * 256), {'quota_set': {'volumes': 1}})
    assert resp.status_int == 400


def test_limit_below_usage_is_refused(client, admin, project):
    client.create_volume(size=4)
    client.create_volume(size=4)
    resp = admin.put('/v3/os-quota-sets/%s' % project, {'quota_set': {'volumes': 1}})
    assert resp.status_int == 400
    assert fault_of(resp)[2] == ('Quota volumes limit must be equal or greater '
                                 'than existing resources. Current usage is 2 and the '
                                 'requested limit is 1.')
    # -1, and per_volume_gigabytes, are never below usage.
    resp = admin.put('/v3/os-quota-sets/%s' % project,
                     {'quota_set': {'volumes': -1, 'per_volume_gigabytes': 1}})
    assert resp.status_int == 200


def test_create_over_quota_is_413_overlimit(client, admin, project):
    admin.put('/v3/os-quota-sets/%s' % project, {'quota_set': {'volumes': 1}})
    client.create_volume()
    resp = client.post('/v3/volumes', {'volume': {'size': 1}})
    assert resp.status_int == 413
    assert resp.headers['Retry-After'] == '0'
    assert fault_of(resp) == ('overLimit', 413, "VolumeLimitExceeded: Maximum number of "
                              "volumes allowed (1) exceeded for quota 'volumes'.")
    assert len(client.get('/v3/volumes').json['volumes']) == 1


def test_snapshot_and_extend_over_quota(client, admin, project):
    admin.put('/v3/os-quota-sets/%s' % project, {'quota_set': {'snapshots': 0,
                                                               'gigabytes': 3}})
    vol = client.create_volume(size=2)
    make_available('volume', vol['id'])
    resp = client.post('/v3/snapshots', {'snapshot': {'volume_id': vol['id']}})
    assert resp.status_int == 413
    assert fault_of(resp)[2] == ('SnapshotLimitExceeded: Maximum number of snapshots '
                                 'allowed (0) exceeded')
    resp = client.post('/v3/volumes/%s/action' % vol['id'], {'os-extend': {'new_size': 4}})
    assert resp.status_int == 413
    assert fault_of(resp)[2].startswith('VolumeSizeExceedsAvailableQuota: Requested volume '
                                        'or snapshot exceeds allowed gigabytes quota.')
    assert client.get('/v3/volumes/%s' % vol['id']).json['volume']['status'] == 'available'


# -- quota class sets -------------------------------------------------------------------------

def test_quota_class_sets(client, admin):
    name = 'c-%s' % uuid.uuid4().hex[:6]
    assert client.get('/v3/os-quota-class-sets/%s' % name).status_int == 403
    resp = admin.get('/v3/os-quota-class-sets/%s' % name)
    assert resp.status_int == 200
    qcs = resp.json['quota_class_set']
    assert qcs['id'] == name and qcs['volumes'] == 10 and BASE <= set(qcs)
    resp = admin.put('/v3/os-quota-class-sets/%s' % name,
                     {'quota_class_set': {'volumes': 20, 'gigabytes': '30'}})
    assert resp.status_int == 200, resp.body
    qcs = resp.json['quota_class_set']
    assert 'id' not in qcs and (qcs['volumes'], qcs['gigabytes']) == (20, 30)
    assert admin.get('/v3/os-quota-class-sets/%s' % name).json[
        'quota_class_set']['volumes'] == 20
    assert client.put('/v3/os-quota-class-sets/%s' % name,
                      {'quota_class_set': {'volumes': 1}}).status_int == 403


def test_default_class_changes_the_defaults(client, admin, project):
    try:
        resp = admin.put('/v3/os-quota-class-sets/default',
                         {'quota_class_set': {'snapshots': 3}})
        assert resp.status_int == 200
        assert _qs(client, project)['snapshots'] == 3
        assert client.get('/v3/os-quota-sets/%s/defaults' % project).json[
            'quota_set']['snapshots'] == 3
    finally:
        quota_db.class_limits_update(context.get_admin_context(), 'default',
                                     {'snapshots': 10})


@pytest.mark.parametrize('body, words', [
    ({'quota_class_set': {'bogus': 1}}, 'Bad key(s) in quota class set: bogus'),
    ({'quota_class_set': {'volumes': 'x'}}, 'volumes must be an integer'),
    ({'quota_class_set': {'volumes': -5}}, 'volumes must be >= -1'),
    ({'quota_class_set': {'bad/key': 1}}, 'does not match any of the regexes'),
    ({}, "'quota_class_set' is a required property"),
])
def test_quota_class_bad_input_is_400(admin, body, words):
    resp = admin.put('/v3/os-quota-class-sets/default', body)
    assert resp.status_int == 400
    assert words in fault_of(resp)[2]


# -- limits -------------------------------------------------------------------------------------

def test_limits(client, project):
    client.create_volume(size=2)
    resp = client.get('/v3/limits')
    assert resp.status_int == 200
    limits = resp.json['limits']
    assert limits['rate'] == []
    assert limits['absolute'] == {
        'maxTotalVolumes': 10, 'totalVolumesUsed': 1,
        'maxTotalVolumeGigabytes': 1000, 'totalGigabytesUsed': 2,
        'maxTotalSnapshots': 10, 'totalSnapshotsUsed': 0,
        'maxTotalBackups': 10, 'totalBackupsUsed': 0,
        'maxTotalBackupGigabytes': 1000, 'totalBackupGigabytesUsed': 0}


def test_limits_of_another_project_for_admins_since_3_39(client, admin, project):
    client.create_volume(size=2)
    url = '/v3/limits?project_id=%s' % project
    assert admin.get(url, version='3.39').json['limits']['absolute']['totalVolumesUsed'] == 1
    # before 3.39, and for non-admins, the parameter is ignored
    assert admin.get(url, version='3.38').json['limits']['absolute']['totalVolumesUsed'] == 0
    other = Client(client.app, 'u2:other-%s' % project, version='3.39')
    assert other.get(url).json['limits']['absolute']['totalVolumesUsed'] == 0
    # cinderclient's tenant_id
    assert admin.get('/v3/limits?tenant_id=%s' % project, version='3.71').json[
        'limits']['absolute']['totalVolumesUsed'] == 1
