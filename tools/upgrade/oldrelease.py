"""The previous release, installed to run beside this checkout (tools/upgrade/drill.py).

``prepare(commit)`` checks out the commit named by tools/upgrade/previous-release as a
git worktree in a temporary directory and gives it a virtual environment with that
release's dependencies. The environment is cached under
``/var/tmp/blockstore-upgrade/<commit>/venv`` (``BLOCKSTORE_UPGRADE_CACHE`` moves it)
and reused only once verified: it was completed for that commit and the same
install_requires, and its python imports blockstore from the worktree with the RPC and
object versions that rpc.RELEASES records for the release. The previous release's code
always runs from the worktree (``PYTHONPATH``), which ``cleanup()`` removes.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORD = os.path.join(REPO, 'tools', 'upgrade', 'previous-release')
DEFAULT_CACHE = '/var/tmp/blockstore-upgrade'

_PROBE = '''
import json, blockstore
from blockstore.volume import rpcapi as v
from blockstore.scheduler import rpcapi as s
from blockstore.backup import rpcapi as b
from blockstore.objects import base
print(json.dumps({"file": blockstore.__file__, "version": blockstore.__version__,
                  "rpc": {"blockstore-volume": v.VolumeAPI.RPC_API_VERSION,
                          "blockstore-scheduler": s.SchedulerAPI.RPC_API_VERSION,
                          "blockstore-backup": b.BackupAPI.RPC_API_VERSION},
                  "objects": base.OBJ_VERSIONS.get_current()}))
'''


class OldReleaseError(Exception):
    pass


def read_record(path=RECORD):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                key, _, value = line.partition('=')
                values[key.strip()] = value.strip()
    return values


def _git(*args, **kwargs):
    return subprocess.run(['git', '-C', REPO] + list(args), check=True, capture_output=True,
                          text=True, **kwargs).stdout


def has_commit(commit):
    try:
        _git('cat-file', '-e', commit + '^{commit}')
        return True
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False


class OldRelease:
    """A checked-out, installed previous release: ``python`` runs its code."""

    def __init__(self, record, cache_root=None, log=print):
        self.record = record
        self.commit = record['commit']
        self.cache = os.path.join(cache_root or os.environ.get('BLOCKSTORE_UPGRADE_CACHE',
                                                               DEFAULT_CACHE), self.commit)
        self.venv = os.path.join(self.cache, 'venv')
        self.python = os.path.join(self.venv, 'bin', 'python')
        self.log = log
        self.tmp = None
        self.src = None
        self.versions = None
        self.built = False

    def env(self):
        """Environment of a process of the previous release."""
        env = dict(os.environ, PYTHONPATH=self.src)
        env.pop('VIRTUAL_ENV', None)
        return env

    def prepare(self):
        if not has_commit(self.commit):
            raise OldReleaseError('commit %s (the previous release) is not in this '
                                  'repository: git history is absent or shallow' % self.commit)
        self.tmp = tempfile.mkdtemp(prefix='bs-upgrade-old-')
        self.src = os.path.join(self.tmp, 'src')
        _git('worktree', 'add', '--detach', self.src, self.commit)
        os.makedirs(os.path.dirname(self.cache), exist_ok=True)
        with open(self.cache + '.lock', 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)      # one build per commit at a time
            if not self._cache_valid():
                self._build()
        self.versions = self.probe()
        self._check_versions()
        return self

    def _requires_digest(self):
        with open(os.path.join(self.src, 'setup.cfg'), 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()

    def _stamp_path(self):
        return os.path.join(self.cache, 'stamp.json')

    def _cache_valid(self):
        try:
            with open(self._stamp_path()) as f:
                stamp = json.load(f)
        except (OSError, ValueError):
            return False
        if stamp != {'commit': self.commit, 'setup_cfg': self._requires_digest(),
                     'python': sys.version.split()[0]}:
            self.log('cache %s is for another build; rebuilding' % self.cache)
            return False
        try:
            self.probe()
        except OldReleaseError as e:
            self.log('cache %s does not work (%s); rebuilding' % (self.cache, e))
            return False
        self.log('reusing the verified environment of %s in %s' % (self.commit[:12],
                                                                   self.venv))
        return True

    def _build(self):
        self.log('installing release %s (%s) into %s' % (self.record.get('version'),
                                                        self.commit[:12], self.venv))
        shutil.rmtree(self.cache, ignore_errors=True)
        os.makedirs(self.cache)
        subprocess.run(['python3', '-m', 'venv', self.venv], check=True)
        # Not editable: the worktree goes away; its code runs from the worktree of each
        # drill through PYTHONPATH, the installed copy only brings the dependencies.
        p = subprocess.run([self.python, '-m', 'pip', 'install', '--quiet',
                            '--disable-pip-version-check', self.src],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise OldReleaseError('pip install of %s failed:\n%s' % (
                self.commit, (p.stdout + p.stderr)[-3000:]))
        with open(self._stamp_path(), 'w') as f:
            json.dump({'commit': self.commit, 'setup_cfg': self._requires_digest(),
                       'python': sys.version.split()[0]}, f)
        self.built = True

    def probe(self):
        """What the previous release's python runs: file and versions of its blockstore."""
        p = subprocess.run([self.python, '-c', _PROBE], capture_output=True, text=True,
                           env=self.env(), cwd=self.tmp, timeout=120)
        if p.returncode != 0:
            raise OldReleaseError('its python cannot import blockstore: %s' % p.stderr[-1500:])
        found = json.loads(p.stdout.strip().splitlines()[-1])
        if not found['file'].startswith(self.src + os.sep):
            raise OldReleaseError('its python imports blockstore from %s, not the worktree'
                                  % found['file'])
        return found

    def _check_versions(self):
        from blockstore.common import rpc
        entry = rpc.RELEASES.get(self.record['release'])
        if entry is None:
            raise OldReleaseError('rpc.RELEASES has no entry %r' % self.record['release'])
        if (self.versions['rpc'], self.versions['objects']) != (entry['rpc'],
                                                               entry['objects']):
            raise OldReleaseError('commit %s runs %s, but RELEASES[%r] says %s' % (
                self.commit, self.versions, self.record['release'], entry))
        if self.versions['version'] != self.record['version']:
            raise OldReleaseError('commit %s is version %s, the record says %s' % (
                self.commit, self.versions['version'], self.record['version']))

    def cleanup(self):
        if self.src and os.path.isdir(self.src):
            try:
                _git('worktree', 'remove', '--force', self.src)
            except subprocess.CalledProcessError as e:
                self.log('git worktree remove failed: %s' % e.stderr.strip())
        if self.src:
            try:
                _git('worktree', 'prune')
            except subprocess.CalledProcessError:
                pass
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
