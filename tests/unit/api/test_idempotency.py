"""Idempotent create (Idempotency-Key header or client_token) on SQLite.

The rules are in blockstore/common/idempotency.py's docstring.
"""

import datetime
import threading
import uuid

import pytest
import sqlalchemy as sa

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import models
from tests.unit.api.conftest import Client, fault_of, make_available

V = '3.27'


def _key():
    return 'k-' + uuid.uuid4().hex


def _post_volume(client, key=None, token=None, **fields):
    body = {'volume': dict({'size': 1, 'name': 'v'}, **fields)}
    if token is not None:
        body['volume']['client_token'] = token
    headers = {'Idempotency-Key': key} if key is not None else None
    return client.post('/v3/volumes', body, headers=headers)


def _volume_ids(project):
    with db._reader(context.get_admin_context()) as session:
        return sorted(r[0] for r in session.execute(sa.select(models.Volume.id).where(
            models.Volume.project_id == project, models.Volume.deleted == sa.false())))


def _key_rows(project):
    with db._reader(context.get_admin_context()) as session:
        return session.execute(sa.select(models.IdempotencyKey).where(
            models.IdempotencyKey.project_id == project)).scalars().all()


def _in_use(client, project):
    resp = client.get('/v3/os-quota-sets/%s?usage=True' % project)
    qs = resp.json['quota_set']
    return qs['volumes']['in_use'], qs['gigabytes']['in_use']


def test_repeat_returns_the_same_volume_with_the_same_answer(client, app, project):
    key = _key()
    first = _post_volume(client, key)
    assert first.status_int == 202, first.body
    again = _post_volume(client, key)
    assert again.status_int == 202, again.body
    assert again.json['volume']['id'] == first.json['volume']['id']
    assert set(again.json['volume']) == set(first.json['volume'])
    assert _volume_ids(project) == [first.json['volume']['id']]
    # One cast to the scheduler: the repeat created nothing.
    assert app.volume_api.scheduler_rpcapi.names().count('create_volume') == 1
    (row,) = _key_rows(project)
    assert (row.resource_type, row.key, row.resource_id) == (
        'volume', key, first.json['volume']['id'])
    assert row.completed_at is not None


def test_without_a_key_each_create_is_new(client, project):
    a = _post_volume(client)
    b = _post_volume(client)
    assert a.json['volume']['id'] != b.json['volume']['id']
    assert len(_volume_ids(project)) == 2
    assert _key_rows(project) == []


def test_client_token_is_the_same_key_as_the_header(client, project):
    key = _key()
    by_token = _post_volume(client, token=key)
    assert by_token.status_int == 202, by_token.body
    # The fingerprint leaves the token out: the same request by header is a repeat.
    by_header = _post_volume(client, key)
    assert by_header.status_int == 202, by_header.body
    assert by_header.json['volume']['id'] == by_token.json['volume']['id']
    both = _post_volume(client, key, token=key)
    assert both.json['volume']['id'] == by_token.json['volume']['id']
    assert len(_volume_ids(project)) == 1


def test_header_and_token_that_differ_are_refused(client, project):
    resp = _post_volume(client, _key(), token=_key())
    assert resp.status_int == 400
    assert 'differ' in fault_of(resp)[2]
    assert _volume_ids(project) == []


def test_client_token_is_accepted_by_strict_microversions(client):
    resp = client.post('/v3/volumes', {'volume': {'size': 1, 'client_token': _key()}},
                       version='3.60')
    assert resp.status_int == 202, resp.body


def test_different_request_with_the_same_key_is_a_409_naming_the_key(client, project):
    key = _key()
    first = _post_volume(client, key)
    assert first.status_int == 202
    other = _post_volume(client, key, size=2)
    assert other.status_int == 409
    name, code, message = fault_of(other)
    assert (name, code) == ('conflictingRequest', 409)
    assert key in message
    assert _volume_ids(project) == [first.json['volume']['id']]


@pytest.mark.parametrize('key', ['', 'x' * 256, 'caf\u00e9', 'tab\there'])
def test_bad_keys_are_a_400(client, project, key):
    resp = _post_volume(client, token=key)
    assert resp.status_int == 400, resp.body
    assert _volume_ids(project) == []


def test_bad_header_key_is_a_400(client, project):
    resp = _post_volume(client, 'x' * 256)
    assert resp.status_int == 400
    assert 'Invalid idempotency key' in fault_of(resp)[2]
    assert _volume_ids(project) == []


def test_longest_and_printable_keys_are_fine(client):
    for key in ('x' * 255, ' !~"{}', 'A'):
        resp = _post_volume(client, token=key)
        assert resp.status_int == 202, (key, resp.body)


def test_keys_are_case_sensitive(client, project):
    a = _post_volume(client, 'Key-' + project)
    b = _post_volume(client, 'key-' + project)
    assert a.json['volume']['id'] != b.json['volume']['id']


def test_keys_are_scoped_by_project(app, project):
    key = _key()
    mine = Client(app, 'user1:%s' % project)
    other_project = 'p-' + uuid.uuid4().hex[:12]
    theirs = Client(app, 'user2:%s' % other_project)
    a = _post_volume(mine, key)
    b = _post_volume(theirs, key)
    assert a.status_int == b.status_int == 202
    assert a.json['volume']['id'] != b.json['volume']['id']
    assert _volume_ids(project) == [a.json['volume']['id']]
    assert _volume_ids(other_project) == [b.json['volume']['id']]


def test_keys_are_scoped_by_resource_type(client, project):
    key = _key()
    vol = _post_volume(client, key).json['volume']
    make_available('volume', vol['id'])
    resp = client.post('/v3/snapshots', {'snapshot': {'volume_id': vol['id']}},
                       headers={'Idempotency-Key': key})
    assert resp.status_int == 202, resp.body
    assert resp.json['snapshot']['id'] != vol['id']


def test_quota_is_not_consumed_twice(client, admin, project):
    assert admin.put('/v3/os-quota-sets/%s' % project,
                     {'quota_set': {'volumes': 1}}).status_int == 200
    key = _key()
    first = _post_volume(client, key, size=3)
    assert first.status_int == 202, first.body
    # At the limit: the repeat is still answered with the volume, not a 413.
    for _ in range(3):
        again = _post_volume(client, key, size=3)
        assert again.status_int == 202, again.body
        assert again.json['volume']['id'] == first.json['volume']['id']
    assert _in_use(admin, project) == (1, 3)
    # Another key is another volume: over quota.
    assert _post_volume(client, _key(), size=3).status_int == 413


def test_a_refused_create_releases_its_key(client, admin, project):
    assert admin.put('/v3/os-quota-sets/%s' % project,
                     {'quota_set': {'volumes': 0}}).status_int == 200
    key = _key()
    assert _post_volume(client, key).status_int == 413
    assert _key_rows(project) == []
    assert admin.put('/v3/os-quota-sets/%s' % project,
                     {'quota_set': {'volumes': 5}}).status_int == 200
    resp = _post_volume(client, key)
    assert resp.status_int == 202, resp.body
    assert _volume_ids(project) == [resp.json['volume']['id']]


def test_a_key_whose_volume_was_deleted_is_a_409(client, project):
    key = _key()
    vol = _post_volume(client, key).json['volume']
    make_available('volume', vol['id'])
    assert client.delete('/v3/volumes/%s' % vol['id']).status_int == 202
    resp = _post_volume(client, key)
    assert resp.status_int == 409
    message = fault_of(resp)[2]
    assert key in message and 'deleted' in message
    assert _volume_ids(project) == []


def test_an_expired_key_makes_a_new_volume(client, project):
    key = _key()
    first = _post_volume(client, key).json['volume']
    old = models.utcnow() - datetime.timedelta(days=2)
    with db._writer(context.get_admin_context()) as session:
        session.execute(sa.update(models.IdempotencyKey).where(
            models.IdempotencyKey.project_id == project).values(created_at=old))
    second = _post_volume(client, key)
    assert second.status_int == 202
    assert second.json['volume']['id'] != first['id']
    (row,) = _key_rows(project)
    assert row.resource_id == second.json['volume']['id']


def test_purge_removes_expired_keys_only(client, project):
    from blockstore.common import idempotency
    old_key, new_key = _key(), _key()
    _post_volume(client, old_key)
    _post_volume(client, new_key, name='other')
    old = models.utcnow() - datetime.timedelta(days=2)
    with db._writer(context.get_admin_context()) as session:
        session.execute(sa.update(models.IdempotencyKey).where(
            models.IdempotencyKey.key == old_key).values(created_at=old))
    assert idempotency.purge_expired(context.get_admin_context()) >= 1
    assert [r.key for r in _key_rows(project)] == [new_key]


def test_concurrent_repeats_make_one_volume(client, project):
    key = _key()
    answers = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def run():
        start.wait()
        resp = _post_volume(client, key)
        with lock:
            answers.append((resp.status_int, resp.json['volume']['id']
                            if resp.status_int == 202 else resp.body))
    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a[0] for a in answers} == {202}, answers
    assert len({a[1] for a in answers}) == 1
    assert _volume_ids(project) == [answers[0][1]]


# -- snapshots -----------------------------------------------------------------------------

@pytest.fixture
def volume(client):
    vol = client.create_volume(size=2)
    make_available('volume', vol['id'])
    return vol


def _post_snapshot(client, volume_id, key, **fields):
    return client.post('/v3/snapshots', {'snapshot': dict(volume_id=volume_id, **fields)},
                       headers={'Idempotency-Key': key})


def test_snapshot_repeat_returns_the_same_snapshot(client, app, volume, admin, project):
    key = _key()
    first = _post_snapshot(client, volume['id'], key, name='s')
    assert first.status_int == 202, first.body
    again = _post_snapshot(client, volume['id'], key, name='s')
    assert again.status_int == 202, again.body
    assert again.json['snapshot']['id'] == first.json['snapshot']['id']
    assert app.volume_api.volume_rpcapi.names().count('create_snapshot') == 1
    qs = admin.get('/v3/os-quota-sets/%s?usage=True' % project).json['quota_set']
    assert qs['snapshots']['in_use'] == 1
    other = _post_snapshot(client, volume['id'], key, name='t')
    assert other.status_int == 409
    assert key in fault_of(other)[2]


def test_snapshot_client_token(client, volume):
    key = _key()
    body = {'snapshot': {'volume_id': volume['id'], 'client_token': key}}
    a = client.post('/v3/snapshots', body)
    b = client.post('/v3/snapshots', body)
    assert a.status_int == b.status_int == 202, (a.body, b.body)
    assert a.json['snapshot']['id'] == b.json['snapshot']['id']


# -- attachments ---------------------------------------------------------------------------

def test_attachment_repeat_returns_the_same_attachment(app, project):
    c = Client(app, 'user1:%s' % project, version=V)
    vol = c.create_volume()
    make_available('volume', vol['id'])
    body = {'attachment': {'volume_uuid': vol['id'], 'instance_uuid': str(uuid.uuid4())}}
    key = _key()
    first = c.post('/v3/attachments', body, headers={'Idempotency-Key': key})
    assert first.status_int == 200, first.body
    # The repeat answers with the first (the same instance could otherwise
    # take a second attachment).
    again = c.post('/v3/attachments', body, headers={'Idempotency-Key': key})
    assert again.status_int == 200, again.body
    assert again.json == first.json
    listed = c.get('/v3/attachments?volume_id=%s' % vol['id']).json['attachments']
    assert [a['id'] for a in listed] == [first.json['attachment']['id']]


def test_concurrent_attachment_repeats_make_one(app, project):
    c = Client(app, 'user1:%s' % project, version=V)
    vol = c.create_volume()
    make_available('volume', vol['id'])
    body = {'attachment': {'volume_uuid': vol['id'], 'instance_uuid': str(uuid.uuid4()),
                           'client_token': _key()}}
    answers = []
    start = threading.Barrier(6)

    def run():
        start.wait()
        resp = c.post('/v3/attachments', body)
        answers.append((resp.status_int, resp.json))
    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a[0] for a in answers} == {200}, answers
    assert len({a[1]['attachment']['id'] for a in answers}) == 1


def test_openapi_documents_the_header_and_client_token():
    from blockstore.api import openapi
    doc = openapi.generate()
    op = doc['paths']['/v3/volumes']['post']
    assert 'Idempotency-Key' in [p.get('name') for p in op['parameters']]
    body = op['requestBody']['content']['application/json']['schema']
    assert 'client_token' in body['properties']['volume']['properties']


def test_a_repeat_waits_for_a_pending_first_request_then_409(client, project):
    """A key whose first request has not finished: the repeat waits, then says so."""
    from oslo_config import cfg
    from blockstore.common import idempotency
    key = _key()
    vol = _post_volume(client, key).json['volume']
    with db._writer(context.get_admin_context()) as session:
        session.execute(sa.update(models.IdempotencyKey).where(
            models.IdempotencyKey.project_id == project).values(completed_at=None))
    cfg.CONF.set_override('idempotency_wait_timeout', 0.2)
    try:
        resp = _post_volume(client, key)
        assert resp.status_int == 409
        assert 'still in progress' in fault_of(resp)[2]
        # Once the first finishes, the repeat answers with its volume.
        done = threading.Timer(0.1, idempotency.db_idem.complete, (
            context.get_admin_context(),
            idempotency.db_idem.Claim(project, 'volume', key, '', vol['id'])))
        cfg.CONF.set_override('idempotency_wait_timeout', 30)
        done.start()
        resp = _post_volume(client, key)
        done.join()
        assert resp.status_int == 202
        assert resp.json['volume']['id'] == vol['id']
    finally:
        cfg.CONF.clear_override('idempotency_wait_timeout')
    assert _volume_ids(project) == [vol['id']]
