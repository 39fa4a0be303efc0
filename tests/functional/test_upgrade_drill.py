"""The rolling-upgrade drill (tools/upgrade/drill.py) from the recorded previous release
to this checkout, bounded for CI: MariaDB + RabbitMQ, three clients, short phases.

The drill's own verdict is strict (no failed request, nothing stuck, every byte checked,
pins seen before and after SIGHUP); this test runs it and also checks that its figures
show the work happened, so a drill that silently did nothing cannot pass.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures import database as dbfix
from tests.fixtures import deployment as depfix
from tools.upgrade import oldrelease

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _require(condition, msg):
    if not condition:
        if dbfix.in_ci():
            pytest.fail(msg)
        pytest.skip(msg)


def test_rolling_upgrade_drill(tmp_path):
    record = oldrelease.read_record()
    if not oldrelease.has_commit(record['commit']):
        pytest.skip('git history is absent (shallow clone or no .git): the previous '
                    'release %s cannot be checked out' % record['commit'])
    _require(depfix.port_open('127.0.0.1', 5672),
             'RabbitMQ is not listening on 127.0.0.1:5672 (start it: see .ci/run)')
    _require(depfix.port_open('127.0.0.1', 3306),
             'MariaDB is not listening on 127.0.0.1:3306 (start it: see .ci/run)')
    figures = tmp_path / 'drill.json'
    p = subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'upgrade', 'drill.py'),
                        '--db', 'mysql', '--clients', '3', '--phase-seconds', '8',
                        '--workdir', str(tmp_path / 'work'), '--json', str(figures)],
                       capture_output=True, text=True, timeout=540, cwd=REPO)
    assert p.returncode == 0, 'drill failed (exit %d):\n%s\n%s' % (
        p.returncode, p.stdout[-6000:], p.stderr[-6000:])
    result = json.loads(figures.read_text())
    assert result['ok'] and not result['failures'] and not result['stuck']
    ops = result['ops']
    for what in ('volumes created', 'snapshots created', 'volumes extended',
                 'backups created', 'volumes deleted'):
        assert ops.get(what, 0) >= 3, (what, ops)
    # Kept volumes, clones and restores of backups the old release made were read back.
    assert ops['bytes verified'] >= result['kept_volumes'] + ops['backups restored']
    assert result['kept_volumes'] >= 3 and ops['backups restored'] >= 1
    assert result['checks'] == {'upgrade check after db sync': 2,
                                'online migrations --max-count 2 beside old services': 1,
                                'online migrations': 0, 'final upgrade check': 0}
    assert not result['pins']['problems'], result['pins']
    assert result['pins']['before_sighup'].get('blockstore-volume'), result['pins']
    print('upgrade drill: %(seconds)ss, %(requests)d requests, %(retried)d retried' % result)
