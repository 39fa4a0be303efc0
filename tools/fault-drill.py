#!/usr/bin/env python3
"""Fault drill: SIGKILL blockstore services while clients work; nothing may end stuck or lost.

Starts a private MariaDB or PostgreSQL (--db) and a private RabbitMQ node on
free loopback ports (never the machine's shared servers), separate API,
scheduler, volume (file backend) and backup (POSIX store) processes on them,
and six REST clients that create, extend, snapshot, clone, attach/detach, back
up and delete. Every --interval seconds a random service is SIGKILLed and
restarted; the broker restarts once after a third of the kills and the
database once after two thirds. Then the churn stops, the drill waits for
transitional states to end, and prints kills, requests, 5xx answers,
resources stuck, resources in error (with their user messages), volumes
marked available whose file is missing and files left behind for deleted
resources. Exit status 1 unless all of those are zero (0: passed).

Run it from the repository with the project's virtualenv, e.g.:

    .venv/bin/python tools/fault-drill.py --db mysql --kills 20 --json drill.json

(The logic lives in tests/fixtures/fault_drill.py, which the functional test
tests/functional/test_fault_drill.py runs too.)
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split('\n\n', 1)[1])
    p.add_argument('--db', choices=['mysql', 'mariadb', 'postgresql', 'postgres'],
                   default='mysql', help='database of the deployment (a private server)')
    p.add_argument('--kills', type=int, default=20, help='services to SIGKILL (default 20)')
    p.add_argument('--interval', type=float, default=4.0,
                   help='mean seconds between kills (jittered 0.5x-1.5x; default 4)')
    p.add_argument('--clients', type=int, default=6, help='client threads (default 6)')
    p.add_argument('--no-broker-restart', action='store_true',
                   help='do not restart RabbitMQ mid-run')
    p.add_argument('--no-db-restart', action='store_true',
                   help='do not restart the database mid-run')
    p.add_argument('--cluster', metavar='NAME', nargs='?', const='drill',
                   help='two volume services in cluster NAME sharing the file directory, '
                        'locks in Redis (127.0.0.1:6379) through tooz')
    p.add_argument('--settle-timeout', type=int, default=180,
                   help='seconds to wait for transitional states to end (default 180)')
    p.add_argument('--wait-timeout', type=int, default=150,
                   help='seconds a client waits for one status (default 150)')
    p.add_argument('--workdir', help='directory for configs and logs (default: a new temp dir)')
    p.add_argument('--keep', action='store_true',
                   help='keep the work directory (always kept when the drill fails)')
    p.add_argument('--seed', type=int, help='seed of the clients\' random choices')
    p.add_argument('--json', metavar='FILE', help='also write the summary as JSON here')
    args = p.parse_args(argv)
    if args.kills < 1 or args.interval <= 0 or args.clients < 1:
        p.error('--kills and --clients must be at least 1 and --interval positive')

    from tests.fixtures import drill_verdict
    from tests.fixtures import fault_drill
    summary = fault_drill.run(
        db={'mariadb': 'mysql', 'postgres': 'postgresql'}.get(args.db, args.db),
        kills=args.kills, interval=args.interval, clients=args.clients,
        restart_broker=not args.no_broker_restart, restart_database=not args.no_db_restart,
        cluster=args.cluster, settle_timeout=args.settle_timeout,
        wait_timeout=args.wait_timeout, workdir=args.workdir, keep=args.keep, seed=args.seed)
    print(drill_verdict.report(summary))
    if args.json:
        with open(args.json, 'w') as f:
            f.write(fault_drill.dumps(summary) + '\n')
    return 0 if summary.get('ok') else 1


if __name__ == '__main__':
    sys.exit(main())
