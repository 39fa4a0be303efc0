"""Online data migrations: what a release fills in rows that the previous one wrote,
while services of both run (``blockstore-manage db online_data_migrations``).

Each migration is ``fn(context, max_count) -> (found, done)``: ``found`` rows still
need it, ``done`` of them were migrated by this call (at most ``max_count``; 0 only
counts). A migration is finished when a call finds nothing. ``blockstore-status
upgrade check`` fails while one is not, and the next release may then rely on the
data (and drop fallbacks).
"""

from blockstore.common import rpc
from blockstore.db import online_migrations as db_online

UNKNOWN_RELEASE = 'unknown'


def release_of(binary, rpc_version, object_version):
    """The release whose versions a service row records (rpc.RELEASES), or 'unknown'."""
    for name, entry in sorted(rpc.RELEASES.items(), reverse=True):
        if entry['rpc'].get(binary) == rpc_version and entry['objects'] == object_version:
            return name
    return UNKNOWN_RELEASE


def service_release_names(context, max_count):
    """0009: services.release_name of rows a previous release wrote (it never sets it)."""
    found, rows = db_online.services_without_release(context, limit=max_count)
    done = 0
    for row in rows:
        name = release_of(row.binary, row.rpc_current_version, row.object_current_version)
        if db_online.service_fill_release(context, row.id, name):
            done += 1
    return found, done


# In the order they run.
MIGRATIONS = (service_release_names,)


def remaining(context):
    """{migration name: rows still to migrate} of the unfinished migrations."""
    left = {}
    for fn in MIGRATIONS:
        found, _ = fn(context, 0)
        if found:
            left[fn.__name__] = found
    return left


def run(context, max_count=None, batch=50):
    """Run every migration in batches until each finds nothing or ``max_count`` rows were
    migrated in all. Returns [(name, found at the first pass, done in all, error or None)].
    """
    results = {fn.__name__: [None, 0, None] for fn in MIGRATIONS}
    budget = max_count
    while budget is None or budget > 0:
        progressed = False
        for fn in MIGRATIONS:
            entry = results[fn.__name__]
            if entry[2] is not None:
                continue
            count = batch if budget is None else min(batch, budget)
            if count <= 0:
                break
            try:
                found, done = fn(context, count)
            except Exception as e:  # reported, and the others still run
                entry[2] = '%s: %s' % (type(e).__name__, e)
                continue
            if entry[0] is None:
                entry[0] = found
            entry[1] += done
            if budget is not None:
                budget -= done
            progressed = progressed or done > 0
        if not progressed:
            break
    return [(name, found or 0, done, error) for name, (found, done, error) in results.items()]
