"""Insert N 'available' volume rows straight into a deployment's database.

Run as its own process (``python bench/load_volumes.py --db-url ...``) so that
``blockstore.db.api.configure()`` is called once per process, as it must be,
and so that the benchmark driver itself never imports blockstore.

Rows go through ``blockstore.db.api.volume_create`` (the same function the
service layer uses), so they are exactly what the API would have written,
including two metadata items each so the listing renders realistic bodies.
"""

import argparse
import json
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def load(db_url, project, user, host, count, deadline_s=600):
    from blockstore.common import context
    from blockstore.db import api as db
    from blockstore import objects
    from blockstore.volume import volume_types

    db.configure(connection=db_url)
    objects.register_all()
    ctx = context.get_admin_context()
    vtype = volume_types.get_default(ctx)
    start = time.monotonic()
    for i in range(count):
        if time.monotonic() - start > deadline_s:
            raise RuntimeError('loading %d volumes took over %ds (stopped at %d)'
                               % (count, deadline_s, i))
        db.volume_create(ctx, {
            'project_id': project,
            'user_id': user,
            'size': 1,
            'status': 'available',
            'attach_status': 'detached',
            'volume_type_id': vtype.id,
            'host': '%s@file1#file1' % host,
            'availability_zone': 'nova',
            'display_name': 'bench-%05d' % i,
            'display_description': 'benchmark listing volume %d' % i,
        }, metadata={'purpose': 'bench', 'index': str(i)})
    elapsed = time.monotonic() - start
    db.dispose()
    return {'inserted': count, 'seconds': round(elapsed, 3), 'volume_type_id': vtype.id}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--db-url', required=True)
    p.add_argument('--project', required=True)
    p.add_argument('--user', required=True)
    p.add_argument('--host', required=True, help="service host, e.g. bs-1234abcd")
    p.add_argument('--count', type=int, default=1000)
    args = p.parse_args(argv)
    print(json.dumps(load(args.db_url, args.project, args.user, args.host, args.count)))


if __name__ == '__main__':
    main()
