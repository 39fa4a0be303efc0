"""Quota mechanism on SQLite: limits, counted usage, hierarchy, insert-then-verify races."""

import threading
import uuid

import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db import quotas as quota_db
from blockstore.objects import states
from blockstore.volume import api as volume_api
from blockstore.volume import volume_types
from tests.unit.api.conftest import RPCRecorder


@pytest.fixture
def api(database):
    return volume_api.API(volume_rpcapi=RPCRecorder(), scheduler_rpcapi=RPCRecorder())


@pytest.fixture
def project():
    return 'q-' + uuid.uuid4().hex[:12]


def _ctx(project, parent=None):
    ctx = context.RequestContext(user_id='u', project_id=project, is_admin=False,
                                 overwrite=False)
    if parent:
        ctx.quota_parent = parent
    return ctx


def _available(volume_id):
    assert states.transition(context.get_admin_context(), 'volume', volume_id, 'create_done')


def test_defaults_come_from_config_then_default_class(database, ctx, project):
    default_type = volume_types.get_default(ctx).name
    limits = quota.project_quotas(ctx, project)
    assert limits['volumes'] == 10 and limits['gigabytes'] == 1000
    assert limits['per_volume_gigabytes'] == -1 and limits['groups'] == 10
    assert limits['volumes_%s' % default_type] == -1
    quota_db.class_limits_update(ctx, 'default', {'volumes': 7})
    try:
        assert quota.project_quotas(ctx, project)['volumes'] == 7
        quota_db.project_limits_update(ctx, project, {'volumes': 3})
        assert quota.project_quotas(ctx, project)['volumes'] == 3
        quota_db.project_limits_destroy(ctx, project)
        assert quota.project_quotas(ctx, project)['volumes'] == 7
    finally:
        quota_db.class_limits_update(ctx, 'default', {'volumes': 10})


def test_usage_is_counted_per_type_and_includes_snapshot_gigabytes(api, ctx, project):
    admin = context.get_admin_context()
    gold = volume_types.create(admin, 'gold-%s' % project)
    user = _ctx(project)
    v1 = api.create(user, 2)
    v2 = api.create(user, 3, volume_type=gold.name)
    _available(v1.id)
    api.create_snapshot(user, api.get(user, v1.id))
    in_use = quota.usage(ctx, project)
    assert in_use['volumes'] == 2
    assert in_use['snapshots'] == 1
    assert in_use['gigabytes'] == 2 + 3 + 2
    assert in_use['volumes_%s' % gold.name] == 1
    assert in_use['gigabytes_%s' % gold.name] == 3
    # A deleted volume no longer counts.
    states.transition(admin, 'volume', v2.id, 'create_failed')
    api.delete(user, api.get(user, v2.id))
    assert quota.usage(ctx, project)['volumes'] == 1


def test_create_over_volumes_quota_is_413_and_leaves_no_row(api, ctx, project):
    quota_db.project_limits_update(ctx, project, {'volumes': 2})
    user = _ctx(project)
    api.create(user, 1)
    api.create(user, 1)
    workers = len(db.worker_get_all(ctx))
    with pytest.raises(exception.VolumeLimitExceeded) as err:
        api.create(user, 1)
    assert err.value.code == 413
    assert err.value.msg == ("VolumeLimitExceeded: Maximum number of volumes allowed (2) "
                             "exceeded for quota 'volumes'.")
    assert err.value.headers == {'Retry-After': '0'}
    assert db.count(ctx, 'volume', project_id=project)[0] == 2
    # The refused volume's work record went with it.
    assert len(db.worker_get_all(ctx)) == workers


def test_gigabytes_and_per_volume_quota(api, ctx, project):
    quota_db.project_limits_update(ctx, project, {'gigabytes': 5, 'per_volume_gigabytes': 4})
    user = _ctx(project)
    with pytest.raises(exception.VolumeSizeExceedsQuotaLimit) as err:
        api.create(user, 5)
    assert err.value.msg.startswith('VolumeSizeExceedsLimit: Requested volume size 5G is '
                                    'larger than maximum allowed limit 4G.')
    api.create(user, 4)
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota) as err:
        api.create(user, 2)
    assert err.value.msg == (
        'VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed '
        'gigabytes quota. Requested 2G, quota is 5G and 4G has been consumed.')
    assert quota.usage(ctx, project)['gigabytes'] == 4


def test_per_type_quota(api, ctx, project):
    admin = context.get_admin_context()
    silver = volume_types.create(admin, 'silver-%s' % project)
    quota_db.project_limits_update(ctx, project, {'volumes_%s' % silver.name: 1})
    user = _ctx(project)
    api.create(user, 1, volume_type=silver.name)
    with pytest.raises(exception.VolumeLimitExceeded) as err:
        api.create(user, 1, volume_type=silver.name)
    assert "for quota 'volumes_%s'" % silver.name in err.value.msg
    api.create(user, 1)   # other types are not limited by it


def test_snapshot_quota(api, ctx, project):
    quota_db.project_limits_update(ctx, project, {'snapshots': 1})
    user = _ctx(project)
    vol = api.create(user, 1)
    _available(vol.id)
    api.create_snapshot(user, api.get(user, vol.id))
    with pytest.raises(exception.SnapshotLimitExceeded) as err:
        api.create_snapshot(user, api.get(user, vol.id))
    assert err.value.msg == ('SnapshotLimitExceeded: Maximum number of snapshots allowed (1) '
                             'exceeded')
    assert db.count(ctx, 'snapshot', project_id=project)[0] == 1


def test_extend_over_gigabytes_is_refused_and_undone(api, ctx, project):
    quota_db.project_limits_update(ctx, project, {'gigabytes': 5})
    user = _ctx(project)
    vol = api.create(user, 2)
    _available(vol.id)
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota) as err:
        api.extend.extend(user, api.get(user, vol.id), 6)
    assert 'Requested 4G, quota is 5G and 2G has been consumed.' in err.value.msg
    vol = api.get(user, vol.id)
    assert (vol.status, vol.size) == ('available', 2)
    assert not db.worker_get_all(ctx, resource_id=vol.id, operation='extend')
    # A running extend counts with its new size.
    api.extend.extend(user, vol, 4)
    assert quota.usage(ctx, project)['gigabytes'] == 4
    with pytest.raises(exception.VolumeSizeExceedsAvailableQuota):
        api.create(user, 2)


def test_parent_limit_bounds_the_child(api, ctx, project):
    parent = project + '-parent'
    quota_db.project_limits_update(ctx, parent, {'volumes': 1, 'gigabytes': -1})
    quota_db.project_limits_update(ctx, project, {'volumes': 5})
    child = _ctx(project, parent=parent)
    assert quota.project_quotas(child, project)['volumes'] == 1
    # Without a known parent the project's own limit applies.
    assert quota.project_quotas(_ctx(project), project)['volumes'] == 5
    api.create(child, 1)
    with pytest.raises(exception.VolumeLimitExceeded) as err:
        api.create(child, 1)
    assert '(1)' in err.value.msg


def test_parent_resolver_and_unlimited_parent(ctx, project, database):
    parent = project + '-p'
    quota_db.project_limits_update(ctx, project, {'snapshots': 4})
    quota_db.project_limits_update(ctx, parent, {'snapshots': -1, 'volumes': 2})
    quota.set_parent_resolver(lambda c, p: parent if p == project else None)
    try:
        limits = quota.project_quotas(ctx, project)
        assert limits['snapshots'] == 4 and limits['volumes'] == 2
    finally:
        quota.set_parent_resolver(None)


def test_concurrent_creates_against_quota_of_5_leave_exactly_5(api, ctx, project):
    quota_db.project_limits_update(ctx, project, {'volumes': 5})
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n

    def create(i):
        user = _ctx(project)
        barrier.wait(30)
        try:
            api.create(user, 1)
            results[i] = 'ok'
        except exception.VolumeLimitExceeded:
            results[i] = 'over'
        except Exception as e:  # reported below
            results[i] = repr(e)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count('ok') == 5, results
    assert results.count('over') == 15, results
    assert db.count(ctx, 'volume', project_id=project)[0] == 5
