#!/usr/bin/env python3
"""Rolling-upgrade drill: from the recorded previous release to this checkout, under load.

Run from a checkout with its virtualenv (``.venv/bin/python tools/upgrade/drill.py``);
it needs git history (the previous release's commit), MariaDB or PostgreSQL and RabbitMQ
on this machine (the test servers of tools/setup-test-env.sh). What it does:

1. The previous release (tools/upgrade/previous-release) as a git worktree with its own
   virtualenv (tools/upgrade/oldrelease.py; cached, verified, under /var/tmp).
2. A fresh database (its own name) and the previous release's ``db sync``; its API,
   scheduler, two volume services (file backend, one shared directory, one ``cluster``)
   and two backup services, each a process, on RabbitMQ under a topic prefix of their
   own (tools/upgrade/site.py).
3. Client threads that, throughout, create volumes, attach them and write known bytes,
   detach, snapshot, extend, clone snapshots, back up, and delete; some volumes and
   backups are kept to be checked at the end.
4. In Cinder's order: this checkout's ``blockstore-manage db sync`` (the upgrade check
   now fails: online migrations remain; a first ``online_data_migrations --max-count``
   runs beside the old services); the reverse mix (one NEW volume service beside the
   OLD API and scheduler); the API (the new one starts on another port, clients move to
   it, then the old one stops: no request meets a closed port); the scheduler (the old
   one stops, then the new one starts: its start-up sweep places what was left
   unplaced); the other volume service; each backup service (disabled, drained,
   replaced, enabled); SIGHUP to every service to lift its version pins; a restart of a
   new volume service beside its new peer; ``online_data_migrations`` until it exits 0 and
   ``blockstore-status upgrade check`` (exit 0). While a service restarts (a few
   seconds) the clients hold new requests, after those in flight and the running
   backups ended: see Drill._held for the two defects this works around; the holds
   are in the figures.
5. The verdict: no failed request (the only retried ones are connection errors and a
   503 with Retry-After, creates carry an Idempotency-Key so a retry cannot duplicate),
   nothing left in a transitional state and no volume in error, every kept volume, clone
   and restored backup holding its bytes, and the new services' logs showing that they
   sent the previous release's RPC and object versions while old services ran and this
   checkout's after the SIGHUP (the compatibility branches of what was added since).

Exit status 0 on success, 1 when the verdict fails, 2 when it cannot run (no git
history, no database or broker). ``--json FILE`` writes the figures.
"""

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from blockstore.common import status as st  # noqa: E402
from tests.fixtures import database as dbfix  # noqa: E402
from tests.fixtures import deployment as depfix  # noqa: E402
from tools.upgrade import oldrelease  # noqa: E402
from tools.upgrade.site import DrillFailure, Site, log  # noqa: E402

GiB = 1024 ** 3
BLOCK = 64 * 1024
CONNECTOR = {'initiator': 'iqn.1993-08.org.debian:01:drill', 'host': 'drill-client',
             'ip': '127.0.0.1', 'platform': 'x86_64', 'os_type': 'linux', 'multipath': False}
# Statuses a resource may rest in once nobody is working on it; anything else left
# after the clients stopped and the services settled is stuck.
RESTING = {'volumes': {st.AVAILABLE, st.IN_USE},
           'snapshots': {st.AVAILABLE},
           'backups': {st.AVAILABLE}}
ERRORS_OK = set()   # no resource may end in error


# ---------------------------------------------------------------------------
# Processes of both releases
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.retried = 0
        self.failures = []
        self.ops = {}
        self.kept_volumes = []      # (volume id, pattern seed)
        self.kept_backups = []      # (backup id, pattern seed)
        self.active = 0             # requests in flight

    def count(self, what, n=1):
        with self.lock:
            self.ops[what] = self.ops.get(what, 0) + n

    def fail(self, what):
        with self.lock:
            self.failures.append(what)
        log('FAILURE: %s' % what)


def pattern(seed):
    block = (seed.encode() * (BLOCK // len(seed) + 1))[:BLOCK]
    return block


class Client:
    """One user's REST client: retries connection errors and 503 + Retry-After only."""

    def __init__(self, index, state, stats, project, admin=False):
        self.admin = admin          # noauth takes a caller without X-Roles for an admin
        self.index = index
        self.state = state          # {'endpoint': ..., 'stop': Event}
        self.stats = stats
        self.project = project
        self.session = requests.Session()

    def request(self, method, path, body=None, ok=(200, 202, 204), idempotent_key=None,
                gone_ok=False, timeout=60):
        headers = {'X-Auth-Token': 'user-%d:%s' % (self.index, self.project),
                   'OpenStack-API-Version': 'volume 3.71',
                   'Content-Type': 'application/json', 'Accept': 'application/json'}
        if not self.admin:
            headers['X-Roles'] = 'member,reader'
        if idempotent_key:
            headers['Idempotency-Key'] = idempotent_key
        deadline = time.time() + 90
        attempt = 0
        while True:
            attempt += 1
            while True:     # held while the drill stops a process of the previous release
                with self.stats.lock:
                    if not self.state['paused'].is_set():
                        self.stats.requests += 1
                        self.stats.active += 1
                        break
                time.sleep(0.05)
            endpoint = self.state['endpoint']
            error = None
            try:
                r = self.session.request(method, '%s/v3/%s%s' % (endpoint, self.project, path),
                                         json=body, headers=headers, timeout=timeout)
            except requests.ConnectionError as e:
                # Refused or reset: the request may not have been served (creates carry an
                # Idempotency-Key, so serving it twice makes one resource).
                error = e
            finally:
                with self.stats.lock:
                    self.stats.active -= 1
            if error is not None:
                self._retry(method, path, 'connection error %s' % error, deadline)
                continue
            if r.status_code == 503 and r.headers.get('Retry-After'):
                self._retry(method, path, '503 Retry-After %s' % r.headers['Retry-After'],
                            deadline, float(r.headers['Retry-After']))
                continue
            if r.status_code in ok or (gone_ok and r.status_code == 404 and attempt > 1):
                return r
            raise DrillFailure('%s %s -> %d %s' % (method, path, r.status_code, r.text[:500]))

    def _retry(self, method, path, why, deadline, wait=0.5):
        with self.stats.lock:
            self.stats.retried += 1
        if time.time() > deadline:
            raise DrillFailure('%s %s: still failing after 90 s (%s)' % (method, path, why))
        time.sleep(min(wait, 5))

    def wait(self, kind, rid, want, timeout=180):
        deadline = time.time() + timeout
        status = None
        while time.time() < deadline:
            r = self.request('GET', '/%ss/%s' % (kind, rid), ok=(200, 404))
            if r.status_code == 404:
                if want == 'gone':
                    return None
                raise DrillFailure('%s %s disappeared while waiting for %s' % (kind, rid, want))
            body = r.json()[kind]
            status = body['status']
            if status == want:
                return body
            if status.startswith(st.ERROR):
                raise DrillFailure('%s %s is %s (wanted %s)' % (kind, rid, status, want))
            time.sleep(0.25)
        raise DrillFailure('%s %s stuck in %s (wanted %s after %ds)' % (kind, rid, status,
                                                                       want, timeout))

    # -- data -------------------------------------------------------------------------

    def attach(self, vid):
        key = uuid.uuid4().hex
        att = self.request('POST', '/attachments', body={'attachment': {
            'volume_uuid': vid, 'instance_uuid': str(uuid.uuid4()), 'connector': CONNECTOR}},
            idempotent_key=key).json()['attachment']
        info = att['connection_info']
        if info.get('driver_volume_type') != 'local':
            raise DrillFailure('attachment of %s is not a local path: %s' % (vid, info))
        self.request('POST', '/attachments/%s/action' % att['id'], body={'os-complete': None})
        return att['id'], info['device_path']

    def detach(self, vid, att_id):
        self.request('DELETE', '/attachments/%s' % att_id, gone_ok=True)
        self.wait('volume', vid, st.AVAILABLE)

    def write(self, vid, seed):
        att, path = self.attach(vid)
        data = pattern(seed)
        with open(path, 'r+b') as f:
            f.write(data)
            f.seek(GiB - BLOCK)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self.detach(vid, att)

    def check(self, vid, seed, what):
        att, path = self.attach(vid)
        try:
            data = pattern(seed)
            with open(path, 'rb') as f:
                head = f.read(BLOCK)
                f.seek(GiB - BLOCK)
                tail = f.read(BLOCK)
            if head != data or tail != data:
                self.stats.fail('%s %s: its bytes differ from what was written' % (what, vid))
            else:
                self.stats.count('bytes verified')
        finally:
            self.detach(vid, att)

    # -- the workload ------------------------------------------------------------------

    def create_volume(self, name, size=1, **extra):
        body = {'volume': dict({'size': size, 'name': name}, **extra)}
        vid = self.request('POST', '/volumes', body=body,
                           idempotent_key=uuid.uuid4().hex).json()['volume']['id']
        self.wait('volume', vid, st.AVAILABLE)
        self.stats.count('volumes created')
        return vid

    def delete(self, kind, rid):
        self.request('DELETE', '/%ss/%s' % (kind, rid), gone_ok=True)
        self.wait(kind, rid, 'gone')
        self.stats.count('%ss deleted' % kind)

    def cycle(self, n):
        tag = 'c%d-%d' % (self.index, n)
        vid = self.create_volume(tag)
        seed = 'drill:%s:%s' % (tag, vid)
        self.write(vid, seed)
        sid = self.request('POST', '/snapshots', body={'snapshot': {
            'volume_id': vid, 'name': tag}}, idempotent_key=uuid.uuid4().hex).json()[
            'snapshot']['id']
        self.wait('snapshot', sid, st.AVAILABLE)
        self.stats.count('snapshots created')
        self.request('POST', '/volumes/%s/action' % vid, body={'os-extend': {'new_size': 2}})
        body = self.wait('volume', vid, st.AVAILABLE)
        if body['size'] != 2:
            self.stats.fail('volume %s extended to 2 GiB reports %s' % (vid, body['size']))
        self.stats.count('volumes extended')
        if n % 3 == 1:
            clone = self.create_volume(tag + '-clone', size=1, snapshot_id=sid)
            self.check(clone, seed, 'clone of a snapshot')
            self.delete('volume', clone)
        backup = None
        if n % 3 == 2:
            backup = self.request('POST', '/backups', body={'backup': {
                'volume_id': vid, 'name': tag}}, idempotent_key=uuid.uuid4().hex).json()[
                'backup']['id']
            self.wait('backup', backup, st.AVAILABLE, timeout=300)
            self.stats.count('backups created')
        self.delete('snapshot', sid)
        with self.stats.lock:
            keep_backup = backup and len(self.stats.kept_backups) < 4
            if keep_backup:
                self.stats.kept_backups.append((backup, seed))
            keep = n % 2 == 0 and len(self.stats.kept_volumes) < 12
            if keep:
                self.stats.kept_volumes.append((vid, seed))
        if backup and not keep_backup:
            self.delete('backup', backup)
        if not keep:
            self.delete('volume', vid)

    def run(self):
        n = 0
        while not self.state['stop'].is_set():
            try:
                self.cycle(n)
            except DrillFailure as e:
                self.stats.fail('client %d: %s' % (self.index, e))
            except Exception:
                self.stats.fail('client %d: %s' % (self.index, traceback.format_exc()))
            n += 1


# ---------------------------------------------------------------------------
# The drill
# ---------------------------------------------------------------------------

class Drill:
    def __init__(self, args):
        self.args = args
        self.record = oldrelease.read_record()
        self.result = {'previous_release': self.record, 'phases': [], 'checks': {}}
        self.t0 = time.time()
        self.hup_offsets = {}

    def phase(self, name, seconds=None):
        log('phase: %s' % name)
        self.result['phases'].append((name, round(time.time() - self.t0, 1)))
        if seconds:
            self._sleep(seconds)

    def _sleep(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            if self.stats.failures and self.args.fail_fast:
                raise DrillFailure('a client failed: %s' % self.stats.failures[0])
            time.sleep(0.5)

    def run(self):
        self.old = oldrelease.OldRelease(self.record, cache_root=self.args.cache, log=log)
        self.db = dbfix.Database(self.args.db)
        self.workdir = self.args.workdir or tempfile.mkdtemp(prefix='bs-upgrade-drill-')
        self.site = None
        self.stats = Stats()
        self.threads = []
        self.client_state = {'endpoint': None, 'stop': threading.Event(),
                             'paused': threading.Event()}
        self.result['holds'] = []
        try:
            t = time.time()
            self.old.prepare()
            self.result['old_release_seconds'] = round(time.time() - t, 1)
            self.result['old_release_cached'] = not self.old.built
            self.db.create()
            self.site = Site(self.workdir, self.db.url, self.old, debug=self.args.debug)
            self.site.write_config()
            self._drill()
            return self._verdict()
        finally:
            self.client_state['stop'].set()
            for t in self.threads:
                t.join(120)
            if self.site:
                self.site.stop_all()
            if self.args.keep:
                log('kept database %s (%s)' % (self.db.name, self.args.db))
                self.db.dispose()
            else:
                self.db.drop()
            self.old.cleanup()
            if not self.args.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)
            else:
                log('kept %s' % self.workdir)

    def _drill(self):
        site, a = self.site, self.args
        self.phase('previous release %s: db sync, start every service' % self.record['version'])
        site.command('old', 'blockstore.cmd.manage', 'db', 'sync')
        port = depfix.free_port()
        site.start('api', 'old', port=port)
        for name in ('scheduler', 'vol-a', 'vol-b', 'backup-a', 'backup-b'):
            site.start(name, 'old')
        endpoint = 'http://127.0.0.1:%d' % port
        site.wait_api(endpoint, 'api')
        for name in ('scheduler', 'vol-a', 'vol-b', 'backup-a', 'backup-b'):
            site.wait_started(name)
        self.client_state['endpoint'] = endpoint
        self.admin = admin = Client(0, self.client_state, self.stats, 'admin', admin=True)
        admin.request('PUT', '/os-quota-sets/drill', body={'quota_set': {
            'volumes': -1, 'gigabytes': -1, 'snapshots': -1, 'backups': -1,
            'backup_gigabytes': -1}})
        self._wait_pools(admin)
        for i in range(a.clients):
            c = Client(i + 1, self.client_state, self.stats, 'drill')
            t = threading.Thread(target=c.run, name='client-%d' % i, daemon=True)
            t.start()
            self.threads.append(t)
        self.phase('clients on the previous release', a.phase_seconds)

        self.phase('new db sync (additive schema) beside the running old services')
        site.command('new', 'blockstore.cmd.manage', 'db', 'sync')
        check = site.command('new', 'blockstore.cmd.status', 'upgrade', 'check', check=False)
        self.result['checks']['upgrade check after db sync'] = check.returncode
        if check.returncode != 2 or 'online_data_migrations' not in check.stdout:
            raise DrillFailure('upgrade check after db sync should fail on the online '
                               'migrations:\n%s' % check.stdout)
        part = site.command('new', 'blockstore.cmd.manage', 'db', 'online_data_migrations',
                            '--max-count', '2', check=False)
        self.result['checks']['online migrations --max-count 2 beside old services'] = \
            part.returncode
        if part.returncode != 1:
            raise DrillFailure('online_data_migrations --max-count 2 with 5 service rows '
                               'should exit 1:\n%s' % part.stdout + part.stderr)
        self._sleep(a.phase_seconds / 2)

        self.phase('reverse mix: a NEW volume service beside the OLD api and scheduler')
        self._replace('vol-b')
        self._sleep(a.phase_seconds)

        self.phase('replace the API: new on another port, clients move, old stops')
        port2 = depfix.free_port()
        site.start('api#2', 'new', port=port2)
        endpoint2 = 'http://127.0.0.1:%d' % port2
        site.wait_api(endpoint2, 'api#2')
        self.client_state['endpoint'] = endpoint2
        time.sleep(3)       # requests already sent to the old API finish there
        site.stop('api')
        self._sleep(a.phase_seconds)

        self.phase('replace the scheduler: the old one stops, the new one starts')
        with self._held('scheduler'):
            site.stop('scheduler')
            site.start('scheduler#2', 'new')
            site.wait_started('scheduler#2')
        self._sleep(a.phase_seconds)

        self.phase('replace the other volume service')
        self._replace('vol-a')
        self._sleep(a.phase_seconds)

        for name in ('backup-a', 'backup-b'):
            self.phase('replace backup service %s: disable, drain, replace, enable' % name)
            self._replace_backup(name)
            self._sleep(a.phase_seconds / 2)

        self.phase('SIGHUP every service: pins lifted')
        resets = {n: site.log_count(n, 'RPC and object version pins reset')
                  for n in site.procs}
        self.hup_offsets = {n: len(site.read_log(n)) for n in site.procs}
        for name in list(site.procs):
            site.hup(name)
        deadline = time.time() + 30
        while time.time() < deadline and any(
                site.log_count(n, 'RPC and object version pins reset') <= resets[n]
                for n in site.procs):
            time.sleep(0.3)
        missing = [n for n in site.procs
                   if site.log_count(n, 'RPC and object version pins reset') <= resets[n]]
        if missing:
            raise DrillFailure('no pin reset logged after SIGHUP by %s' % missing)
        self._sleep(a.phase_seconds)

        self.phase('restart a volume service of this release beside its peers')
        self._replace('vol-a')
        self._sleep(a.phase_seconds / 2)

        self.phase('clients stop; services settle')
        self.client_state['stop'].set()
        for t in self.threads:
            t.join(300)
            if t.is_alive():
                self.stats.fail('%s did not finish its cycle in 300 s' % t.name)

        self.phase('online data migrations until done; upgrade check')
        for _ in range(10):
            p = site.command('new', 'blockstore.cmd.manage', 'db', 'online_data_migrations',
                             check=False)
            if p.returncode != 1:
                break
        self.result['checks']['online migrations'] = p.returncode
        if p.returncode != 0:
            raise DrillFailure('online_data_migrations did not finish:\n%s' % p.stdout)
        check = site.command('new', 'blockstore.cmd.status', 'upgrade', 'check', check=False)
        self.result['checks']['final upgrade check'] = check.returncode
        if check.returncode != 0:
            raise DrillFailure('upgrade check after the upgrade:\n%s' % check.stdout)

    def _replace(self, name):
        """Stop the process of ``name`` and start this checkout's in its place, with the
        clients held meanwhile (see _held)."""
        with self._held(name):
            self.site.stop(name)
            self.site.start(name, 'new')
            self.site.wait_started(name)

    @contextlib.contextmanager
    def _held(self, name, timeout=120):
        """Hold new client requests while a service restarts (a few seconds); first let
        the requests in flight and the running backups end.

        Two things, measured by this drill, make a restart under load fail requests:
        the previous release's RPC server drops what the broker pushes to it while it
        stops (fixed here: rpc.stop_server, tests/functional/test_rpc_stop.py), and a
        volume service's start-up recovery fails a connect or disconnect whose work
        record it finds while the API's call for it still waits in the queue (the
        client then gets a 400 or 500). The holds are counted in the figures.
        """
        paused = self.client_state['paused']
        paused.set()
        t = time.time()
        try:
            deadline = time.time() + timeout
            while time.time() < deadline:
                with self.stats.lock:
                    active = self.stats.active
                if not active and not self._running_backups():
                    break
                time.sleep(0.1)
            yield
        finally:
            paused.clear()
            self.result['holds'].append((name, round(time.time() - t, 1)))

    def _running_backups(self, host=None):
        busy = [st.CREATING, st.RESTORING, st.DELETING]
        sql = ('SELECT count(*) FROM backups WHERE deleted = :f AND status IN :busy'
               + (' AND host = :h' if host else ''))
        engine = sa.create_engine(self.db.url, pool_size=1)
        try:
            with engine.connect() as conn:
                return conn.execute(sa.text(sql).bindparams(
                    sa.bindparam('busy', expanding=True)),
                    {'f': False, 'busy': busy, 'h': host}).scalar()
        finally:
            engine.dispose()

    def _replace_backup(self, name, timeout=180):
        """Operators' way for a service with long work: new backups go to the other
        backup service while this one finishes what it runs, then it is replaced."""
        host = self.site.service_host(name)
        body = {'host': host, 'binary': 'cinder-backup'}
        self.admin.request('PUT', '/os-services/disable', body=body)
        deadline = time.time() + timeout
        while self._running_backups(host):
            if time.time() > deadline:
                raise DrillFailure('%s still runs backups after %ds' % (name, timeout))
            time.sleep(0.5)
        self._replace(name)
        self.admin.request('PUT', '/os-services/enable', body=body)

    def _wait_pools(self, admin, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = admin.request('GET', '/scheduler-stats/get_pools')
            if r.json().get('pools'):
                return
            time.sleep(0.5)
        raise DrillFailure('the scheduler never reported a pool')

    # -- the verdict -------------------------------------------------------------------

    def _verdict(self):
        stats, result = self.stats, self.result
        checker = Client(99, self.client_state, stats, 'drill')
        self.phase('verify: kept volumes, restores of old backups, stuck resources, pins')
        for vid, seed in list(stats.kept_volumes):
            try:
                checker.check(vid, seed, 'kept volume')
            except DrillFailure as e:
                stats.fail('kept volume %s: %s' % (vid, e))
        for bid, seed in list(stats.kept_backups):
            try:
                restored = checker.request('POST', '/backups/%s/restore' % bid, body={
                    'restore': {'name': 'restore-%s' % bid}}).json()['restore']['volume_id']
                checker.wait('volume', restored, st.AVAILABLE, timeout=300)
                checker.check(restored, seed, 'restored backup')
                stats.count('backups restored')
            except DrillFailure as e:
                stats.fail('restore of backup %s: %s' % (bid, e))
        stuck = self._stuck()
        pins = self._pin_evidence()
        engine = sa.create_engine(self.db.url, pool_size=1)
        try:
            with engine.connect() as conn:
                # Volumes a cluster-aware scheduler placed on the cluster (addressed at
                # their host while an older volume service ran).
                result['volumes_with_cluster_name'] = conn.execute(sa.text(
                    'SELECT count(*) FROM volumes WHERE cluster_name IS NOT NULL')).scalar()
        finally:
            engine.dispose()
        result.update({
            'seconds': round(time.time() - self.t0, 1), 'requests': stats.requests,
            'retried': stats.retried, 'failures': stats.failures, 'ops': stats.ops,
            'stuck': stuck, 'pins': pins,
            'kept_volumes': len(stats.kept_volumes), 'kept_backups': len(stats.kept_backups)})
        problems = list(stats.failures) + ['stuck or in error: %s' % s for s in stuck]
        problems += ['pins: %s' % p for p in pins['problems']]
        if not stats.ops.get('volumes created'):
            problems.append('the clients created nothing')
        result['ok'] = not problems
        return result

    def _stuck(self):
        engine = sa.create_engine(self.db.url, pool_size=1)
        found = []
        try:
            deadline = time.time() + 60
            while True:
                found = []
                with engine.connect() as conn:
                    for table, resting in RESTING.items():
                        where = 'host' if table != 'snapshots' else 'volume_id'
                        for rid, status, at in conn.execute(sa.text(
                                'SELECT id, status, %s FROM %s WHERE deleted = :f' % (
                                    where, table)), {'f': False}):
                            if status not in resting:
                                found.append('%s %s %s (%s %s)' % (table[:-1], rid, status,
                                                                   where, at))
                    for rid, op, status, sid in conn.execute(sa.text(
                            'SELECT resource_id, operation, status, service_id FROM workers')):
                        found.append('work record %s %s %s (service %s)' % (rid, op, status,
                                                                           sid))
                transitional = [f for f in found if ' error' not in f]
                if not transitional or time.time() > deadline:
                    return found
                time.sleep(1)
        finally:
            engine.dispose()

    def _pin_evidence(self):
        """What the new services' logs say they sent (rpc.get_pins logs each pin it
        reads): the previous release's versions before the SIGHUP while old services
        ran, this checkout's after it, for every binary whose versions moved."""
        from blockstore.common import rpc
        from blockstore.backup import rpcapi as backup_rpcapi
        from blockstore.objects import base as obj_base
        from blockstore.scheduler import rpcapi as scheduler_rpcapi
        from blockstore.volume import rpcapi as volume_rpcapi
        old = rpc.RELEASES[self.record['release']]
        objects_now = obj_base.OBJ_VERSIONS.get_current()
        current = {'blockstore-volume': volume_rpcapi.VolumeAPI.RPC_API_VERSION,
                   'blockstore-scheduler': scheduler_rpcapi.SchedulerAPI.RPC_API_VERSION,
                   'blockstore-backup': backup_rpcapi.BackupAPI.RPC_API_VERSION}
        evidence = {'versions': {b: '%s -> %s' % (old['rpc'][b], current[b]) for b in current},
                    'objects': '%s -> %s' % (old['objects'], objects_now),
                    'before_sighup': {}, 'after_sighup': {}, 'problems': []}
        for name, offset in self.hup_offsets.items():
            text = self.site.read_log(name)
            for part, chunk in (('before_sighup', text[:offset]),
                                ('after_sighup', text[offset:])):
                for line in chunk.splitlines():
                    if 'RPC pins for ' not in line:
                        continue
                    tail = line.split('RPC pins for ', 1)[1]
                    binary = tail.split(':', 1)[0]
                    cap = tail.split('version cap ', 1)[1].split(' ', 1)[0]
                    objs = tail.split('objects ', 1)[1].split(' ', 1)[0]
                    evidence[part].setdefault(binary, set()).add((name, cap, objs))
        before, after = evidence['before_sighup'], evidence['after_sighup']
        for binary, now in current.items():
            then = old['rpc'][binary]
            for name, cap, objs in sorted(after.get(binary, ())):
                if (cap, objs) != (now, objects_now):
                    evidence['problems'].append('%s still sends %s at %s/%s after SIGHUP' % (
                        name, binary, cap, objs))
            if (then, old['objects']) == (now, objects_now):
                continue        # nothing added since the previous release
            pinned = [n for n, cap, objs in before.get(binary, ())
                      if (cap, objs) == (then, old['objects'])]
            if not pinned:
                evidence['problems'].append(
                    'no new service sent %s at the previous release\'s %s/%s while old '
                    'ones ran: its compatibility branch was not exercised' % (
                        binary, then, old['objects']))
            if not after.get(binary):
                evidence['problems'].append('nothing sent to %s after SIGHUP' % binary)
        # The API talks to the volume services all the time: its pins must show both.
        if not any(n == 'api#2' for n, _, _ in after.get('blockstore-volume', ())):
            evidence['problems'].append('the new API logged no volume pins after SIGHUP')
        for part in ('before_sighup', 'after_sighup'):
            evidence[part] = {b: sorted(v) for b, v in evidence[part].items()}
        return evidence


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='drill.py', description='Rolling upgrade from the previous release '
        '(tools/upgrade/previous-release) to this checkout, with clients working '
        'throughout. See the module docstring for the order and the verdict.')
    p.add_argument('--db', choices=('mysql', 'postgresql'), default='mysql',
                   help='database server (default: MariaDB on 127.0.0.1:3306)')
    p.add_argument('--clients', type=int, default=3, help='client threads (default 3)')
    p.add_argument('--phase-seconds', type=float, default=10,
                   help='seconds the clients work in each phase (default 10)')
    p.add_argument('--cache', help='cache of the previous release\'s virtualenv '
                   '(default $BLOCKSTORE_UPGRADE_CACHE or %s)' % oldrelease.DEFAULT_CACHE)
    p.add_argument('--workdir', help='directory for config, logs and volumes '
                   '(default: a temporary one, removed after)')
    p.add_argument('--keep', action='store_true',
                   help='keep the work directory and the database')
    p.add_argument('--fail-fast', action='store_true',
                   help='stop at the first failed client request')
    p.add_argument('--debug', action='store_true', help='services log at debug level')
    p.add_argument('--json', help='write the figures to this file')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    random.seed()
    if not depfix.port_open('127.0.0.1', 5672):
        log('RabbitMQ is not listening on 127.0.0.1:5672')
        return 2
    drill = Drill(args)
    try:
        result = drill.run()
    except (oldrelease.OldReleaseError, dbfix.DatabaseUnavailable) as e:
        log('cannot run: %s' % e)
        return 2
    except DrillFailure as e:
        result = dict(drill.result, ok=False, error=str(e),
                      failures=drill.stats.failures if hasattr(drill, 'stats') else [])
    text = json.dumps(result, indent=2, default=str)
    if args.json:
        with open(args.json, 'w') as f:
            f.write(text)
    print(text)
    log('verdict: %s' % ('PASS' if result.get('ok') else 'FAIL'))
    return 0 if result.get('ok') else 1


if __name__ == '__main__':
    sys.exit(main())
