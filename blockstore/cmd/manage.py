"""blockstore-manage: operator commands.

  db sync [VERSION] | db version | db purge --before-days N
  db online_data_migrations [--max-count N]
  service list | service remove BINARY HOST
  cluster list | cluster remove BINARY CLUSTER
  host list [ZONE]
  volume delete VOLUME_ID
  attachment reclaim --host HOST --confirm-dead
  backup list [--host HOST] | backup update_backup_host --currenthost X --newhost Y
  version
"""

import argparse
import datetime
import sys

from oslo_config import cfg

import blockstore
from blockstore.cmd import common
from blockstore.common import context
from blockstore.common import exception
from blockstore.common import idempotency
from blockstore.db import api as db
from blockstore.db import migration
from blockstore.db.models import utcnow
from blockstore import objects

import blockstore.common.conf  # noqa: F401,E402  (registers options)

objects.register_all()
CONF = cfg.CONF


def _print_table(headers, rows, out):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(headers)]
    fmt = '  '.join('%%-%ds' % w for w in widths)
    out.write(fmt % tuple(headers) + '\n')
    for r in rows:
        out.write(fmt % tuple(str(c) for c in r) + '\n')


def cmd_db_sync(args, out):
    migration.db_sync(args.version or 'head')
    from blockstore.volume import volume_types
    volume_types.ensure_default_type(context.get_admin_context())
    out.write('Database is at revision %s\n' % migration.db_version())


def cmd_db_version(args, out):
    out.write('%s\n' % (migration.db_version() or 'empty'))


def cmd_db_purge(args, out):
    if args.before_days < 0:
        raise SystemExit('--before-days must be >= 0')
    before = utcnow() - datetime.timedelta(days=args.before_days)
    counts = db.purge_deleted(context.get_admin_context(), before)
    out.write('Purged %(volumes)d volumes and %(snapshots)d snapshots\n' % counts)
    keys = idempotency.purge_expired(context.get_admin_context())
    out.write('Purged %d expired idempotency keys\n' % keys)


def cmd_db_online_migrations(args, out):
    """Fill what this release needs in rows older services wrote (ops/online_migrations).

    Exit status 0 when nothing remains, 1 while rows remain (run it again), 2 when a
    migration failed.
    """
    from blockstore.ops import online_migrations
    if args.max_count is not None and args.max_count < 1:
        raise SystemExit('--max-count must be >= 1')
    ctx = context.get_admin_context()
    results = online_migrations.run(ctx, max_count=args.max_count)
    rows = [(name, found, done, error or '') for name, found, done, error in results]
    _print_table(('Migration', 'Total Needed', 'Completed', 'Error'), rows, out)
    if any(error for _, _, _, error in results):
        out.write('Some migrations failed; see the Error column.\n')
        raise SystemExit(2)
    left = online_migrations.remaining(ctx)
    if left:
        out.write('%d row(s) still to migrate (%s): run the command again.\n' % (
            sum(left.values()), ', '.join(sorted(left))))
        raise SystemExit(1)
    out.write('Online data migrations are complete.\n')


def cmd_service_list(args, out):
    from blockstore.db import services as services_db
    ctx = context.get_admin_context()
    releases = {r.id: r.release_name for r in services_db.service_get_all(ctx)}
    rows = []
    for svc in objects.ServiceList.get_all(ctx):
        up = svc.is_up(CONF.service_down_time)
        rows.append((svc.binary, svc.host, svc.availability_zone,
                     'disabled' if svc.disabled else 'enabled', ':-)' if up else 'XXX',
                     svc.last_seen_at or '-', svc.cluster_name or '',
                     svc.rpc_current_version or '-', svc.object_current_version or '-',
                     releases.get(svc.id) or '-'))
    _print_table(('Binary', 'Host', 'Zone', 'Status', 'State', 'Updated At', 'Cluster',
                  'RPC Version', 'Object Version', 'Release'), rows, out)


def cmd_service_remove(args, out):
    ctx = context.get_admin_context()
    try:
        svc = objects.Service.get_by_args(ctx, args.host, args.binary)
    except exception.ServiceNotFound:
        raise SystemExit('Service %s on host %s not found.' % (args.binary, args.host))
    if svc.is_up(CONF.service_down_time):
        raise SystemExit('Service %s on host %s is up; stop it first.' % (args.binary,
                                                                         args.host))
    svc.destroy()
    out.write('Service %s on host %s removed.\n' % (args.binary, args.host))


def cmd_cluster_list(args, out):
    from blockstore.ops import services as ops_services
    rows = [(c.name, c.binary, 'up' if c.is_up else 'down',
             'disabled' if c.disabled else 'enabled', c.num_hosts, c.num_down_hosts,
             c.last_heartbeat or '-', c.disabled_reason or '', c.created_at,
             c.updated_at or '-')
            for c in sorted(ops_services.list_clusters(context.get_admin_context()),
                            key=lambda c: (c.name, c.binary))]
    _print_table(('Name', 'Binary', 'State', 'Status', 'Num Hosts', 'Num Down Hosts',
                  'Last Heartbeat', 'Disabled Reason', 'Created At', 'Updated At'), rows, out)


def cmd_cluster_remove(args, out):
    """Remove a retired cluster: the service rows of its members, all of them down.

    A cluster has no row of its own (it is the services sharing cluster_name); volumes
    that still name it keep doing so until they are moved.
    """
    from blockstore.ops import services as ops_services
    ctx = context.get_admin_context()
    try:
        cluster = ops_services.get_cluster(ctx, args.cluster_name, args.binary)
    except exception.ClusterNotFound:
        raise SystemExit('Cluster %s (%s) not found.' % (args.cluster_name, args.binary))
    if cluster.num_down_hosts != cluster.num_hosts:
        raise SystemExit('Cluster %s has %d service(s) up; stop them first.' % (
            args.cluster_name, cluster.num_hosts - cluster.num_down_hosts))
    for service_id in cluster.service_ids:
        try:
            objects.Service.get_by_id(ctx, service_id).destroy()
        except exception.ServiceNotFound:
            pass            # removed meanwhile
    out.write('Cluster %s (%s) removed with its %d service(s).\n' % (
        args.cluster_name, cluster.binary, cluster.num_hosts))


def cmd_host_list(args, out):
    from blockstore.ops import services as ops_services
    hosts = sorted({(s.host, s.availability_zone)
                    for s in ops_services.list_hosts(context.get_admin_context(),
                                                     zone=args.zone)})
    _print_table(('Host', 'Zone'), hosts, out)


def cmd_volume_delete(args, out):
    """Admin cleanup: delete a volume whatever its (non-attached) state.

    With a live backend the deletion is cast to it; a volume never placed on
    a backend is finished here.
    """
    from blockstore.common import rpc
    from blockstore.volume import api as volume_api
    ctx = context.get_admin_context()
    try:
        vol = objects.Volume.get_by_id(ctx, args.volume_id)
    except exception.VolumeNotFound:
        raise SystemExit('Volume %s not found.' % args.volume_id)
    try:
        if vol.host:
            rpc.init()
        volume_api.API().delete(ctx, vol, force=True)
    except exception.Invalid as e:
        raise SystemExit('Cannot delete volume %s: %s' % (args.volume_id, e.msg))
    finally:
        rpc.cleanup()
    out.write('Volume %s: deletion %s.\n' % (
        args.volume_id, 'requested from %s' % vol.host if vol.host else 'done'))


def cmd_attachment_reclaim(args, out):
    """Detach every attachment of a dead host, revoking its access on the backends."""
    from blockstore.common import rpc
    from blockstore.volume import api as volume_api
    if not args.confirm_dead:
        raise SystemExit('Reclaiming revokes the access of host %s to its volumes; pass '
                         '--confirm-dead once you are sure it is gone.' % args.host)
    ctx = context.get_admin_context()
    rpc.init()
    try:
        reclaimed, pending, failed = volume_api.API().attachments.reclaim_host(ctx, args.host)
    except exception.Invalid as e:
        raise SystemExit('Cannot reclaim the attachments of %s: %s' % (args.host, e.msg))
    finally:
        rpc.cleanup()
    rows = [(a['id'], a['volume_id'], a['instance_uuid'] or '-', 'reclaimed', '')
            for a in reclaimed]
    rows += [(a['id'], a['volume_id'], a['instance_uuid'] or '-', result, a['reason'])
             for result, found in (('pending', pending), ('failed', failed)) for a in found]
    if rows:
        _print_table(('Attachment', 'Volume', 'Instance', 'Result', 'Reason'), rows, out)
    out.write('Host %s: %d attachment(s) reclaimed, %d pending, %d failed.\n'
              % (args.host, len(reclaimed), len(pending), len(failed)))
    if failed:
        raise SystemExit(1)


def cmd_backup_list(args, out):
    from blockstore.ops import backups as ops_backups
    headers, rows = ops_backups.list_backups(context.get_admin_context(), host=args.host)
    _print_table(headers, rows, out)


def cmd_backup_update_host(args, out):
    """Move the backups of a retired backup service host to another one."""
    from blockstore.ops import backups as ops_backups
    moved = ops_backups.update_backup_host(context.get_admin_context(), args.currenthost,
                                           args.newhost)
    out.write('%d backup(s) moved from %s to %s.\n' % (moved, args.currenthost, args.newhost))


def cmd_version(args, out):
    out.write('%s\n' % blockstore.__version__)


def build_parser():
    p = argparse.ArgumentParser(prog='blockstore-manage')
    p.add_argument('--config-file', action='append', default=[])
    p.add_argument('--config-dir', action='append', default=[])
    sub = p.add_subparsers(dest='category', required=True)

    dbp = sub.add_parser('db').add_subparsers(dest='action', required=True)
    s = dbp.add_parser('sync')
    s.add_argument('version', nargs='?')
    s.set_defaults(func=cmd_db_sync)
    dbp.add_parser('version').set_defaults(func=cmd_db_version)
    s = dbp.add_parser('purge')
    s.add_argument('--before-days', type=int, default=30)
    s.set_defaults(func=cmd_db_purge)
    s = dbp.add_parser('online_data_migrations',
                       help='fill what this release needs in rows older services wrote')
    s.add_argument('--max-count', type=int, metavar='N',
                   help='migrate at most N rows (default: until none remain)')
    s.set_defaults(func=cmd_db_online_migrations)

    sp = sub.add_parser('service').add_subparsers(dest='action', required=True)
    sp.add_parser('list').set_defaults(func=cmd_service_list)
    s = sp.add_parser('remove')
    s.add_argument('binary')
    s.add_argument('host')
    s.set_defaults(func=cmd_service_remove)

    cp = sub.add_parser('cluster').add_subparsers(dest='action', required=True)
    cp.add_parser('list').set_defaults(func=cmd_cluster_list)
    s = cp.add_parser('remove', help='remove a cluster whose services are all down')
    s.add_argument('binary')
    s.add_argument('cluster_name')
    s.set_defaults(func=cmd_cluster_remove)

    hp = sub.add_parser('host').add_subparsers(dest='action', required=True)
    s = hp.add_parser('list')
    s.add_argument('zone', nargs='?')
    s.set_defaults(func=cmd_host_list)

    vp = sub.add_parser('volume').add_subparsers(dest='action', required=True)
    s = vp.add_parser('delete')
    s.add_argument('volume_id')
    s.set_defaults(func=cmd_volume_delete)

    ap = sub.add_parser('attachment').add_subparsers(dest='action', required=True)
    s = ap.add_parser('reclaim', help="detach a dead host's attachments")
    s.add_argument('--host', required=True, help='the attached_host (connector host)')
    s.add_argument('--confirm-dead', action='store_true',
                   help='assert that the host is gone (required)')
    s.set_defaults(func=cmd_attachment_reclaim)

    bp = sub.add_parser('backup').add_subparsers(dest='action', required=True)
    s = bp.add_parser('list', help='the backups of every project')
    s.add_argument('--host', help='only those of this backup service host')
    s.set_defaults(func=cmd_backup_list)
    s = bp.add_parser('update_backup_host',
                      help='move the backups of one backup service host to another')
    s.add_argument('--currenthost', required=True)
    s.add_argument('--newhost', required=True)
    s.set_defaults(func=cmd_backup_update_host)

    sub.add_parser('version').set_defaults(func=cmd_version)
    return p


def main(argv=None, out=None):
    out = out or sys.stdout
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.func is not cmd_version:
        conf_argv = []
        for f in args.config_file:
            conf_argv += ['--config-file', f]
        for d in args.config_dir:
            conf_argv += ['--config-dir', d]
        common.setup(conf_argv, prog='blockstore-manage', cli_tool=True)
    args.func(args, out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
