"""Like and time-comparison filters as SQL on SQLite, MariaDB and PostgreSQL.

``LIKE`` with an escape character and datetime comparisons differ between
engines; these prove the same rows come back from each.
"""

import datetime
import uuid

from blockstore.db import api as db
from blockstore.db import filters as db_filters
from blockstore.volume import volume_types


def _volume(ctx, project, name, created):
    row = db.volume_create(ctx, {'project_id': project, 'user_id': 'u', 'size': 1,
                                 'volume_type_id': volume_types.get_default(ctx).id,
                                 'display_name': name, 'status': 'available',
                                 'created_at': created, 'updated_at': created})
    return row.id


def test_like_and_compare(database, ctx):
    project = 'p-' + uuid.uuid4().hex[:8]
    t0 = datetime.datetime(2026, 1, 1)
    for i, name in enumerate(('alpha', 'alphabet_x', '50%off', 'back\\slash')):
        _volume(ctx, project, name, t0 + datetime.timedelta(days=i))

    def names(**filters):
        rows = db.volume_get_all(ctx, filters=filters, project_id=project)
        assert db.count(ctx, 'volume', filters=filters, project_id=project)[0] == len(rows)
        return sorted(r.display_name for r in rows)

    assert names(display_name=db_filters.Like('alpha')) == ['alpha', 'alphabet_x']
    assert names(display_name=db_filters.Like('t_')) == ['alphabet_x']
    assert names(display_name=db_filters.Like('a_p')) == []
    assert names(display_name=db_filters.Like('0%')) == ['50%off']
    assert names(display_name=db_filters.Like('k\\s')) == ['back\\slash']
    assert names(display_name=db_filters.Like('ALPHA')) in ([], ['alpha', 'alphabet_x'])
    day1 = t0 + datetime.timedelta(days=1)
    assert names(created_at=db_filters.Compare(gt=day1)) == ['50%off', 'back\\slash']
    assert names(created_at=db_filters.Compare(gte=day1, lt=day1 + datetime.timedelta(
        days=1))) == ['alphabet_x']
    assert names(created_at=db_filters.Compare(neq=day1),
                 display_name=db_filters.Like('al')) == ['alpha']
