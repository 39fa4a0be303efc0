"""A volume created from a snapshot (or cloned) and its origin deleted at the same time.

Through the real service layer (``volume.api.API``; only its RPC clients
record instead of sending) on SQLite, MariaDB and PostgreSQL: creates from a
snapshot race the snapshot's delete, creates of clones race the source's
delete. One side is refused with a 400 that says why; never both win, so the
volume manager never meets a volume whose origin is gone (which used to end
the volume in ``error``: SnapshotNotFound).
"""

import threading

import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.db import api as db
from blockstore import objects
from blockstore.objects import states
from blockstore.volume import api as volume_api
from tests.fixtures import races

CREATORS = 8
ROUNDS = 4


class Recorder:
    def __getattr__(self, name):
        if name.startswith('_'):
            raise AttributeError(name)
        return lambda *args, **kwargs: None


@pytest.fixture
def api(database):
    return volume_api.API(volume_rpcapi=Recorder(), scheduler_rpcapi=Recorder())


_local = threading.local()


def _user():
    """A member of this round's project (each round has its own quota)."""
    return context.RequestContext(user_id='u', project_id=_local.project, roles=['member'])


@pytest.fixture(autouse=True)
def project():
    _local.project = 'race-%s' % db.new_uuid()[:8]


def _available_volume(api):
    vol = api.create(_user(), 1)
    assert states.transition(context.get_admin_context(), 'volume', vol.id, 'create_done',
                             {'host': 'node@b1#b1'})
    return objects.Volume.get_by_id(context.get_admin_context(), vol.id)


def _run_together(n, target):
    """The threads share this thread's project; a refused claim is a thread's result."""
    project = _local.project

    def same_project():
        _local.project = project
    return races.run_together(n, target, refused=exception.Invalid, before=same_project)


def _creating_from(ctx, **origin):
    return [v for v in db.volume_get_all(ctx, filters=dict(origin))
            if v.status == states.CREATING]


@pytest.mark.parametrize('round_', range(ROUNDS))
def test_create_from_snapshot_racing_the_snapshot_delete(api, round_):
    source = _available_volume(api)
    snap = api.create_snapshot(_user(), source)
    ctx = context.get_admin_context()
    assert states.transition(ctx, 'snapshot', snap.id, 'create_done')

    def work(i):
        if i == 0:
            api.delete_snapshot(_user(), objects.Snapshot.get_by_id(ctx, snap.id))
            return 'deleted'
        return api.create(_user(), None, snapshot_id=snap.id).id

    results = _run_together(CREATORS + 1, work)
    created = [r for r in results[1:] if isinstance(r, str)]
    refused = [r for r in results[1:] if isinstance(r, exception.Invalid)]
    assert len(created) + len(refused) == CREATORS
    live = _creating_from(ctx, snapshot_id=snap.id)
    assert sorted(v.id for v in live) == sorted(created)
    status = db.snapshot_get(ctx, snap.id).status
    if results[0] == 'deleted':
        assert status == states.DELETING
        assert created == [], 'the snapshot is deleting under volumes made from it'
        for e in refused:
            assert 'must be available, but is deleting' in str(e), e
    else:
        assert isinstance(results[0], exception.InvalidSnapshot), results[0]
        assert 'a volume is being created from the snapshot' in str(results[0])
        assert status == states.AVAILABLE and created
    # Once the creates are done the snapshot may be deleted.
    for vid in created:
        assert states.transition(ctx, 'volume', vid, 'create_done')
    if results[0] != 'deleted':
        api.delete_snapshot(_user(), objects.Snapshot.get_by_id(ctx, snap.id))


@pytest.mark.parametrize('round_', range(ROUNDS))
def test_clone_racing_the_source_delete(api, round_):
    source = _available_volume(api)
    ctx = context.get_admin_context()

    def work(i):
        if i == 0:
            api.delete(_user(), objects.Volume.get_by_id(ctx, source.id))
            return 'deleted'
        return api.create(_user(), None, source_volid=source.id).id

    results = _run_together(CREATORS + 1, work)
    created = [r for r in results[1:] if isinstance(r, str)]
    live = _creating_from(ctx, source_volid=source.id)
    assert sorted(v.id for v in live) == sorted(created)
    if results[0] == 'deleted':
        assert created == [], 'the source is deleting under its clones'
    else:
        assert isinstance(results[0], exception.InvalidVolume), results[0]
        assert 'a clone of the volume is being created' in str(results[0])
        assert created
