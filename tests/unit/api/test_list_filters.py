"""Like filters (``key~=text``, 3.34) and time comparisons (``created_at=gt:...``, 3.60).

Against the real SQLite database: the filters are SQL conditions, so these
prove the rows the database returns.
"""

import datetime
import json
import uuid

from oslo_config import cfg
import pytest

from blockstore.common import context
from blockstore.common import messages as recorder
from blockstore.db import api as db
from tests.unit.api.conftest import Client, fault_of, make_available


def _names(resp, key='volumes'):
    assert resp.status_int == 200, resp.body
    return sorted(v['name'] for v in resp.json[key])


@pytest.fixture
def named(client):
    tag = uuid.uuid4().hex[:6]
    for name in ('alpha-%s' % tag, 'beta-%s' % tag, 'alphabet_%s' % tag, '50%%-%s' % tag):
        client.create_volume(name=name)
    return tag


def test_like_filter_on_volume_names(admin, named):
    tag = named
    url = '/v3/volumes?all_tenants=1&name~=%s'
    assert _names(admin.get(url % ('alpha',) + tag, version='3.34')) == []
    assert _names(admin.get(url % tag, version='3.34')) == sorted(
        ['alpha-' + tag, 'beta-' + tag, 'alphabet_' + tag, '50%-' + tag])
    got = _names(admin.get('/v3/volumes?all_tenants=1&name~=alpha', version='3.34'))
    assert {'alpha-' + tag, 'alphabet_' + tag} <= set(got) and 'beta-' + tag not in got
    # % and _ are literal characters, not wildcards.
    assert _names(admin.get('/v3/volumes?all_tenants=1&name~=50%25-' + tag,
                            version='3.34')) == ['50%-' + tag]
    assert _names(admin.get('/v3/volumes?all_tenants=1&name~=t_' + tag,
                            version='3.34')) == ['alphabet_' + tag]
    # with_count counts the same rows (SQL, not a Python post-filter).
    resp = admin.get('/v3/volumes/detail?all_tenants=1&with_count=true&name~=' + tag,
                     version='3.45')
    assert resp.json['count'] == 4 and len(resp.json['volumes']) == 4


def test_like_filter_before_334_and_on_typed_filters(admin, client, named):
    # Below 3.34 "name~" is an ordinary key: no such column (admin), not allowed (user).
    resp = admin.get('/v3/volumes?name~=' + named, version='3.33')
    assert resp.status_int == 400 and 'name~' in fault_of(resp)[2]
    resp = client.get('/v3/volumes?name~=' + named, version='3.33')
    assert resp.status_int == 400 and 'name~' in fault_of(resp)[2]
    assert client.get('/v3/volumes?name~=' + named, version='3.30').status_int == 200
    for query in ('size~=1', 'bootable~=t', 'metadata~=x', 'created_at~=2020'):
        resp = admin.get('/v3/volumes?' + query, version='3.60')
        assert resp.status_int == 400 and 'not a text filter' in fault_of(resp)[2], query
    resp = admin.get('/v3/volumes?name=a&name~=b', version='3.34')
    assert resp.status_int == 400 and 'name and name~ cannot be combined' in fault_of(resp)[2]
    resp = admin.get('/v3/volumes?name=a&display_name=b', version='3.34')
    assert resp.status_int == 400 and 'name and display_name cannot' in fault_of(resp)[2]


def test_like_filters_for_users_follow_resource_filters(client, named, tmp_path):
    # Cinder's default file has no "~" keys: users cannot use the like form.
    resp = client.get('/v3/volumes?name~=' + named, version='3.34')
    assert resp.status_int == 400 and 'name~' in fault_of(resp)[2]
    path = tmp_path / 'filters.json'
    path.write_text(json.dumps({'volume': ['name~', 'status'], 'snapshot': ['name~']}))
    cfg.CONF.set_override('resource_query_filters_file', str(path))
    try:
        assert len(_names(client.get('/v3/volumes?name~=' + named, version='3.34'))) == 4
        # A configured "name~" also allows the exact "name".
        assert _names(client.get('/v3/volumes?name=beta-' + named, version='3.34')) == [
            'beta-' + named]
        resp = client.get('/v3/volumes?status~=avail', version='3.34')
        assert resp.status_int == 400 and 'status~' in fault_of(resp)[2]
    finally:
        cfg.CONF.clear_override('resource_query_filters_file')


def test_like_filter_on_snapshots(client, admin):
    vol = client.create_volume()
    make_available('volume', vol['id'])
    tag = uuid.uuid4().hex[:6]
    client.create_snapshot(vol['id'], name='snap-one-' + tag)
    client.create_snapshot(vol['id'], name='snap-two-' + tag)
    got = _names(admin.get('/v3/snapshots?all_tenants=1&name~=one-' + tag, version='3.34'),
                 'snapshots')
    assert got == ['snap-one-' + tag]


def test_like_filter_on_messages(client, admin, project):
    ctx = context.get_admin_context()
    rids = [str(uuid.uuid4()) for _ in range(2)]
    for rid in rids:
        recorder.record(ctx, project, 'VOLUME', rid, 'SCHEDULE_ALLOCATE_VOLUME', 'x')
    got = admin.get('/v3/messages?resource_uuid~=%s' % rids[0][:13], version='3.34')
    assert [m['resource_uuid'] for m in got.json['messages']] == [rids[0]]
    resp = admin.get('/v3/messages?event_id~=VOLUME', version='3.34')
    assert resp.status_int == 400 and 'not a text filter' in fault_of(resp)[2]
    # Users need "resource_uuid~" in resource_filters, as in Cinder.
    resp = client.get('/v3/messages?resource_uuid~=%s' % rids[0][:13], version='3.34')
    assert resp.status_int == 400 and 'resource_uuid~' in fault_of(resp)[2]


def test_like_filter_on_transfers(client):
    tag = uuid.uuid4().hex[:6]
    for name in ('keep-' + tag, 'other-' + tag):
        vol = client.create_volume()
        make_available('volume', vol['id'])
        resp = client.post('/v3/volume-transfers',
                           {'transfer': {'volume_id': vol['id'], 'name': name}},
                           version='3.55')
        assert resp.status_int == 202, resp.body
    got = client.get('/v3/volume-transfers?name~=keep-' + tag, version='3.59')
    assert [t['name'] for t in got.json['transfers']] == ['keep-' + tag]
    # Below 3.34 the key is not a filter and is ignored, as transfers ignore unknown keys.
    got = client.get('/v3/os-volume-transfer?name~=keep-' + tag, version='3.33')
    assert len(got.json['transfers']) == 2


# -- time comparisons (3.60) ---------------------------------------------------------------

T0 = datetime.datetime(2026, 1, 1, 0, 0, 0)


@pytest.fixture
def dated(app):
    """Three volumes of a fresh project created 2026-01-01, -02 and -03 at 00:00 UTC."""
    c = Client(app, 'u:p-%s' % uuid.uuid4().hex[:12])
    ctx = context.get_admin_context()
    for day in range(3):
        vol = c.create_volume(name='day%d' % day)
        when = T0 + datetime.timedelta(days=day)
        db.volume_update(ctx, vol['id'], {'created_at': when,
                                          'updated_at': when + datetime.timedelta(hours=1)})
    return c


@pytest.mark.parametrize('query, expect', [
    ('created_at=gt:2026-01-01T00:00:00Z', ['day1', 'day2']),
    ('created_at=gte:2026-01-01T00:00:00Z', ['day0', 'day1', 'day2']),
    ('created_at=lt:2026-01-02T00:00:00Z', ['day0']),
    ('created_at=lte:2026-01-02T00:00:00Z', ['day0', 'day1']),
    ('created_at=eq:2026-01-02T00:00:00Z', ['day1']),
    ('created_at=neq:2026-01-02T00:00:00Z', ['day0', 'day2']),
    ('created_at=gt:2026-01-01T00:00:00Z,lt:2026-01-03T00:00:00Z', ['day1']),
    # Offsets are honoured: 02:00+02:00 is 00:00 UTC.
    ('created_at=eq:2026-01-02T02:00:00%2B02:00', ['day1']),
    ('updated_at=lte:2026-01-01T01:00:00Z', ['day0']),
    ('updated_at=gt:2026-01-02T00:30:00Z&created_at=lt:2026-01-03T00:00:00Z', ['day1']),
])
def test_time_comparison_filters(dated, query, expect):
    assert _names(dated.get('/v3/volumes?' + query, version='3.60')) == expect
    resp = dated.get('/v3/volumes/detail?with_count=true&' + query, version='3.60')
    assert resp.json['count'] == len(expect)


@pytest.mark.parametrize('query, words', [
    ('created_at=after:2026-01-01T00:00:00Z', 'Invalid after operator'),
    ('created_at=2026-01-01T00:00:00Z', 'operator'),
    ('created_at=gt:yesterday', 'Invalid yesterday value'),
    ('updated_at=gt:', 'value'),
    ('created_at=gt:2026-01-01T00:00:00Z,,', 'operator'),
])
def test_bad_time_comparisons_are_400(dated, query, words):
    resp = dated.get('/v3/volumes?' + query, version='3.60')
    assert resp.status_int == 400 and words in fault_of(resp)[2], resp.body


def test_time_filter_before_360_is_an_exact_time(dated):
    assert _names(dated.get('/v3/volumes?created_at=2026-01-02T00:00:00Z',
                            version='3.59')) == ['day1']
    resp = dated.get('/v3/volumes?created_at=gt:2026-01-01T00:00:00Z', version='3.59')
    assert resp.status_int == 400
