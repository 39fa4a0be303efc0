"""Start and stop the two deployments the benchmark measures.

Thin wrappers over the test fixtures (tests/fixtures/deployment.py and
tests/fixtures/database.py), which start each service as its own process and
stop exactly the processes they started.

    with embedded(workdir) as d:  ...   # blockstore-all: SQLite, fake://, file driver
    with multi(workdir) as d:     ...   # api + scheduler + volume, MariaDB + RabbitMQ

Both yield a ``Running`` with the fixture ``Deployment`` (``.dep``), the
database URL the services use (``.db_url``) and the name of the process that
serves the API (``.api_name``). Cleanup (processes, database) happens even
when the body raises.
"""

import contextlib
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tests.fixtures import database as dbfix  # noqa: E402
from tests.fixtures import deployment as depfix  # noqa: E402

API_START_TIMEOUT = 120


class Running:
    def __init__(self, kind, dep, db_url, api_name, services):
        self.kind = kind
        self.dep = dep
        self.db_url = db_url
        self.api_name = api_name
        self.services = services

    @property
    def api_pid(self):
        return self.dep.procs[self.api_name].pid

    def pids(self):
        return {name: p.pid for name, p in self.dep.procs.items()}

    def check_alive(self):
        for name, proc in self.dep.procs.items():
            if proc.poll() is not None:
                raise RuntimeError('%s exited with %s:\n%s' % (
                    name, proc.returncode, self.dep.output(name)))

    def log_errors(self, limit=3):
        """The first ``limit`` ERROR records of blockstore.log, shortened.

        oslo.log prefixes every traceback line with the record's prefix; a record
        is a run of ERROR lines with the same prefix. Kept: its first line, the
        frames inside blockstore/, and its last line.
        """
        path = os.path.join(self.dep.workdir, 'blockstore.log')
        try:
            with open(path, errors='replace') as f:
                lines = [ln.rstrip('\n') for ln in f if ' ERROR ' in ln]
        except FileNotFoundError:
            return []
        records, cur, key = [], [], None
        for ln in lines:
            k = ' '.join(ln.split(' ', 5)[:5])
            if k != key and cur:
                records.append(cur)
                cur = []
            key = k
            text = ln[len(k):].strip()
            if text:
                cur.append(text)
        if cur:
            records.append(cur)
        out = []
        for rec in records[:limit]:
            keep = [rec[0]]
            for i, ln in enumerate(rec[1:-1], 1):
                if ln.startswith('File "') and '/blockstore/' in ln and 'site-packages' not in ln:
                    keep += [ln] + rec[i + 1:i + 2]
            if len(rec) > 1:
                keep.append(rec[-1])
            out.append('\n'.join(keep))
        return out

    def log_tail(self, chars=4000):
        path = os.path.join(self.dep.workdir, 'blockstore.log')
        try:
            with open(path, errors='replace') as f:
                return f.read()[-chars:]
        except FileNotFoundError:
            return ''


@contextlib.contextmanager
def embedded(workdir):
    """blockstore-all in one process; SQLite file in the state directory."""
    dep = depfix.Deployment(workdir)
    dep.write_config()
    try:
        dep.start('all')
        dep.wait_for_api(timeout=API_START_TIMEOUT)
        db_url = 'sqlite:///' + os.path.join(dep.state_path, 'blockstore.sqlite')
        yield Running('embedded', dep, db_url, 'all', ['all'])
    finally:
        dep.stop_all()


def mysql_driver():
    """The MariaDB driver the services use: mysqlclient (C) when installed.

    Override with BLOCKSTORE_BENCH_MYSQL_DRIVER=pymysql|mysqldb. PyMySQL decodes
    rows in pure Python, which dominates a 1,000-volume listing.
    """
    wanted = os.environ.get('BLOCKSTORE_BENCH_MYSQL_DRIVER')
    if wanted:
        return wanted
    try:
        import MySQLdb  # noqa: F401
        return 'mysqldb'
    except ImportError:
        return 'pymysql'


@contextlib.contextmanager
def multi(workdir):
    """blockstore-api, -scheduler and -volume processes on MariaDB and RabbitMQ."""
    if not depfix.port_open('127.0.0.1', 5672):
        raise RuntimeError('RabbitMQ is not listening on 127.0.0.1:5672')
    db = dbfix.Database('mysql')
    db.create()
    try:
        db.sync()
        db.dispose()  # the services open their own connections
        url = db.url.replace('mysql+pymysql://', 'mysql+%s://' % mysql_driver())
        print('multi: services use the %s MariaDB driver' % mysql_driver(), flush=True)
        dep = depfix.Deployment(workdir, db_url=url, transport_url=depfix.RABBIT_URL)
        dep.write_config()
        try:
            for name in ('scheduler', 'volume', 'api'):
                dep.start(name)
            dep.wait_for_api(timeout=API_START_TIMEOUT)
            yield Running('multi', dep, db.url, 'api', ['api', 'scheduler', 'volume'])
        finally:
            dep.stop_all()
    finally:
        _drop(db)


def _drop(db):
    """Drop the database even if disposing of the fixture's engine fails."""
    try:
        db.drop()
    except Exception:
        if db.created:
            db._admin_execute('DROP DATABASE IF EXISTS `%s`' % db.name)
            db.created = False
        raise


FACTORIES = {'embedded': embedded, 'multi': multi}
