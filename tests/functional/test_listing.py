"""Volume listings on SQLite, MariaDB and PostgreSQL: pages, markers, metadata.

The listing reads its page with one query and the page's metadata, admin
metadata and image metadata with queries joined to that page; these tests walk
every page by marker (with many volumes sharing a created_at, so the marker's
tie-break on id matters) and check each record against what was written.
"""

import datetime

import pytest

from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import glance_metadata as db_glance

PROJECT = 'listing-proj'
N = 23


@pytest.fixture(scope='module')
def volumes(database):
    ctx = context.get_admin_context()
    vtype = db.volume_type_create(ctx, {'name': 'listing-%s' % database.name}).id
    # Groups of four volumes share a created_at: pages must break ties by id.
    base = datetime.datetime(2026, 1, 1)
    expected = {}
    for i in range(N):
        vid = db.volume_create(
            ctx, {'project_id': PROJECT, 'size': 1, 'status': 'available',
                  'volume_type_id': vtype, 'display_name': 'v%02d' % i,
                  'created_at': base + datetime.timedelta(seconds=i // 4)},
            metadata={'index': str(i), 'parity': 'even' if i % 2 == 0 else 'odd'},
            admin_metadata={'readonly': 'True'} if i % 5 == 0 else None).id
        image = {'image_id': 'img-%d' % i, 'image_name': 'cirros'} if i % 3 == 0 else None
        if image:
            db_glance.update(ctx, vid, image)
        expected[vid] = (i, image)
    # Another project's volume and a deleted one never show up.
    db.volume_create(ctx, {'project_id': 'other', 'size': 1, 'status': 'available',
                           'volume_type_id': vtype})
    db.volume_create(ctx, {'project_id': PROJECT, 'size': 1, 'status': 'deleted',
                           'deleted': True, 'volume_type_id': vtype})
    return expected


def _pages(ctx, limit, **kwargs):
    marker, seen = None, []
    for _ in range(N + 2):
        page = db.volume_get_all(ctx, project_id=PROJECT, limit=limit, marker=marker,
                                 image_metadata=True, **kwargs)
        seen.extend(page)
        if len(page) < limit:
            return seen
        marker = page[-1].id
    raise AssertionError('pagination did not end')


@pytest.mark.parametrize('limit', [1, 4, 5, 100])
def test_pages_by_marker_cover_every_volume_once_in_order(database, ctx, volumes, limit):
    seen = _pages(ctx, limit)
    assert [r.id for r in seen] == [r.id for r in db.volume_get_all(ctx, project_id=PROJECT)]
    assert sorted(r.id for r in seen) == sorted(volumes)
    keys = [(r.created_at, r.id) for r in seen]
    assert keys == sorted(keys, reverse=True)


def test_records_carry_their_own_metadata_and_type(database, ctx, volumes):
    for r in _pages(ctx, 7):
        i, image = volumes[r.id]
        assert r.display_name == 'v%02d' % i
        assert r.metadata == {'index': str(i), 'parity': 'even' if i % 2 == 0 else 'odd'}
        assert r.admin_metadata == ({'readonly': 'True'} if i % 5 == 0 else {})
        assert r.image_metadata == image
        assert r.volume_type.name == 'listing-%s' % database.name


def test_ascending_sort_and_filters_with_marker(database, ctx, volumes):
    seen = _pages(ctx, 3, sort_keys=['display_name'], sort_dirs=['asc'],
                  filters={'status': 'available'})
    assert [r.display_name for r in seen] == ['v%02d' % i for i in range(N)]
    named = db.volume_get_all(ctx, project_id=PROJECT, filters={'display_name': 'v07'},
                              image_metadata=True)
    assert [volumes[r.id][0] for r in named] == [7]
    assert named[0].image_metadata is None
