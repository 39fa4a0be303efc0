"""Kernel tier: boots a QEMU guest (software emulation) per suite of ``inside/``.

The guest (``guest/build.sh``, ``guest/run.sh``) boots Debian's stock kernel
with the host's / shared read-only over 9p, so it runs this checkout and its
virtualenv at the same paths, with what this host's kernel lacks:
device-mapper (thin pools, snapshots), LIO and the open-iscsi kernel
initiator. The inside-suite writes a JUnit report to a read-write share;
this test fails with the names and messages of the inside failures.

Each run has a hard timeout; on timeout or any failure ``run.sh`` is stopped
by PID and stops its QEMU by PID in turn. The inside tests are split into
suites (:data:`SUITES`), one guest each, run one after the other in a
background thread that starts when collection ends (:class:`GuestRuns`), so
the guests use one CPU while the rest of the session uses the other.
"""

import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
GUEST = os.path.join(HERE, 'guest')
BUILD_TIMEOUT = 300
# One guest's budget (build + run). Guests run in the background while the other
# tests use the other CPU, so this is not bound by pytest-timeout's 600 s. What a
# guest leaves of its budget passes to the next one (GuestRuns.spare): how fast a
# guest runs depends on what the session runs beside it, and the guests together
# stay within len(SUITES) * DEADLINE.
DEADLINE = int(os.environ.get('BLOCKSTORE_GUEST_TIMEOUT', '900'))
#: The inside suites, one guest each: the export scenario (LIO and the kernel
#: initiator), the driver's data operations (the conformance suite thick and
#: thin, thin wipe, migration) and attaching through the API as a compute host
#: does (os-brick's iSCSI connector), and a backup service on another node reading
#: and writing thin volumes over iSCSI exports. Every inside file is in exactly one.
SUITES = {
    'lio-scenario': ['test_lio_lvm.py'],
    'driver-data': ['test_conformance.py', 'test_lvm_data.py', 'test_lvm_backup.py'],
    'attach-osbrick': ['test_attach_osbrick.py'],
    'backup-remote': ['test_backup_remote.py'],
}
#: The guest's scratch disk (/dev/vda, sparse): eight concurrent 1 GiB thick
#: volumes of the conformance suite need more than 8 GiB of extents.
DISK = '12G'
# Debian package of every host tool the guest borrows (its root is the host's /).
TOOLS = {'qemu-system-x86_64': 'qemu-system-x86', 'busybox': 'busybox-static',
         'apt-get': 'apt', 'depmod': 'kmod', 'targetcli': 'targetcli-fb',
         'iscsiadm': 'open-iscsi', 'iscsid': 'open-iscsi', 'lvcreate': 'lvm2',
         'dmsetup': 'dmsetup', 'thin_check': 'thin-provisioning-tools'}


def _require():
    if os.geteuid() != 0:
        pytest.skip('the kernel tier needs root (guest image cache, QEMU with a 9p share of /)')
    if platform.machine() != 'x86_64':
        pytest.skip('the kernel tier boots an amd64 kernel (this is %s)' % platform.machine())
    missing = ['%s (Debian package %s)' % (tool, pkg) for tool, pkg in TOOLS.items()
               if shutil.which(tool) is None]
    if missing:
        pytest.skip('the kernel tier needs: ' + ', '.join(missing))


def _stop(proc):
    """Stop run.sh (it stops its own QEMU by PID), then its process group if needed."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group run.sh leads, nothing else
        proc.wait(timeout=10)


def _junit_summary(path):
    root = ET.parse(path).getroot()
    cases, failed = [], []
    for case in root.iter('testcase'):
        name = '%s::%s' % (case.get('classname'), case.get('name'))
        outcome = 'passed'
        for tag in ('failure', 'error', 'skipped'):
            node = case.find(tag)
            if node is not None:
                outcome = tag
                if tag != 'skipped':
                    failed.append('%s [%s]: %s' % (name, tag, (node.get('message') or '')[:2000]))
                break
        cases.append((name, outcome, float(case.get('time') or 0)))
    return cases, failed


def test_every_inside_file_is_in_one_suite():
    files = sorted(f for f in os.listdir(os.path.join(HERE, 'inside'))
                   if f.startswith('test_') and f.endswith('.py'))
    listed = sorted(f for suite in SUITES.values() for f in suite)
    assert listed == files


class GuestRuns:
    """The inside suites, run one guest at a time in a background thread.

    Under TCG a guest keeps one CPU busy for minutes; the rest of the test
    session needs the other one. So the guests start when collection ends
    (``conftest.py``) and run while the other tests do; the kernel-tier tests
    are moved to the end of the session and only collect the results.
    Every guest is stopped by PID when it times out or the session ends.
    """

    def __init__(self, suites, base_dir):
        import threading
        self.suites = list(suites)
        self.base_dir = base_dir
        self.results = {}
        self.procs = []
        self.stopped = False
        # Seconds the guests so far left of their budgets (the next guest may use them).
        self.spare = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run_all, name='kernel-tier', daemon=True)

    def start(self):
        self._stop_on_sigterm()
        import atexit
        atexit.register(self.stop)
        self.thread.start()
        return self

    def _stop_on_sigterm(self):
        """A session ended by SIGTERM (CI's timeout) stops its guests first.

        The guests run in sessions of their own (so a Ctrl-C of the terminal
        reaches them only through us); without this they would outlive pytest.
        """
        import threading
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.getsignal(signal.SIGTERM)

        def handler(signum, frame):
            self.stop()
            if callable(previous):
                previous(signum, frame)
            else:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
        signal.signal(signal.SIGTERM, handler)

    def stop(self):
        self.stopped = True
        for proc in self.procs:
            _stop(proc)

    def _run_all(self):
        try:
            for suite in self.suites:
                if self.stopped:
                    break
                t0 = time.monotonic()
                try:
                    self.results[suite] = self._run(suite)
                except Exception as e:  # reported by the suite's test
                    self.results[suite] = e
                self.spare = max(0, int(DEADLINE + self.spare - (time.monotonic() - t0)))
        finally:
            self.done.set()

    def _run(self, suite):
        t0 = time.monotonic()
        build = subprocess.run([os.path.join(GUEST, 'build.sh')], capture_output=True,
                               text=True, timeout=BUILD_TIMEOUT, stdin=subprocess.DEVNULL)
        if build.returncode != 0:
            raise AssertionError('guest build failed:\n' + build.stderr[-4000:])
        image = build.stdout.strip().splitlines()[-1]
        t_build = time.monotonic() - t0
        run_timeout = int(DEADLINE + self.spare - t_build)
        work = os.path.join(self.base_dir, suite)
        results = os.path.join(work, 'results')
        os.makedirs(results)
        junit = os.path.join(results, 'junit.xml')
        argv = [os.path.join(GUEST, 'run.sh'), '--timeout', str(run_timeout), '--image', image,
                '--disk', DISK, '--rw', results, '--',
                'env', 'BLOCKSTORE_IN_GUEST=1', sys.executable, '-m', 'pytest',
                # Plugins the inside-suite does not use cost seconds to import under TCG.
                '-p', 'no:cacheprovider', '-p', 'no:schemathesis', '-p', 'no:hypothesispytest',
                '-p', 'no:anyio', '-q', '-rsx', '-v', '--durations=10', '--junitxml=%s' % junit,
                '--timeout=%d' % (run_timeout - 30)]
        argv += [os.path.join(HERE, 'inside', name) for name in SUITES[suite]]
        log_path = os.path.join(work, 'guest.log')
        with open(log_path, 'w') as log:
            proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            self.procs.append(proc)
            try:
                rc = proc.wait(timeout=run_timeout + 20)
            except subprocess.TimeoutExpired:
                rc = 124
            finally:
                _stop(proc)
        t_run = time.monotonic() - t0 - t_build
        with open(log_path, errors='replace') as f:
            output = f.read()
        return {'rc': rc, 'output': output, 'junit': junit, 't_build': t_build,
                't_run': t_run, 'run_timeout': run_timeout}

    def result(self, suite, timeout):
        deadline = time.monotonic() + timeout
        while suite not in self.results and not self.done.is_set():
            if time.monotonic() > deadline:
                raise AssertionError('kernel tier: suite %s did not finish in %d s'
                                     % (suite, timeout))
            time.sleep(1)
        if suite not in self.results:
            raise AssertionError('kernel tier: suite %s never ran (session stopping)' % suite)
        found = self.results[suite]
        if isinstance(found, Exception):
            raise found
        return found


#: Started by conftest.py when kernel-tier tests are selected and can run here.
RUNS = None


def can_run():
    """None if the kernel tier can run on this machine, else why not."""
    try:
        _require()
    except pytest.skip.Exception as e:
        return str(e)
    return None


# The suites run in the background (GuestRuns); waiting for one may take the
# time of all of them, under a CPU shared with the rest of the session.
@pytest.mark.timeout(len(SUITES) * (DEADLINE + BUILD_TIMEOUT) + 120)
@pytest.mark.parametrize('suite', sorted(SUITES))
def test_inside_suite_in_guest(suite):
    _require()
    runs = RUNS
    if runs is None:   # e.g. run alone by node id before the hook could start them
        import tempfile
        runs = GuestRuns([suite], tempfile.mkdtemp(prefix='kernel-tier-')).start()
    found = runs.result(suite, timeout=len(SUITES) * (DEADLINE + BUILD_TIMEOUT) + 60)
    rc, output, junit = found['rc'], found['output'], found['junit']
    sys.stdout.write(output)
    print('kernel tier (%s): build %.1f s, guest run %.1f s' % (suite, found['t_build'],
                                                                 found['t_run']))
    assert rc != 124, 'the guest timed out after %d s:\n%s' % (found['run_timeout'],
                                                                output[-6000:])
    assert os.path.exists(junit), 'no JUnit report from the guest (exit %d):\n%s' % (
        rc, output[-6000:])
    cases, failed = _junit_summary(junit)
    assert not failed, 'inside the guest:\n' + '\n'.join(failed)
    assert any(outcome == 'passed' for _, outcome, _ in cases), cases
    assert rc == 0, 'the guest suite exited %d:\n%s' % (rc, output[-6000:])
