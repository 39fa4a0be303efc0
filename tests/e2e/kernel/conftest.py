"""Kernel tier: the LVM driver with LIO and the kernel iSCSI initiator, in a QEMU guest.

On the host only ``test_kernel_tier.py`` is collected: it boots one guest
(``guest/run.sh``) that runs ``inside/`` with BLOCKSTORE_IN_GUEST=1 set.
"""

import os

IN_GUEST = os.environ.get('BLOCKSTORE_IN_GUEST') == '1'

# The inside-suite needs the guest's kernel (device-mapper, LIO, iscsi_tcp, /dev/vda).
collect_ignore = [] if IN_GUEST else ['inside']


_KERNEL_TEST = 'test_kernel_tier.py::test_inside_suite_in_guest'


def pytest_collection_modifyitems(session, config, items):
    """Kernel-tier suites last, and their guests started now, in the background."""
    if IN_GUEST:
        return
    kernel = [i for i in items if _KERNEL_TEST in i.nodeid]
    if not kernel:
        return
    items[:] = [i for i in items if _KERNEL_TEST not in i.nodeid] + kernel
    if config.getoption('collectonly'):
        return
    from tests.e2e.kernel import test_kernel_tier as tier
    if tier.can_run() is not None or tier.RUNS is not None:
        return
    import tempfile
    suites = [i.callspec.params['suite'] for i in kernel]
    base = tempfile.mkdtemp(prefix='kernel-tier-')
    tier.RUNS = tier.GuestRuns(suites, base).start()
    config._kernel_tier_base = base


def pytest_unconfigure(config):
    """Stop any guest still running (by PID) and remove the runs' scratch directory."""
    from tests.e2e.kernel import test_kernel_tier as tier
    if tier.RUNS is not None:
        tier.RUNS.stop()
        tier.RUNS = None
    base = getattr(config, '_kernel_tier_base', None)
    if base:
        import shutil
        shutil.rmtree(base, ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    """The guests' times, for the notes (their tests' output is captured)."""
    from tests.e2e.kernel import test_kernel_tier as tier
    if tier.RUNS is None:
        return
    for suite, found in sorted(tier.RUNS.results.items()):
        if isinstance(found, dict):
            terminalreporter.write_line(
                'kernel tier %s: build %.1f s, guest %.1f s, exit %s'
                % (suite, found['t_build'], found['t_run'], found['rc']))
        else:
            terminalreporter.write_line('kernel tier %s: %s' % (suite, found))
