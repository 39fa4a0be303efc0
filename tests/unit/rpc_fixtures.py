"""Shared by the RPC version tests: no service rows and no pins from an earlier test.

Import ``fresh_pins`` into a test module to use it (it is autouse there).
"""

import pytest

from blockstore.common import rpc
from blockstore.db import api as db


@pytest.fixture(autouse=True)
def fresh_pins(database, ctx):
    rpc.reset_pins()
    with db._writer(ctx) as session:
        session.execute(db.sa.delete(db.models.Service))
    yield
    rpc.reset_pins()
