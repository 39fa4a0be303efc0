"""blockstore-status upgrade check: is this deployment ready for an upgrade?"""

import sys

from blockstore.cmd import common
from blockstore.common import context
from blockstore.db import migration
from blockstore import objects
from blockstore.objects import base as obj_base

objects.register_all()


def check_schema():
    current, head = migration.db_version(), migration.head_version()
    if current != head:
        return 'Failure', 'Database schema is at %s, code expects %s: run ' \
                          '"blockstore-manage db sync".' % (current, head)
    return 'Success', 'Database schema is at %s.' % head


def check_services():
    from blockstore.common import rpc
    from blockstore.db import services as services_db
    ctx = context.get_admin_context()
    current = obj_base.OBJ_VERSIONS.get_current()
    old = [s for s in objects.ServiceList.get_all(ctx)
           if s.object_current_version and s.object_current_version != current]
    if old:
        return 'Warning', 'Services on older object versions: %s.' % ', '.join(
            '%s@%s (%s)' % (s.binary, s.host, s.object_current_version) for s in old)
    # Releases that changed no object are told apart by the release a service records.
    behind = [r for r in services_db.service_get_all(ctx)
              if r.release_name and r.release_name != rpc.CURRENT_RELEASE]
    if behind:
        return 'Warning', 'Services of other releases than %s: %s.' % (
            rpc.CURRENT_RELEASE, ', '.join('%s@%s (%s)' % (r.binary, r.host, r.release_name)
                                           for r in behind))
    return 'Success', 'All services run object version %s.' % current


def check_online_migrations():
    """Rows that the previous release wrote and this one has not migrated yet: the next
    release may rely on them, so an upgrade past this one must wait."""
    from blockstore.ops import online_migrations
    left = online_migrations.remaining(context.get_admin_context())
    if left:
        return 'Failure', '%d row(s) need online data migrations (%s): run ' \
                          '"blockstore-manage db online_data_migrations" until it ' \
                          'exits 0.' % (sum(left.values()), ', '.join(
                              '%s: %d' % kv for kv in sorted(left.items())))
    return 'Success', 'No online data migrations remain.'


CHECKS = [('Database schema', check_schema), ('Service versions', check_services),
          ('Online data migrations', check_online_migrations)]
_CODES = {'Success': 0, 'Warning': 1, 'Failure': 2}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:2] != ['upgrade', 'check']:
        sys.stderr.write('usage: blockstore-status upgrade check [--config-file F]\n')
        return 2
    common.setup(argv[2:], prog='blockstore-status', cli_tool=True)
    worst = 0
    for name, check in CHECKS:
        if worst == _CODES['Failure']:
            result, detail = 'Failure', 'Not checked: an earlier check failed.'
        else:
            try:
                result, detail = check()
            except Exception as e:
                result, detail = 'Failure', 'Check failed with an error: %s' % e
        worst = max(worst, _CODES[result])
        print('Check: %s\n  Result: %s\n  Details: %s' % (name, result, detail))
    return worst


if __name__ == '__main__':
    sys.exit(main())
