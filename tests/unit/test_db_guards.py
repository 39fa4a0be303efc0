"""Guards of conditional updates: which ones read other tables."""

import pytest
import sqlalchemy as sa

from blockstore.db import api as db
from blockstore.db import models


@pytest.mark.parametrize('name', sorted(db.GUARDS))
def test_subquery_guards_are_listed(name):
    # PostgreSQL claims run under REPEATABLE READ exactly when a guard reads
    # another table (a sub-select); a guard missing from the list would be
    # checked against a stale snapshot, one wrongly listed makes claims fail.
    for model in (models.Volume, models.Snapshot):
        try:
            clause = db._guard_clause(model, name, {'instance_attached': 'x'})
        except AttributeError:
            continue   # a volume-only guard
        has_subquery = any(isinstance(e, sa.sql.selectable.Exists)
                           for e in sa.sql.visitors.iterate(clause))
        assert has_subquery == (name in db._SUBQUERY_GUARDS), name
