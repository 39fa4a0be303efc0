"""Fixtures of the inside-suite; runs only in the guest (BLOCKSTORE_IN_GUEST=1).

The guest's /dev/vda is a fresh sparse disk: each backend's VG is made on it
and removed after. iscsid is started by PID and stopped at the end. Steps of
one scenario class run in order; after a failed step the rest are skipped,
naming the step that failed (classes whose tests are independent, such as
the conformance suite, set ``SCENARIO = False`` and opt out).
"""

import os
import subprocess

import pytest

from tests.e2e.kernel.inside import guest

def pytest_collection_modifyitems(config, items):
    if os.environ.get('BLOCKSTORE_IN_GUEST') != '1':
        skip = pytest.mark.skip(reason='runs only inside the kernel-tier guest '
                                       '(tests/e2e/kernel/test_kernel_tier.py boots it)')
        for item in items:
            item.add_marker(skip)


_failed_steps = {}


def _in_scenario(item):
    return item.cls is not None and getattr(item.cls, 'SCENARIO', True)


def _scenario_key(item):
    callspec = getattr(item, 'callspec', None)
    return (item.cls, tuple(sorted(callspec.params.items())) if callspec else ())


def pytest_runtest_makereport(item, call):
    if call.excinfo is not None and call.when in ('setup', 'call') and _in_scenario(item) \
            and not call.excinfo.errisinstance((pytest.skip.Exception, pytest.xfail.Exception)):
        _failed_steps.setdefault(_scenario_key(item), item.name)


def pytest_runtest_setup(item):
    failed = _failed_steps.get(_scenario_key(item)) if _in_scenario(item) else None
    if failed:
        pytest.skip('an earlier step of this scenario failed: %s' % failed)


@pytest.fixture(scope='session')
def lio_modules():
    """Load LIO's modules, as a storage host does at boot (modules-load.d).

    LioAdm.check_for_setup_error only looks for /sys/kernel/config/target,
    which appears once target_core_mod is loaded; nothing in the driver loads it.
    """
    guest.run('modprobe', '-a', 'target_core_mod', 'target_core_iblock', 'iscsi_target_mod')
    assert os.path.isdir(guest.CONFIGFS_TARGET)


@pytest.fixture(scope='session')
def iscsid():
    """The guest's iscsid, started in the foreground (-f) and stopped by PID."""
    # Its own session: on SIGTERM iscsid signals its whole process group.
    proc = subprocess.Popen(['iscsid', '-f'], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    guest.wait_for(lambda: os.path.exists('/run/iscsid.pid') or guest.iscsiadm_ready(),
                   'iscsid to start', timeout=30)
    yield proc
    guest.logout_all()
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
