"""Unit test fixtures: a fresh, migrated SQLite database per test module."""

import pytest

from tests.fixtures.database import database_fixture

# ``database``: a tests.fixtures.database.Database, active in blockstore.db.api.
database = database_fixture(backends=('sqlite',))


@pytest.fixture
def ctx():
    from blockstore.common import context
    return context.get_admin_context()
