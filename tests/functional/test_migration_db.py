"""Volume migration on every database (SQLite, MariaDB, PostgreSQL): the API and two
in-process managers with file backends, as tests/unit/api/test_migration.py, so the
swap transaction (the volume and its target exchange backend objects, the target is
claimed for deletion) and the rollback run on the real servers."""

import os

import pytest

from blockstore.api import app as api_app
from blockstore.db import api as db
from blockstore.db import volume_migration as db_migration
from blockstore.volume import api as volume_api
from blockstore.volume.migrate import worker as migrate_worker
from tests.unit.api.conftest import Client
from tests.unit.api import test_migration as unit


@pytest.fixture
def node(database, ctx, tmp_path):
    return unit.Node(ctx, tmp_path)


@pytest.fixture
def app(node):
    return api_app.make_app(volume_api=volume_api.API(volume_rpcapi=node,
                                                      scheduler_rpcapi=unit.Scheduler(node)))


@pytest.fixture
def c(app):
    return Client(app, 'user1:p-%s' % os.urandom(4).hex(), version=unit.V)


@pytest.fixture
def admin(app):
    return Client(app, 'admin:admin', version=unit.V)


def test_migration_swaps_and_rolls_back(c, admin, node, ctx, monkeypatch):
    vid, data = unit._volume_with_data(c, node, admin)
    # A copy that fails: the target is dropped, the source untouched.
    real = migrate_worker.copy_data

    def broken(*args):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(migrate_worker, 'copy_data', broken)
    assert unit._act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b'}}
                     ).status_int == 202
    row = db.volume_get(ctx, vid)
    assert (row.migration_status, row.host, row._name_id) == ('error', node.name + '@a#a',
                                                              None)
    assert db_migration.target_id_of(ctx, vid, 'target:') is None
    assert os.listdir(node.dir('b')) == []

    monkeypatch.setattr(migrate_worker, 'copy_data', real)
    assert unit._act(admin, vid, {'os-migrate_volume': {'host': node.name + '@b'}}
                     ).status_int == 202
    row = db.volume_get(ctx, vid)
    assert (row.status, row.migration_status, row.host) == ('available', 'success',
                                                            node.name + '@b#b')
    assert row._name_id not in (None, vid)
    target = db.volume_get(ctx, row._name_id, read_deleted=True)
    assert (target.deleted, target.status, target.host) == (True, 'deleted',
                                                            node.name + '@a#a')
    assert unit._read(os.path.join(node.dir('b'), 'volume-%s' % row._name_id), data) == data
    assert os.listdir(node.dir('a')) == []
    assert db.worker_get_all(ctx, resource_id=vid) == []
    assert db.worker_get_all(ctx, resource_id=target.id) == []
