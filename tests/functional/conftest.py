"""Functional test fixtures: a fresh, migrated database per test module on each backend.

Tests requesting ``database`` run on SQLite, MariaDB and PostgreSQL. An
unreachable server skips them (named reason), or fails them when ``CI`` is set.
"""

import pytest

from tests.fixtures.database import ALL_BACKENDS, database_fixture

database = database_fixture(backends=ALL_BACKENDS)


@pytest.fixture
def ctx():
    from blockstore.common import context
    return context.get_admin_context()
