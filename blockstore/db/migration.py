"""Schema migrations with alembic: ``blockstore-manage db sync`` and ``db version``."""

import os

from alembic import command as alembic_command
from alembic import config as alembic_config
from alembic import migration as alembic_migration

from blockstore.db import api as db_api

MIGRATIONS_DIR = os.path.join(os.path.dirname(__file__), 'migrations')


def _alembic_config(engine):
    config = alembic_config.Config()
    config.set_main_option('script_location', MIGRATIONS_DIR)
    config.attributes['connection_engine'] = engine
    return config


def db_sync(version='head', engine=None):
    """Upgrade the schema to ``version`` (default: the newest)."""
    engine = engine or db_api.get_engine()
    with engine.begin() as conn:
        config = _alembic_config(engine)
        config.attributes['connection'] = conn
        alembic_command.upgrade(config, version or 'head')


def db_version(engine=None):
    """The schema revision the database is at, or None when it is empty."""
    engine = engine or db_api.get_engine()
    with engine.connect() as conn:
        return alembic_migration.MigrationContext.configure(conn).get_current_revision()


def head_version():
    from alembic import script
    return script.ScriptDirectory(MIGRATIONS_DIR).get_current_head()
