"""The database layer on SQLite, MariaDB and PostgreSQL: migrations and races.

Every test here runs once per backend (see tests/functional/conftest.py).
"""


from alembic import autogenerate
from alembic import migration as alembic_migration
import pytest
import sqlalchemy as sa

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import migration
from blockstore.db import models
from blockstore.objects import states
from tests.fixtures.database import Database, create_or_skip
from tests.fixtures import races

THREADS = 50


# ---------------------------------------------------------------------------
# Migrations
# ---------------------------------------------------------------------------

@pytest.fixture
def empty_database(database):
    """A second, empty database on the same backend (not active in blockstore.db.api)."""
    empty = Database(database.backend)
    create_or_skip(empty)
    try:
        yield empty
    finally:
        empty.drop()


def test_migrations_apply_from_empty_to_head(empty_database):
    engine = empty_database.engine
    assert migration.db_version(engine=engine) is None
    migration.db_sync(engine=engine)
    assert migration.db_version(engine=engine) == migration.head_version()
    # Running again is a no-op.
    migration.db_sync(engine=engine)
    assert migration.db_version(engine=engine) == migration.head_version()
    tables = set(sa.inspect(engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables
    assert 'alembic_version' in tables


def test_migrated_schema_matches_models(database):
    engine = database.engine
    assert migration.db_version(engine=engine) == migration.head_version()
    with engine.connect() as conn:
        mc = alembic_migration.MigrationContext.configure(
            conn, opts={'compare_type': True, 'compare_server_default': False})
        diff = autogenerate.compare_metadata(mc, models.Base.metadata)
    assert diff == [], ('the schema after migrating differs from blockstore/db/models.py; '
                        'write a migration: %s' % diff)


def test_active_database_is_the_fixture_database(database):
    # blockstore.db.api follows the fixture's database (and not an older one).
    assert db.get_engine().url.database == database.engine.url.database


# ---------------------------------------------------------------------------
# Races
# ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def vtype(database):
    return db.volume_type_create(context.get_admin_context(),
                                 {'name': 'race-%s' % database.name}).id


def _volume(ctx, vtype, status='available'):
    return db.volume_create(ctx, {'project_id': 'proj', 'size': 1, 'status': status,
                                  'volume_type_id': vtype}).id


def _run_together(n, target):
    """Run ``target(i)`` in n threads released at the same moment; return results by i."""
    return races.run_together(n, target)


def test_conditional_update_has_one_winner(database, vtype):
    vid = _volume(context.get_admin_context(), vtype)

    # One context per thread: enginefacade keeps transaction state on the context.
    results = _run_together(THREADS, lambda i: states.transition(
        context.get_admin_context(), 'volume', vid, 'delete'))

    assert results.count(True) == 1, results
    assert results.count(False) == THREADS - 1
    assert db.volume_get(context.get_admin_context(), vid).status == 'deleting'


def _create_snapshot_insert_then_verify(ctx, vtype, volume_id):
    """Create a snapshot the race-safe way: insert it, then prove the volume usable.

    The insert makes the volume's 'no_snapshots' guard fail for any later delete;
    the guarded touch (``use_as_source``) then fails if a delete already won, in
    which case the row is removed again.
    """
    sid = db.snapshot_create(ctx, {'project_id': 'proj', 'volume_id': volume_id,
                                   'volume_size': 1, 'status': states.SNAPSHOT.initial,
                                   'volume_type_id': vtype}).id
    if states.transition(ctx, 'volume', volume_id, 'use_as_source'):
        return sid
    db.hard_delete(ctx, 'snapshot', sid)
    return None


@pytest.mark.parametrize('round_', range(5))
def test_snapshot_create_racing_volume_delete(database, vtype, round_):
    vid = _volume(context.get_admin_context(), vtype)
    creators = 8

    def work(i):
        ctx = context.get_admin_context()
        if i == 0:
            return states.transition(ctx, 'volume', vid, 'delete')
        return _create_snapshot_insert_then_verify(ctx, vtype, vid)

    results = _run_together(creators + 1, work)

    ctx = context.get_admin_context()
    volume = db.volume_get(ctx, vid)
    live = [s.id for s in db.snapshot_get_all(ctx, filters={'volume_id': vid})]
    created = [r for r in results[1:] if r is not None]
    assert sorted(live) == sorted(created)
    if results[0]:
        assert volume.status == 'deleting'
        assert live == [], 'volume %s is deleting but has live snapshots %s' % (vid, live)
    else:
        assert volume.status == 'available'
        assert live, 'the delete lost, so a snapshot must have been created'


def test_concurrent_claims_of_a_shared_volume_all_win(database, vtype):
    """Claims that do not exclude each other (multiattach reserve_shared) all succeed.

    On PostgreSQL, every claim of one row at once used to fail with a
    serialization error (a 500) after 10 quick retries: guards that read only
    the claimed row ran under REPEATABLE READ like those that read other tables.
    """
    from blockstore.db import attachments as db_att
    ctx = context.get_admin_context()
    vid = db.volume_create(ctx, {'project_id': 'proj', 'size': 1, 'status': 'reserved',
                                 'volume_type_id': vtype, 'multiattach': True}).id

    def claim(i):
        def then(session):
            aid = db_att.insert(session, {'volume_id': vid, 'project_id': 'proj',
                                          'attach_status': states.RESERVED,
                                          'instance_uuid': 'inst-%d' % i})
            states.settle(session, vid)
            return aid
        return states.transition(context.get_admin_context(), 'volume', vid,
                                 'reserve_shared', then=then)

    results = _run_together(THREADS, claim)
    assert all(results), results
    assert len(db_att.live_attachments(ctx, vid)) == THREADS
    assert db.volume_get(ctx, vid).status == states.RESERVED
