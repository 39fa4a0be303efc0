"""The fault drill, bounded: about 20 SIGKILLs while six clients work, on each database.

tools/fault-drill.py's run (tests/fixtures/fault_drill.py) on a private
MariaDB and a private PostgreSQL, each with a private RabbitMQ node, both
restarted once mid-run; and on MariaDB with two volume services in one
cluster on one shared directory (locks in Redis), where a peer takes over a
killed member's work. The verdict is the drill's strict one: zero 5xx
answers, zero resources stuck in a transitional state, zero resources in an
error state, zero volumes (snapshots, backups) marked available without their
data, zero files left behind for deleted ones. A failure prints the drill's
report (the evidence: requests, bodies, resource states, user messages) and
keeps the deployment's logs.

It needs the servers' programs (mariadbd + mariadb-install-db, initdb +
postgres, rabbitmq-server + epmd); without them it skips naming what is
missing, or fails under CI. Several minutes per database: run it alone
(``pytest tests/functional/test_fault_drill.py``). ``BLOCKSTORE_DRILL_KILLS``
changes the number of kills (default 20).
"""

import os
import shutil

import pytest

from tests.fixtures import database as dbfix
from tests.fixtures import deployment as depfix
from tests.fixtures import drill_verdict
from tests.fixtures import fault_drill

KILLS = int(os.environ.get('BLOCKSTORE_DRILL_KILLS', '20'))

_PROGRAMS = {'mysql': ('mariadb-install-db', 'mariadbd'),
             'postgresql': ('initdb', 'pg_ctl')}
_RABBIT = ('/usr/lib/rabbitmq/bin/rabbitmq-server', 'epmd')


def _require(programs):
    missing = [p for p in programs if not (os.access(p, os.X_OK) if os.sep in p else
                                           shutil.which(p) or os.access('/usr/sbin/' + p,
                                                                        os.X_OK))]
    if missing:
        msg = 'the fault drill needs %s (not installed)' % ', '.join(missing)
        if dbfix.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.mark.parametrize('db,cluster', [('mysql', None), ('postgresql', None),
                                        ('mysql', 'drill')],
                         ids=['mysql', 'postgresql', 'mysql-cluster'])
def test_fault_drill_leaves_nothing_stuck_failed_or_lost(db, cluster, tmp_path):
    _require(_PROGRAMS[db] + _RABBIT)
    if cluster and not depfix.port_open('127.0.0.1', 6379):
        msg = 'the cluster drill needs Redis on 127.0.0.1:6379 (its tooz lock service)'
        if dbfix.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    summary = fault_drill.run(db=db, kills=KILLS, interval=3.0, settle_timeout=150,
                              wait_timeout=120, cluster=cluster, workdir=str(tmp_path / 'drill'))
    report = drill_verdict.report(summary)
    print(report)
    with open(str(tmp_path / 'summary.json'), 'w') as f:
        f.write(fault_drill.dumps(summary))
    assert summary['kills'] == KILLS, report
    assert summary['requests'] > 100, report          # the clients did work
    assert len(summary['restarts']) == 2, report      # the broker and the database
    assert drill_verdict.counts(summary) == {
        '5xx': 0, 'stuck': 0, 'errors': 0, 'missing': 0, 'leftover': 0,
        'client_failures': 0, 'clients_still_running': 0}, report
    assert summary['ok'], report
