"""Field tables and rendering speed."""

import datetime
import json
import time
import types
import uuid

import pytest
import sqlalchemy as sa
import webob

from blockstore.api import microversion
from blockstore.api.views import fields as F
from blockstore.api.views import snapshots as snapshot_views
from blockstore.api.views import types as type_views
from blockstore.api.views import volumes as volume_views
from blockstore.common import context


def _req(is_admin, version=microversion.MAX, path='/v3/volumes/detail'):
    req = webob.Request.blank(path)
    req.environ['blockstore.context'] = context.RequestContext(
        user_id='u', project_id='p', is_admin=is_admin)
    req.environ[microversion.ENVIRON_KEY] = version
    return req


def _row(i):
    """A stand-in for a models.Volume row (what list calls render)."""
    md = {'k%d' % j: 'v%d' % j for j in range(3)}
    return types.SimpleNamespace(
        id=str(uuid.uuid4()), display_name='vol%d' % i, display_description='d',
        status='available', size=1, availability_zone='nova',
        created_at=datetime.datetime(2026, 11, 22, 21, 28, 48), updated_at=None,
        volume_type=types.SimpleNamespace(name='__DEFAULT__'), volume_type_id=str(uuid.uuid4()),
        snapshot_id=None, source_volid=None, metadata=md, user_id='u', bootable=True,
        encryption_key_id=None, replication_status=None, multiattach=False,
        migration_status=None, project_id='p', host='h@b#p', group_id=None, provider_id=None,
        shared_targets=None, service_uuid=None, cluster_name=None, use_quota=True)


def test_plans_are_cached_per_kind_version_admin():
    a = volume_views.FIELDS.plan(F.FULL, microversion.v('3.50'), False)
    assert volume_views.FIELDS.plan(F.FULL, microversion.v('3.50'), False) is a
    assert volume_views.FIELDS.plan(F.FULL, microversion.v('3.50'), True) is not a


@pytest.mark.parametrize('table', [volume_views.FIELDS, snapshot_views.FIELDS,
                                   type_views.FIELDS])
def test_each_plan_has_unique_names(table):
    for kind in F.ALL_KINDS:
        for version, _ in microversion.VERSIONS:
            for admin in (False, True):
                names = table.names(kind, version, admin)
                assert len(names) == len(set(names)), (kind, version, admin)


def test_gated_fields_appear_exactly_at_their_version():
    expectations = {'group_id': '3.13', 'service_uuid': '3.48', 'shared_targets': '3.48',
                    'volume_type_id': '3.63', 'encryption_key_id': '3.64',
                    'consumes_quota': '3.65'}
    for name, since in expectations.items():
        v = microversion.v(since)
        before = microversion.Version(v.major, v.minor - 1)
        assert name in volume_views.FIELDS.names(F.DETAIL, v, False)
        assert name not in volume_views.FIELDS.names(F.DETAIL, before, False)
    for name, since in {'provider_id': '3.21', 'cluster_name': '3.61'}.items():
        assert name in volume_views.FIELDS.names(F.DETAIL, microversion.v(since), True)
        assert name not in volume_views.FIELDS.names(F.DETAIL, microversion.MAX, False)
    for name, since in {'group_snapshot_id': '3.14', 'user_id': '3.41',
                        'consumes_quota': '3.65'}.items():
        v = microversion.v(since)
        assert name in snapshot_views.FIELDS.names(F.DETAIL, v, False)
        assert name not in snapshot_views.FIELDS.names(
            F.DETAIL, microversion.Version(3, v.minor - 1), False)


def test_row_and_timestamp_rendering():
    row = _row(0)
    vol = volume_views.show(_req(False), row)['volume']
    assert vol['created_at'] == '2026-11-22T21:28:48.000000'
    assert vol['bootable'] == 'true'
    assert vol['metadata'] == {'k0': 'v0', 'k1': 'v1', 'k2': 'v2'}
    assert vol['volume_type'] == '__DEFAULT__'
    aware = datetime.datetime(2026, 11, 22, 22, 28, 48, 5,
                              tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    assert F.format_time(aware) == '2026-11-22T21:28:48.000005'


@pytest.mark.parametrize('is_admin', [False, True])
def test_detail_listing_of_1000_renders_fast(is_admin):
    rows = [_row(i) for i in range(1000)]
    req = _req(is_admin)
    best = float('inf')
    for _ in range(5):
        start = time.perf_counter()
        body = json.dumps(volume_views.index(req, rows, detail=True, limit=1000))
        best = min(best, time.perf_counter() - start)
    assert len(json.loads(body)['volumes']) == 1000
    # Rendering plus JSON encoding: well under 100 ms of Python time.
    assert best < 0.1, 'rendering 1000 volumes took %.1f ms' % (best * 1000)


def test_detail_listing_of_1000_db_rows_through_the_api(app, admin, database):
    """1000 real rows: listed in one page with a next link (page full at osapi_max_limit)."""
    from blockstore.db import api as db_api
    from blockstore.db import models
    project = 'bulk-' + uuid.uuid4().hex[:8]
    vtype = admin.get('/v3/types/default').json['volume_type']
    now = datetime.datetime(2026, 1, 1)
    vols = [{'id': str(uuid.uuid4()), 'project_id': project, 'user_id': 'u', 'size': 1,
             'status': 'available', 'attach_status': 'detached', 'display_name': 'v%d' % i,
             'volume_type_id': vtype['id'], 'bootable': False, 'multiattach': False,
             'use_quota': True, 'deleted': False, 'availability_zone': 'nova',
             'created_at': now + datetime.timedelta(seconds=i)} for i in range(1000)]
    meta = [{'volume_id': v['id'], 'key': 'k', 'value': 'v'} for v in vols]
    with db_api.get_engine().begin() as conn:
        conn.execute(sa.insert(models.Volume.__table__), vols)
        conn.execute(sa.insert(models.VolumeMetadata.__table__), meta)
    start = time.perf_counter()
    resp = admin.get('/v3/volumes/detail?all_tenants=1&project_id=%s' % project,
                     version='latest')
    elapsed = time.perf_counter() - start
    assert resp.status_int == 200
    body = resp.json
    assert len(body['volumes']) == 1000
    assert body['volumes'][0]['name'] == 'v999'
    assert body['volumes'][0]['metadata'] == {'k': 'v'}
    assert body['volumes_links'][0]['rel'] == 'next'
    assert elapsed < 2.5, elapsed
