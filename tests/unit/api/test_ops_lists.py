"""get_pools, user messages and resource_filters: wire format, filters, policy, bad input."""

import datetime
import json
import uuid

import pytest
from oslo_config import cfg

from blockstore.common import context
from blockstore.common import messages as recorder
from blockstore.db import api as db
from blockstore.db.models import utcnow
from tests.unit.api.conftest import Client, fault_of
from tests.unit.api.test_services import Pools


POOLS = [{'name': 'n1@fast#p', 'capabilities': {'volume_backend_name': 'fast',
                                                 'free_capacity_gb': 5}},
         {'name': 'n2@slow#p', 'capabilities': {'volume_backend_name': 'slow'}}]


# -- pools ----------------------------------------------------------------------------------------

def test_get_pools_summary_and_detail(app, admin, client):
    app.volume_api.scheduler_rpcapi = Pools(POOLS)
    resp = admin.get('/v3/scheduler-stats/get_pools')
    assert resp.status_int == 200
    assert resp.json == {'pools': [{'name': 'n1@fast#p'}, {'name': 'n2@slow#p'}]}
    detail = admin.get('/v3/scheduler-stats/get_pools?detail=True').json['pools']
    assert detail[0] == POOLS[0]
    assert client.get('/v3/scheduler-stats/get_pools').status_int == 403
    assert admin.get('/v3/scheduler-stats/get_pools?detail=yes-please').status_int == 400


def test_get_pools_filters_by_version(app, admin):
    sched = app.volume_api.scheduler_rpcapi = Pools(POOLS)
    # before 3.28 filters are ignored
    assert len(admin.get('/v3/scheduler-stats/get_pools?name=n1@fast%23p',
                         version='3.27').json['pools']) == 2
    assert sched.calls[-1] is None
    resp = admin.get('/v3/scheduler-stats/get_pools?name=n1@fast%23p', version='3.28')
    assert [p['name'] for p in resp.json['pools']] == ['n1@fast#p']
    # from 3.31 only the configured pool filters, for admins too
    resp = admin.get('/v3/scheduler-stats/get_pools?free_capacity_gb=5', version='3.31')
    assert resp.status_int == 400
    assert fault_of(resp)[2] == 'Invalid filters free_capacity_gb are found in query options.'
    # volume_type from 3.35: resolved to the type's extra specs
    resp = admin.post('/v3/types', {'volume_type': {'name': 'pt-' + uuid.uuid4().hex[:6],
                                                    'extra_specs': {'a': 'b'}}})
    vtype = resp.json['volume_type']
    admin.get('/v3/scheduler-stats/get_pools?volume_type=%s' % vtype['name'],
              version='3.35')
    assert sched.calls[-1]['volume_type']['extra_specs'] == {'a': 'b'}
    admin.get('/v3/scheduler-stats/get_pools?volume_type=%s' % vtype['name'],
              version='3.34')
    assert sched.calls[-1] is None
    resp = admin.get('/v3/scheduler-stats/get_pools?volume_type=nope', version='3.35')
    assert resp.status_int == 404


def test_get_pools_without_a_scheduler_answer_is_503(app, admin):
    import oslo_messaging as messaging

    class Silent(Pools):
        def get_pools(self, ctx, filters=None, timeout=None):
            raise messaging.MessagingTimeout('no reply')
    app.volume_api.scheduler_rpcapi = Silent()
    resp = admin.get('/v3/scheduler-stats/get_pools')
    assert resp.status_int == 503
    assert 'scheduler' in fault_of(resp)[2].lower()


# -- messages ------------------------------------------------------------------------------------

def _record(project, event='SCHEDULE_ALLOCATE_VOLUME', detail='No valid backend was found.',
            rtype='VOLUME', expired=False):
    ctx = context.get_admin_context()
    rid = str(uuid.uuid4())
    recorder.record(ctx, project, rtype, rid, event, detail)
    msgs = db.message_get_all(ctx, project_id=project, resource_uuid=rid)
    if expired:
        from blockstore.db import models
        with db._writer(ctx) as s:
            s.query(models.Message).filter_by(id=msgs[0].id).update(
                {'expires_at': utcnow() - datetime.timedelta(seconds=1)})
    return msgs[0].id, rid


def test_messages_need_3_3(client):
    assert client.get('/v3/messages', version='3.2').status_int == 404


def test_message_show_in_cinders_shape(client, project):
    mid, rid = _record(project)
    resp = client.get('/v3/messages/%s' % mid, version='3.3')
    assert resp.status_int == 200
    msg = resp.json['message']
    assert set(msg) == {'id', 'event_id', 'user_message', 'message_level', 'created_at',
                        'guaranteed_until', 'request_id', 'links', 'resource_type',
                        'resource_uuid'}
    assert msg['event_id'] == 'VOLUME_VOLUME_001_003'
    assert msg['user_message'] == ('schedule allocate volume: Could not find any available '
                                   'weighted backend.')
    assert (msg['message_level'], msg['resource_type'], msg['resource_uuid']) == (
        'ERROR', 'VOLUME', rid)
    assert msg['links'][0]['href'].endswith('/v3/messages/%s' % mid)


@pytest.mark.parametrize('event, detail, rtype, event_id, text', [
    ('CREATE_VOLUME_FROM_BACKEND', 'boom', 'VOLUME', 'VOLUME_VOLUME_008_012',
     'create volume from backend storage: Driver failed to create the volume.'),
    ('CREATE_VOLUME_FROM_BACKEND', 'Volume driver not ready.', 'VOLUME',
     'VOLUME_VOLUME_008_002',
     'create volume from backend storage: Driver is not initialized at present.'),
    ('EXTEND_VOLUME_FROM_BACKEND', 'x', 'VOLUME', 'VOLUME_VOLUME_007_010',
     'extend volume: Volume Driver failed to extend volume.'),
    ('DELETE_VOLUME_FROM_BACKEND', 'x', 'VOLUME', 'VOLUME_VOLUME_101_001',
     'delete volume from backend storage: An unknown error occurred.'),
    ('CREATE_SNAPSHOT_ON_BACKEND', 'x', 'SNAPSHOT', 'VOLUME_VOLUME_SNAPSHOT_009_013',
     'create snapshot: Snapshot failed to create.'),
    ('DELETE_SNAPSHOT_FROM_BACKEND', 'x', 'SNAPSHOT', 'VOLUME_VOLUME_SNAPSHOT_010_016',
     'delete snapshot: Snapshot failed to delete.'),
    ('SCHEDULE_ALLOCATE_VOLUME', 'Scheduling failed', 'VOLUME', 'VOLUME_VOLUME_001_001',
     'schedule allocate volume: An unknown error occurred.'),
])
def test_event_table(client, project, event, detail, rtype, event_id, text):
    mid, _ = _record(project, event, detail, rtype)
    msg = client.get('/v3/messages/%s' % mid, version='3.3').json['message']
    assert (msg['event_id'], msg['user_message']) == (event_id, text)
    if rtype == 'SNAPSHOT':
        assert msg['resource_type'] == 'VOLUME_SNAPSHOT'


def test_messages_are_project_scoped(app, client, admin, project):
    mid, _ = _record(project)
    other = Client(app, 'u:other-%s' % project, version='3.3')
    assert other.get('/v3/messages/%s' % mid).status_int == 404
    assert other.get('/v3/messages').json['messages'] == []
    assert other.delete('/v3/messages/%s' % mid).status_int == 404
    assert admin.get('/v3/messages/%s' % mid, version='3.3').status_int == 200
    assert [m['id'] for m in client.get('/v3/messages', version='3.3').json['messages']] == [
        mid]


def test_message_delete(client, project):
    mid, _ = _record(project)
    resp = client.delete('/v3/messages/%s' % mid, version='3.3')
    assert resp.status_int == 204
    resp = client.get('/v3/messages/%s' % mid, version='3.3')
    assert resp.status_int == 404
    assert fault_of(resp) == ('itemNotFound', 404, 'Message %s could not be found.' % mid)


def test_expired_messages_are_gone(client, project):
    mid, _ = _record(project, expired=True)
    assert client.get('/v3/messages/%s' % mid, version='3.3').status_int == 404


def test_message_filters_sort_and_pagination(client, project):
    ids = [_record(project)[0] for _ in range(3)]
    snap_id, snap_rid = _record(project, 'CREATE_SNAPSHOT_ON_BACKEND', 'x', 'SNAPSHOT')
    listed = client.get('/v3/messages', version='3.5').json['messages']
    assert {m['id'] for m in listed} == set(ids + [snap_id])
    page = client.get('/v3/messages?limit=2&sort=created_at:asc', version='3.5').json
    assert len(page['messages']) == 2 and page['messages_links'][0]['rel'] == 'next'
    for query, expect in (('resource_type=VOLUME_SNAPSHOT', [snap_id]),
                          ('resource_uuid=%s' % snap_rid, [snap_id]),
                          ('event_id=VOLUME_VOLUME_SNAPSHOT_009_013', [snap_id]),
                          ('event_id=VOLUME_VOLUME_001_003', ids),
                          ('message_level=ERROR', ids + [snap_id])):
        got = client.get('/v3/messages?' + query, version='3.5').json['messages']
        assert sorted(m['id'] for m in got) == sorted(expect), query
    # before 3.5 the query is ignored
    assert len(client.get('/v3/messages?limit=1', version='3.4').json['messages']) == 4


def test_message_list_bad_input(client, project):
    for query, words in (('bogus=1', 'Invalid filters bogus are found in query options.'),
                         ('limit=x', 'limit param must be an integer'),
                         ('sort=created_at:sideways', 'Unknown sort direction'),
                         ('marker=%s' % uuid.uuid4(), 'could not be found')):
        resp = client.get('/v3/messages?' + query, version='3.31')
        assert resp.status_int in (400, 404), query
        assert words in fault_of(resp)[2], (query, fault_of(resp))
    # all_tenants is dropped silently (cinderclient sends it)
    assert client.get('/v3/messages?all_tenants=1', version='3.31').status_int == 200


# -- resource filters -----------------------------------------------------------------------------

def test_resource_filters(client):
    assert client.get('/v3/resource_filters', version='3.32').status_int == 404
    resp = client.get('/v3/resource_filters', version='3.33')
    assert resp.status_int == 200
    filters = {f['resource']: f['filters'] for f in resp.json['resource_filters']}
    assert filters['volume'][:3] == ['name', 'status', 'metadata']
    assert filters['pool'] == ['name', 'volume_type']
    one = client.get('/v3/resource_filters?resource=snapshot', version='3.33').json
    assert one == {'resource_filters': [{'resource': 'snapshot', 'filters': [
        'name', 'status', 'volume_id', 'metadata', 'availability_zone']}]}
    assert client.get('/v3/resource_filters?resource=nothing', version='3.33').json == {
        'resource_filters': []}


def test_shipped_file_equals_the_builtin_defaults():
    import os
    from blockstore.api import query_filters
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    with open(os.path.join(root, 'etc', 'blockstore', 'resource_filters.json')) as f:
        assert json.load(f) == query_filters.DEFAULTS


@pytest.fixture
def filters_file(tmp_path):
    path = tmp_path / 'filters.json'
    path.write_text(json.dumps({'volume': ['name'], 'snapshot': ['status']}))
    cfg.CONF.set_override('resource_query_filters_file', str(path))
    yield path
    cfg.CONF.clear_override('resource_query_filters_file')


def test_configured_file_drives_list_filters(client, filters_file):
    client.create_volume(name='f1')
    assert client.get('/v3/volumes?name=f1', version='3.31').status_int == 200
    resp = client.get('/v3/volumes?status=available', version='3.31')
    assert resp.status_int == 400 and 'status' in fault_of(resp)[2]
    # before 3.31 a filter that is not allowed is ignored
    assert client.get('/v3/volumes?status=available', version='3.30').status_int == 200
    assert client.get('/v3/snapshots?status=available', version='3.31').status_int == 200
    assert client.get('/v3/snapshots?name=x', version='3.31').status_int == 400
    listed = client.get('/v3/resource_filters', version='3.33').json['resource_filters']
    assert listed == [{'resource': 'volume', 'filters': ['name']},
                      {'resource': 'snapshot', 'filters': ['status']}]


def test_default_filters_for_volumes_and_snapshots(client):
    client.create_volume(name='d1')
    for url in ('/v3/volumes?name=d1', '/v3/volumes?bootable=false', '/v3/snapshots?status=x',
                '/v3/snapshots?volume_id=%s' % uuid.uuid4()):
        assert client.get(url, version='3.31').status_int == 200, url
    # snapshots have no availability zone column: refused for users, not a 500
    resp = client.get('/v3/snapshots?availability_zone=nova', version='3.31')
    assert resp.status_int == 400


def test_unreadable_filters_file_is_a_clear_error(client, tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    cfg.CONF.set_override('resource_query_filters_file', str(bad))
    try:
        resp = client.get('/v3/resource_filters', version='3.33')
        assert resp.status_int == 500
    finally:
        cfg.CONF.clear_override('resource_query_filters_file')


def test_admin_message_filters_on_other_columns_are_400(admin):
    for query in ('created_at=yesterday', 'detail=x', 'sort=detail', 'sort=bogus:asc'):
        resp = admin.get('/v3/messages?' + query, version='3.71')
        assert resp.status_int == 400, query
    assert admin.get('/v3/messages?project_id=p&sort=created_at:asc',
                     version='3.71').status_int == 200
