"""The recorded previous release and the pin that names it.

tools/upgrade/previous-release names the commit a rolling upgrade starts from;
rpc.RELEASES must pin exactly the versions that commit runs, or an operator's
``upgrade_level_release`` would let new services send what old ones cannot read
(or hold back what they could). The versions are read from the commit itself.
"""

import configparser
import io
import os
import re
import subprocess

import pytest

import blockstore
from blockstore.cmd import manage
from blockstore.common import rpc
from tools.upgrade.oldrelease import read_record  # the drill reads the record the same way

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

RPCAPIS = {'blockstore-volume': 'blockstore/volume/rpcapi.py',
           'blockstore-scheduler': 'blockstore/scheduler/rpcapi.py',
           'blockstore-backup': 'blockstore/backup/rpcapi.py'}


def _git_show(commit, path):
    try:
        return subprocess.run(['git', '-C', REPO, 'show', '%s:%s' % (commit, path)],
                              check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        pytest.skip('git is not installed: cannot read the previous release commit')
    except subprocess.CalledProcessError as e:
        if 'does not exist' in e.stderr or 'exists on disk, but not in' in e.stderr:
            return None     # the file did not exist in that release
        raise


@pytest.fixture(scope='module')
def previous():
    record = read_record()
    commit = record['commit']
    has = subprocess.run(['git', '-C', REPO, 'cat-file', '-e', commit + '^{commit}'],
                         capture_output=True)
    if has.returncode != 0:
        pytest.skip('git history is absent (shallow clone or no .git): commit %s of the '
                    'previous release cannot be read' % commit)
    return record


def test_record_names_a_full_commit_and_release():
    record = read_record()
    assert re.fullmatch(r'[0-9a-f]{40}', record['commit'])
    assert record['release'] in rpc.RELEASES
    assert record['version'].startswith(record['release'] + '.')


def test_release_entry_matches_the_recorded_commit(previous):
    commit = previous['commit']
    entry = rpc.RELEASES[previous['release']]
    declared = {}
    for binary, path in RPCAPIS.items():
        text = _git_show(commit, path)
        if text is not None:
            declared[binary] = re.search(r"RPC_API_VERSION = '([0-9.]+)'", text).group(1)
    assert entry['rpc'] == declared
    history = re.findall(r"OBJ_VERSIONS\.add\('([0-9.]+)'",
                         _git_show(commit, 'blockstore/objects/base.py'))
    assert entry['objects'] == history[-1]


def test_version_moved_past_the_previous_release(previous):
    cfg = configparser.ConfigParser()
    cfg.read(os.path.join(REPO, 'setup.cfg'))
    version = cfg['metadata']['version']
    assert version == blockstore.__version__
    old_cfg = configparser.ConfigParser()
    old_cfg.read_string(_git_show(previous['commit'], 'setup.cfg'))
    assert old_cfg['metadata']['version'] == previous['version']

    def key(v):
        return tuple(int(p) for p in v.split('.'))
    assert key(version) > key(previous['version'])
    out = io.StringIO()
    manage.main(['version'], out=out)
    assert out.getvalue().strip() == version
