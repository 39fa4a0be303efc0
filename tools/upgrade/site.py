"""The upgrade drill's deployment: one config, processes of either release, their logs.

Each process gets its own log file (logs/NAME.log) so that the drill can read what one
service said; volume services are two nodes of one cluster on one shared directory.
"""

import os
import signal
import subprocess
import sys
import time
import uuid

import requests

from tests.fixtures import deployment as depfix

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class DrillFailure(Exception):
    pass


def log(msg):
    sys.stderr.write('[drill %s] %s\n' % (time.strftime('%H:%M:%S'), msg))
    sys.stderr.flush()


class Site:
    """The deployment: one config file, processes of either release, their logs."""

    SERVICES = {'api': 'api', 'scheduler': 'scheduler', 'vol-a': 'volume',
                'vol-b': 'volume', 'backup-a': 'backup', 'backup-b': 'backup'}

    def __init__(self, workdir, db_url, old, backend='file1', debug=False):
        self.debug = debug
        self.workdir = workdir
        self.db_url = db_url
        self.old = old
        self.uid = uuid.uuid4().hex[:8]
        self.host = 'drill-%s' % self.uid
        self.cluster = 'drillc-%s' % self.uid
        self.backend = backend
        self.volumes_dir = os.path.join(workdir, 'volumes')
        self.config = os.path.join(workdir, 'blockstore.conf')
        self.logs = os.path.join(workdir, 'logs')
        self.procs = {}     # name -> (Popen, release)
        self.started_before = {}    # name -> 'Started' lines in its log before this start
        self.api_port = None

    def write_config(self):
        os.makedirs(self.logs, exist_ok=True)
        os.makedirs(self.volumes_dir, exist_ok=True)
        state = os.path.join(self.workdir, 'state')
        os.makedirs(state, exist_ok=True)
        with open(self.config, 'w') as f:
            f.write('\n'.join([
                '[DEFAULT]',
                'host = %s' % self.host,
                'state_path = %s' % state,
                'osapi_volume_listen = 127.0.0.1',
                'enabled_backends = %s' % self.backend,
                'report_interval = 1',
                'periodic_interval = 2',
                # Longer than a service restart on a loaded machine: a restarted
                # cluster member is not taken for dead.
                'service_down_time = 30',
                'volume_topic = drill-volume-%s' % self.uid,
                'scheduler_topic = drill-scheduler-%s' % self.uid,
                'backup_topic = drill-backup-%s' % self.uid,
                'control_exchange = drill-%s' % self.uid,
                'transport_url = %s' % depfix.RABBIT_URL,
                'debug = %s' % self.debug,
                '[oslo_messaging_rabbit]',
                # A stopping RPC server drops what the broker pushed to it meanwhile; with
                # one message in flight per consumer a restart loses at most that one
                # (see README, Upgrades).
                'rabbit_qos_prefetch_count = 1',
                '[database]',
                'connection = %s' % self.db_url,
                '[backup]',
                'backup_posix_path = %s' % os.path.join(self.workdir, 'backups'),
                'backup_use_export = never',
                'backup_workers = 1',
                '[%s]' % self.backend,
                'volume_driver = file',
                'volume_backend_name = %s' % self.backend,
                'file_volumes_dir = %s' % self.volumes_dir,
            ]) + '\n')

    def _override(self, name, port=None):
        lines = ['[DEFAULT]', 'log_file = %s' % self.log_path(name)]
        if port:
            lines.append('osapi_volume_listen_port = %d' % port)
        kind = self.SERVICES.get(name.split('#')[0])
        if kind == 'volume':
            # Two volume services of one backend on one shared directory: a cluster
            # (its own host each, as two nodes).
            lines += ['host = %s' % self.service_host(name), 'cluster = %s' % self.cluster]
        elif kind == 'backup':
            lines.append('host = %s' % self.service_host(name))
        path = os.path.join(self.workdir, '%s.conf' % name.replace('#', '-'))
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def service_host(self, name):
        """[DEFAULT] host of a volume or backup service (volume services add @backend)."""
        return '%s-%s' % (self.host, name.split('#')[0])

    def log_path(self, name):
        return os.path.join(self.logs, '%s.log' % name.replace('#', '-'))

    def command(self, release, module, *args, check=True, timeout=300):
        """Run ``python -m module args`` of a release (blockstore-manage, -status)."""
        python, env = self._runtime(release)
        # blockstore-status takes its options after "upgrade check".
        argv = list(args) + ['--config-file', self.config]
        if module == 'blockstore.cmd.manage':
            argv = ['--config-file', self.config] + list(args)
        p = subprocess.run([python, '-m', module] + argv, capture_output=True, text=True,
                           env=env, cwd=self.workdir, timeout=timeout)
        if check and p.returncode != 0:
            raise DrillFailure('%s %s (%s) exited %d:\n%s' % (module, ' '.join(args), release,
                                                             p.returncode,
                                                             (p.stdout + p.stderr)[-3000:]))
        return p

    def _runtime(self, release):
        if release == 'old':
            return self.old.python, self.old.env()
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''))
        return sys.executable, env

    def start(self, name, release, port=None):
        """Start service ``name`` (api, scheduler, vol-a, vol-b, backup; 'api#2' is a
        second API) of ``release`` ('old' or 'new')."""
        service = self.SERVICES[name.split('#')[0]]
        python, env = self._runtime(release)
        self.started_before[name] = self.log_count(name, 'Started blockstore-')
        out = open(os.path.join(self.logs, '%s.out' % name.replace('#', '-')), 'ab')
        proc = subprocess.Popen(
            [python, '-m', 'blockstore.cmd.%s' % service, '--config-file', self.config,
             '--config-file', self._override(name, port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir,
            start_new_session=True, env=env)
        out.close()
        self.procs[name] = (proc, release)
        return proc

    def wait_started(self, name, timeout=120):
        """Until this process of the service logged that it started (a replaced
        service's log file also holds its predecessor's lines)."""
        proc, _ = self.procs[name]
        since = self.started_before.get(name, 0)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise DrillFailure('%s exited with %s:\n%s' % (name, proc.returncode,
                                                              self.tail(name)))
            if self.log_count(name, 'Started blockstore-') > since:
                return
            time.sleep(0.2)
        raise DrillFailure('%s did not start in %ds:\n%s' % (name, timeout, self.tail(name)))

    def wait_api(self, endpoint, name, timeout=120):
        proc, _ = self.procs[name]
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise DrillFailure('%s exited:\n%s' % (name, self.tail(name)))
            try:
                if requests.get(endpoint + '/', timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise DrillFailure('API %s did not answer on %s' % (name, endpoint))

    def stop(self, name, timeout=60):
        proc, _ = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log('%s did not stop on SIGTERM in %ds; SIGKILL' % (name, timeout))
                proc.kill()
                proc.wait(10)

    def stop_all(self):
        for name in list(self.procs):
            try:
                self.stop(name, timeout=30)
            except Exception as e:
                log('stopping %s: %s' % (name, e))

    def hup(self, name):
        self.procs[name][0].send_signal(signal.SIGHUP)

    def read_log(self, name):
        try:
            with open(self.log_path(name), errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def log_count(self, name, text):
        return self.read_log(name).count(text)

    def tail(self, name):
        out = os.path.join(self.logs, '%s.out' % name.replace('#', '-'))
        text = ''
        for path in (out, self.log_path(name)):
            try:
                with open(path, errors='replace') as f:
                    text += f.read()[-2500:]
            except FileNotFoundError:
                pass
        return text
