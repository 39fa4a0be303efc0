"""Quota enforcement under concurrency on SQLite, MariaDB and PostgreSQL.

Creates are insert-then-verify under the project's quota lock: however the
requests interleave, N concurrent creates against a quota of Q leave exactly
min(N, Q) resources, and the refused ones leave no row behind.
"""

import threading
import uuid

import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db import models
from blockstore.db import quotas as quota_db
from blockstore.objects import states
from blockstore.volume import api as volume_api
from blockstore.volume import volume_types

THREADS = 20
LIMIT = 5


class _Recorder:
    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return lambda *a, **kw: None


@pytest.fixture
def api(database):
    volume_types.get_default(context.get_admin_context())
    return volume_api.API(volume_rpcapi=_Recorder(), scheduler_rpcapi=_Recorder())


@pytest.fixture
def project():
    return 'fq-' + uuid.uuid4().hex[:12]


def _user(project):
    return context.RequestContext(user_id='u', project_id=project, is_admin=False,
                                  overwrite=False)


def _together(n, target):
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait(60)
            results[i] = target(i)
        except exception.QuotaError as e:
            results[i] = e
        except BaseException as e:  # noqa: B902 - reported by the assertion below
            results[i] = ('unexpected', repr(e))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    unexpected = [r for r in results if isinstance(r, tuple)]
    assert not unexpected, unexpected[:3]
    return results


@pytest.mark.parametrize('round_', range(2))
def test_concurrent_volume_creates_leave_exactly_the_quota(api, project, round_):
    ctx = context.get_admin_context()
    quota_db.project_limits_update(ctx, project, {'volumes': LIMIT})
    results = _together(THREADS, lambda i: api.create(_user(project), 1).id)
    created = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, exception.VolumeLimitExceeded)]
    assert len(created) == LIMIT and len(refused) == THREADS - LIMIT, results
    live = {v.id for v in db.volume_get_all(ctx, project_id=project)}
    assert live == set(created)
    # Refused creates left no work record behind.
    workers = {w.resource_id for w in db.worker_get_all(ctx, resource_type='volume')}
    assert not {r for r in workers if r not in live} & set(created)
    assert quota.usage(ctx, project)['volumes'] == LIMIT


def test_concurrent_gigabytes_creates(api, project):
    ctx = context.get_admin_context()
    quota_db.project_limits_update(ctx, project, {'gigabytes': 3 * LIMIT})
    results = _together(THREADS, lambda i: api.create(_user(project), 3).id)
    created = [r for r in results if isinstance(r, str)]
    assert len(created) == LIMIT, results
    assert quota.usage(ctx, project)['gigabytes'] == 3 * LIMIT


def test_concurrent_snapshot_creates(api, project):
    ctx = context.get_admin_context()
    quota_db.project_limits_update(ctx, project, {'snapshots': LIMIT})
    user = _user(project)
    vol = api.create(user, 1)
    assert states.transition(ctx, 'volume', vol.id, 'create_done')
    results = _together(THREADS, lambda i: api.create_snapshot(
        _user(project), api.get(user, vol.id)).id)
    created = [r for r in results if isinstance(r, str)]
    assert len(created) == LIMIT, results
    assert db.count(ctx, 'snapshot', project_id=project)[0] == LIMIT


def test_concurrent_extends_stay_within_gigabytes(api, project):
    ctx = context.get_admin_context()
    quota_db.project_limits_update(ctx, project, {'gigabytes': 10 + LIMIT})
    user = _user(project)
    vols = []
    for _ in range(10):
        v = api.create(user, 1)
        assert states.transition(ctx, 'volume', v.id, 'create_done')
        vols.append(v)
    # Each extend asks one more GiB; only LIMIT of the 10 fit.
    results = _together(10, lambda i: api.extend.extend(_user(project),
                                                          api.get(user, vols[i].id), 2)
                        or 'ok')
    assert results.count('ok') == LIMIT, results
    statuses = sorted(db.volume_get(ctx, v.id).status for v in vols)
    assert statuses == ['available'] * (10 - LIMIT) + ['extending'] * LIMIT
    assert quota.usage(ctx, project)['gigabytes'] == 10 + LIMIT


@pytest.mark.parametrize('limits', [
    {'volumes': LIMIT, 'gigabytes': -1},    # only volumes are counted (no snapshot/extend queries)
    {'volumes': -1, 'gigabytes': -1, 'volumes_%(type)s': LIMIT},   # only the type's count
], ids=['volumes-only', 'per-type-only'])
def test_concurrent_creates_with_gigabytes_unlimited(api, project, limits):
    ctx = context.get_admin_context()
    type_name = volume_types.get_default(ctx).name
    quota_db.project_limits_update(ctx, project, {k % {'type': type_name}: v
                                                  for k, v in limits.items()})
    results = _together(THREADS, lambda i: api.create(_user(project), 1).id)
    created = [r for r in results if isinstance(r, str)]
    assert len(created) == LIMIT, results
    assert {v.id for v in db.volume_get_all(ctx, project_id=project)} == set(created)


def test_unlimited_project_takes_no_quota_lock(api, project):
    """With every limit a create consumes at -1, creates neither count nor lock."""
    ctx = context.get_admin_context()
    quota_db.project_limits_update(ctx, project, {'volumes': -1, 'gigabytes': -1})
    results = _together(THREADS, lambda i: api.create(_user(project), 1).id)
    assert len(set(results)) == THREADS
    assert db.count(ctx, 'volume', project_id=project)[0] == THREADS
    # The lock row is created on first use only: it was never needed.
    with db._reader(ctx) as session:
        assert session.get(models.QuotaLock, project) is None
    # Lowering the limit afterwards is enforced again at once.
    quota_db.project_limits_update(ctx, project, {'volumes': THREADS})
    with pytest.raises(exception.VolumeLimitExceeded):
        api.create(_user(project), 1)
    assert db.count(ctx, 'volume', project_id=project)[0] == THREADS
