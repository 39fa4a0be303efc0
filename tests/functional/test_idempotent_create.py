"""Idempotent create on a real deployment: several API processes, MariaDB or PostgreSQL.

50 identical POST /volumes with one key (half by ``Idempotency-Key`` header,
half by ``client_token``) go to three API processes at once: only the unique
constraint of ``idempotency_keys`` can decide. Exactly one volume exists
afterwards, every answer is a 202 carrying its id, the quota counted it once;
likewise for snapshots (20 requests). Figures are printed: run with -s.
"""

import collections
from concurrent.futures import ThreadPoolExecutor
import threading
import time
import uuid

import pytest
import requests

from tests.fixtures import attach as attfix

API_PROCESSES = 3
REQUESTS = 50
SNAPSHOT_REQUESTS = 20


@pytest.fixture(params=['mysql', 'postgresql'], scope='module')
def dep(request, tmp_path_factory):
    with attfix.attach_deployment(request.param,
                                  tmp_path_factory.mktemp('idem-%s' % request.param),
                                  apis=API_PROCESSES) as d:
        d.backend = request.param
        yield d


@pytest.fixture
def project(dep):
    """A fresh project with a small quota (the quota check runs on every create)."""
    name = 'idem-' + uuid.uuid4().hex[:10]
    dep.request('PUT', '/os-quota-sets/%s' % name, project='admin', user='admin',
                body={'quota_set': {'volumes': 3, 'snapshots': 3, 'gigabytes': 50}},
                expect=200)
    return name


def _post(dep, project, path, body, key, by_header, endpoint, session):
    headers = {'X-Auth-Token': 'demo:%s' % project,
               'OpenStack-API-Version': 'volume 3.71', 'Accept': 'application/json'}
    resource = next(iter(body))
    body = {resource: dict(body[resource])}
    if by_header:
        headers['Idempotency-Key'] = key
    else:
        body[resource]['client_token'] = key
    return session.post('%s/v3/%s%s' % (endpoint, project, path), json=body,
                        headers=headers, timeout=120)


def _together(dep, project, path, body, n):
    """n identical keyed creates at once over every API; [(status, id or text)]."""
    key = 'retry-' + uuid.uuid4().hex
    start = threading.Barrier(n)
    resource = next(iter(body))

    def one(i):
        session = requests.Session()
        start.wait(60)
        r = _post(dep, project, path, body, key, i % 2 == 0,
                  dep.endpoints[i % len(dep.endpoints)], session)
        if r.status_code == 202:
            return r.status_code, r.json()[resource]['id']
        return r.status_code, r.text

    t0 = time.monotonic()
    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.monotonic() - t0
    codes = collections.Counter(code for code, _ in results)
    print('\n[%d identical %s creates on %s] codes %s; wall %.2f s'
          % (n, resource, dep.backend, dict(codes), wall))
    return key, results


def _in_use(dep, project):
    qs = dep.request('GET', '/os-quota-sets/%s?usage=True' % project, project='admin',
                     user='admin', expect=200).json()['quota_set']
    return {k: qs[k]['in_use'] for k in ('volumes', 'snapshots', 'gigabytes')}


def test_50_identical_volume_creates_make_one_volume(dep, project):
    key, results = _together(dep, project, '/volumes',
                             {'volume': {'size': 1, 'name': 'once'}}, REQUESTS)
    assert {code for code, _ in results} == {202}, results
    ids = {rid for _, rid in results}
    assert len(ids) == 1, ids
    vid, = ids
    rows = dep.db.rows('SELECT id FROM volumes WHERE project_id = :p AND deleted = :f',
                       p=project, f=False)
    assert [r['id'] for r in rows] == [vid]
    # "key" is reserved in MySQL: qualified, it is a plain column name on both.
    keys = dep.db.rows('SELECT resource_type, resource_id, completed_at FROM idempotency_keys '
                       'WHERE project_id = :p AND idempotency_keys.key = :k',
                       p=project, k=key)
    assert [(k['resource_type'], k['resource_id']) for k in keys] == [('volume', vid)]
    assert keys[0]['completed_at'] is not None
    assert _in_use(dep, project)['volumes'] == 1
    assert dep.wait_status('volume', vid, 'available', project=project, timeout=120) == \
        'available'
    # A later retry (a client that timed out) still gets the same volume.
    session = requests.Session()
    again = _post(dep, project, '/volumes', {'volume': {'size': 1, 'name': 'once'}}, key,
                  True, dep.endpoints[-1], session)
    assert again.status_code == 202 and again.json()['volume']['id'] == vid
    assert again.json()['volume']['status'] == 'available'


def test_identical_snapshot_creates_make_one_snapshot(dep, project):
    body = {'volume': {'size': 1, 'name': 'origin'}}
    vid = dep.request('POST', '/volumes', project=project, body=body,
                      expect=202).json()['volume']['id']
    dep.wait_status('volume', vid, 'available', project=project, timeout=120)
    key, results = _together(dep, project, '/snapshots',
                             {'snapshot': {'volume_id': vid, 'name': 'once'}},
                             SNAPSHOT_REQUESTS)
    assert {code for code, _ in results} == {202}, results
    ids = {rid for _, rid in results}
    assert len(ids) == 1, ids
    rows = dep.db.rows('SELECT id FROM snapshots WHERE project_id = :p AND deleted = :f',
                       p=project, f=False)
    assert [r['id'] for r in rows] == list(ids)
    assert _in_use(dep, project)['snapshots'] == 1
