"""Unit test fixtures: a fresh, migrated SQLite database per test module."""

import pytest

from tests.fixtures.database import database_fixture

# ``database``: a tests.fixtures.database.Database, active in blockstore.db.api.
database = database_fixture(backends=('sqlite',))


@pytest.fixture
def ctx():
    from blockstore.common import context
    return context.get_admin_context()


@pytest.fixture(autouse=True, scope='session')
def _lock_service(tmp_path_factory):
    """Locks (tooz's file driver) in a directory of this run, not under ~/.local/share."""
    from oslo_config import cfg
    import blockstore.common.conf  # noqa: F401  (registers [coordination])
    from blockstore.common import coordination
    # Tiers before this one (functional, e2e) may have started this process's
    # coordinator on another lock directory: the unit tests' locks start afresh here.
    coordination.stop()
    cfg.CONF.set_default('backend_url', 'file://%s' % tmp_path_factory.mktemp('locks'),
                         group='coordination')
    yield
    coordination.stop()
