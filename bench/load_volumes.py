"""Insert N 'available' volume rows straight into a deployment's database.

Run as its own process (``python bench/load_volumes.py --db-url ...``) so that
``blockstore.db.api.configure()`` is called once per process, as it must be,
and so that the benchmark driver itself never imports blockstore.

Up to ``--bulk-threshold`` volumes (default 5,000), rows go through
``blockstore.db.api.volume_create`` (the same function the service layer
uses), so they are exactly what the API would have written, including two
metadata items each so the listing renders realistic bodies. Above it (the
100,000-volume benchmark), the same column values are written with batched
INSERTs (executemany), one transaction per 2,000 volumes: the per-row path would take
many minutes. Bulk rows get distinct, increasing ``created_at`` values (one
millisecond apart), as volumes created one after another would.
"""

import argparse
import datetime
import json
import os
import sys
import time
import uuid

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

BATCH = 2000


def _values(project, user, host, vtype_id, i):
    return {
        'project_id': project,
        'user_id': user,
        'size': 1,
        'status': 'available',
        'attach_status': 'detached',
        'volume_type_id': vtype_id,
        'host': '%s@file1#file1' % host,
        'availability_zone': 'nova',
        'display_name': 'bench-%05d' % i,
        'display_description': 'benchmark listing volume %d' % i,
    }


def _metadata(i):
    return {'purpose': 'bench', 'index': str(i)}


def _bulk(db, models, project, user, host, vtype_id, count, deadline_s, start, ids):
    """Batched INSERTs of volumes and their metadata, one transaction per batch."""
    import sqlalchemy as sa
    engine = db.get_engine()
    vols, meta = models.Volume.__table__, models.VolumeMetadata.__table__
    # executemany: the drivers batch it (sqlite3 natively, mysqlclient and psycopg2
    # as multi-row VALUES).
    defaults = {'deleted': False, 'bootable': False, 'multiattach': False, 'use_quota': True}
    t0 = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - \
        datetime.timedelta(milliseconds=count + 1000)
    for first in range(0, count, BATCH):
        if time.monotonic() - start > deadline_s:
            raise RuntimeError('loading %d volumes took over %ds (stopped at %d)'
                               % (count, deadline_s, first))
        vrows, mrows = [], []
        for i in range(first, min(count, first + BATCH)):
            vid = ids[i] = str(uuid.uuid4())
            row = dict(_values(project, user, host, vtype_id, i), id=vid,
                       created_at=t0 + datetime.timedelta(milliseconds=i), **defaults)
            vrows.append(row)
            mrows.extend({'volume_id': vid, 'key': k, 'value': v}
                         for k, v in _metadata(i).items())
        with engine.begin() as conn:
            conn.execute(sa.insert(vols), vrows)
            conn.execute(sa.insert(meta), mrows)


def load(db_url, project, user, host, count, deadline_s=900, bulk_threshold=5000):
    from blockstore.common import context
    from blockstore.db import api as db
    from blockstore.db import models
    from blockstore import objects
    from blockstore.volume import volume_types

    db.configure(connection=db_url)
    objects.register_all()
    ctx = context.get_admin_context()
    vtype = volume_types.get_default(ctx)
    start = time.monotonic()
    bulk = count > bulk_threshold
    ids = {}
    if bulk:
        _bulk(db, models, project, user, host, vtype.id, count, deadline_s, start, ids)
    else:
        for i in range(count):
            if time.monotonic() - start > deadline_s:
                raise RuntimeError('loading %d volumes took over %ds (stopped at %d)'
                                   % (count, deadline_s, i))
            ids[i] = db.volume_create(ctx, _values(project, user, host, vtype.id, i),
                                      metadata=_metadata(i)).id
    elapsed = time.monotonic() - start
    db.dispose()
    # The volume inserted half way: a marker about count/2 volumes deep in the listing.
    return {'inserted': count, 'seconds': round(elapsed, 3), 'volume_type_id': vtype.id,
            'bulk': bulk, 'middle_id': ids.get(count // 2)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--db-url', required=True)
    p.add_argument('--project', required=True)
    p.add_argument('--user', required=True)
    p.add_argument('--host', required=True, help="service host, e.g. bs-1234abcd")
    p.add_argument('--count', type=int, default=1000)
    p.add_argument('--bulk-threshold', type=int, default=5000,
                   help='above this many volumes, insert in batches (default 5000)')
    args = p.parse_args(argv)
    print(json.dumps(load(args.db_url, args.project, args.user, args.host, args.count,
                          bulk_threshold=args.bulk_threshold)))


if __name__ == '__main__':
    main()
