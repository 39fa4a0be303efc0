"""Every long VolumeManager operation runs on the one skeleton (common/operation.py)."""

from tests.unit.test_volume_manager import _volume, mgr  # noqa: F401  (fixture)
from tests.unit.test_volume_manager_actions import _available, _snapshot


def test_long_work_goes_through_the_runner(mgr, ctx):  # noqa: F811
    seen = []
    real = mgr.operations.run

    def recording(context, obj, op, work):
        seen.append(op.name)
        return real(context, obj, op, work)
    mgr.operations.run = recording
    vol = _available(ctx, mgr)
    snap = _snapshot(ctx, mgr, vol)
    mgr.delete_snapshot(ctx, snap)
    mgr.delete_volume(ctx, vol)
    assert seen == ['create', 'create', 'delete', 'delete']
