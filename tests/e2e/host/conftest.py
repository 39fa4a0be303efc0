"""Host tier: the LVM driver and tgt target against the real tools on this host.

Everything here is real: a sparse file on a loop device as the only PV of a
uniquely named VG (``bs-e2e-<pid>-<hex>``) with a private lvm.conf
(``activation = 0``: this kernel has no device-mapper), loop devices over LV
extents, a tgtd started by the test on free ports, and userspace initiators
(qemu-io / qemu-img with qemu's libiscsi block driver, iscsi-inq).

Isolation and cleanup: every LVM command carries ``--devices <our loop>``;
tgtd gets its own control port; finalizers remove exactly what a test
created -- the VG and PV, loop devices matched by the PV file's inode, the
PV file, the tgtd by PID, target files -- even when the test failed.
Without root or a tool the tests skip, naming what is missing.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time

import pytest
from oslo_config import cfg

from blockstore.common import conf as bs_conf
from blockstore.volume.drivers import lvm_datapath

GiB = 1024 ** 3
TOOLS = {
    'losetup': 'util-linux', 'pvcreate': 'lvm2', 'lvs': 'lvm2', 'tgtd': 'tgt',
    'tgtadm': 'tgt', 'qemu-io': 'qemu-utils', 'qemu-img': 'qemu-utils',
    'iscsi-inq': 'libiscsi-bin', 'iscsi-ls': 'libiscsi-bin',
}
TGTD_SOCKET_DIR = '/var/run/tgtd'
LVM_ENV = {'LVM_SUPPRESS_FD_WARNINGS': '1', 'LC_ALL': 'C'}


def require_host(*tools):
    """Skip unless root and every tool is installed."""
    if os.geteuid() != 0:
        pytest.skip('host tier needs root (loop devices, LVM, tgtd)')
    missing = ['%s (Debian package %s)' % (t, TOOLS.get(t, '?')) for t in tools
               if shutil.which(t) is None]
    if missing:
        pytest.skip('host tier needs: ' + ', '.join(missing))
    if not os.path.exists('/dev/loop-control'):
        pytest.skip('host tier needs loop devices (/dev/loop-control)')


def run(*argv, env=None, check=True, timeout=60):
    """Run a command for the test itself (not through the code under test)."""
    full_env = dict(os.environ, **LVM_ENV)
    full_env.update(env or {})
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (%d): %s' % (' '.join(map(str, argv)),
                                                     proc.returncode, proc.stderr))
    return proc


class HostVG:
    """A throw-away VG on a sparse file; also reads LV layouts independently of
    the driver (its own lvs/pvs/vgs calls) for inspection."""

    SIZE_GB = 12

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.name = 'bs-e2e-%d-%s' % (os.getpid(), secrets.token_hex(3))
        self.pv_file = os.path.join(self.workdir, 'pv.img')
        self.conf_dir = os.path.join(self.workdir, 'lvm')
        os.makedirs(self.conf_dir, exist_ok=True)
        with open(os.path.join(self.conf_dir, 'lvm.conf'), 'w') as f:
            f.write('global { activation = 0 }\n')
        self.volumes_dir = os.path.join(self.workdir, 'targets')

    # -- queries for inspectors ------------------------------------------------

    def pv_device(self):
        """The loop device over the PV file (the driver attaches it), or None."""
        return next(iter(self.loops_of_file(offset=0, sizelimit=0)), None)

    def loops_of_file(self, offset=None, sizelimit=None):
        """Names of the loop devices over our PV file (optionally one range)."""
        if not os.path.exists(self.pv_file):
            return []
        dev, ino = lvm_datapath.file_identity(self.pv_file)
        out = run('losetup', '--json', '--list', '-O', lvm_datapath.LoopDevices.LIST_COLUMNS)
        found = []
        for info in lvm_datapath.LoopDevices.parse_list(out.stdout):
            if info.back_ino != ino or info.back_dev != dev:
                continue
            if offset is not None and (info.offset, info.sizelimit) != (offset, sizelimit):
                continue
            found.append(info.name)
        return found

    def lvm(self, *args, check=True):
        pv = self.pv_device()
        argv = [args[0]] + (['--devices', pv] if pv else []) + list(args[1:])
        return run(*argv, env={'LVM_SYSTEM_DIR': self.conf_dir}, check=check)

    def report(self, *args):
        out = self.lvm(*args[:1], '--noheadings', '--units', 'b', '--nosuffix',
                       '--separator', '|', *args[1:]).stdout
        return [line.strip().split('|') for line in out.splitlines() if line.strip()]

    def lv_names(self):
        return [row[0] for row in self.report('lvs', '-o', 'lv_name', self.name)]

    def lv_size(self, name):
        rows = self.report('lvs', '-o', 'lv_size', '%s/%s' % (self.name, name))
        return int(rows[0][0])

    def lv_exists(self, name):
        return name in self.lv_names()

    def lv_byte_range(self, name):
        """``(offset, size)`` of LV ``name`` inside the PV file."""
        (seg,) = self.report('lvs', '-o', 'seg_pe_ranges', '%s/%s' % (self.name, name))
        first, last = seg[0].rpartition(':')[2].split('-')
        (pe_start,) = self.report('pvs', '-o', 'pe_start', self.pv_device())[0]
        (extent,) = self.report('vgs', '-o', 'vg_extent_size', self.name)[0]
        return (int(pe_start) + int(first) * int(extent),
                (int(last) - int(first) + 1) * int(extent))

    def read_pv(self, offset, length):
        with open(self.pv_file, 'rb') as f:
            f.seek(offset)
            return f.read(length)

    @contextlib.contextmanager
    def lv_loop(self, name):
        """A loop device over LV ``name``'s extents, detached afterwards."""
        offset, size = self.lv_byte_range(name)
        dev = run('losetup', '--show', '-f', '-o', offset, '--sizelimit', size,
                  self.pv_file).stdout.strip()
        try:
            yield dev
        finally:
            run('losetup', '-d', dev, check=False)

    # -- tear-down -------------------------------------------------------------

    def teardown(self):
        """Remove the VG, the PV label, our loop devices and the PV file."""
        errors = []
        if self.pv_device():
            for argv in (('vgremove', '-f', self.name), ('pvremove', '-y', self.pv_device())):
                proc = self.lvm(*argv, check=False)
                if proc.returncode and 'not found' not in proc.stderr:
                    errors.append(proc.stderr)
        for dev in self.loops_of_file():
            run('losetup', '-d', dev, check=False)
        leftovers = self.loops_of_file()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.pv_file)
        shutil.rmtree(self.volumes_dir, ignore_errors=True)
        if leftovers:
            errors.append('loop devices still attached: %s' % leftovers)
        return errors


@pytest.fixture
def host_vg(tmp_path):
    """A HostVG whose VG the driver creates on first do_setup; removed after."""
    require_host('losetup', 'pvcreate', 'lvs')
    vg = HostVG(tmp_path)
    yield vg
    errors = vg.teardown()
    assert not errors, errors


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def free_control_port():
    """An unused tgtd control port (tgtd accepts 0..32767 for -C)."""
    for _ in range(100):
        port = 1024 + secrets.randbelow(32767 - 1024)
        if not os.path.exists(os.path.join(TGTD_SOCKET_DIR, 'socket.%d' % port)):
            return port
    raise RuntimeError('no free tgtd control port')


class Tgtd:
    """A tgtd on 127.0.0.1, started and stopped by PID."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.port = free_tcp_port()
        self.control_port = free_control_port()
        self.proc = None

    def tgtadm(self, *args, check=True):
        return run('tgtadm', '-C', self.control_port, *args, check=check)

    def start(self):
        log = open(os.path.join(self.workdir, 'tgtd.log'), 'ab')
        self.proc = subprocess.Popen(
            ['tgtd', '-f', '-C', str(self.control_port), '--iscsi',
             'portal=127.0.0.1:%d' % self.port],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('tgtd exited with %s; see %s/tgtd.log'
                                   % (self.proc.returncode, self.workdir))
            if self.tgtadm('--op', 'show', '--mode', 'sys', check=False).returncode == 0 \
                    and self._listening():
                return self
            time.sleep(0.05)
        raise RuntimeError('tgtd did not come up on control port %d' % self.control_port)

    def _listening(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            return s.connect_ex(('127.0.0.1', self.port)) == 0

    def target_iqns(self):
        out = self.tgtadm('--lld', 'iscsi', '--op', 'show', '--mode', 'target').stdout
        return [line.split(': ', 1)[1].strip() for line in out.splitlines()
                if line.startswith('Target ')]

    def kill(self):
        """Crash it: SIGKILL the PID we started (a tgtd "restart" scenario)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._remove_socket()

    def stop(self):
        """tgtd ignores SIGTERM: offline, force-delete targets, delete the system."""
        if not self.proc or self.proc.poll() is not None:
            self._remove_socket()
            return
        self.tgtadm('--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline',
                    check=False)
        out = self.tgtadm('--lld', 'iscsi', '--op', 'show', '--mode', 'target',
                          check=False).stdout
        for line in out.splitlines():
            if line.startswith('Target '):
                tid = line.split()[1].rstrip(':')
                self.tgtadm('--lld', 'iscsi', '--op', 'delete', '--mode', 'target', '--tid',
                            tid, '--force', check=False)
        self.tgtadm('--op', 'delete', '--mode', 'system', check=False)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._remove_socket()

    def _remove_socket(self):
        for suffix in ('', '.lock'):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(TGTD_SOCKET_DIR, 'socket.%d%s' % (self.control_port,
                                                                         suffix)))


@pytest.fixture
def tgtd(tmp_path):
    require_host('tgtd', 'tgtadm')
    daemon = Tgtd(tmp_path)
    for attempt in range(3):
        try:
            daemon.start()
            break
        except RuntimeError:
            daemon.stop()
            if attempt == 2:
                raise
            daemon = Tgtd(tmp_path)  # a port was taken meanwhile: new ports
    yield daemon
    daemon.stop()


def backend_conf(host_vg, tgtd=None, **overrides):
    """A real oslo.config group for the LVM driver on ``host_vg``."""
    conf = cfg.ConfigOpts()
    conf.register_opts(bs_conf.backend_opts, group='lvm-e2e')
    values = dict(volume_driver='lvm', volume_backend_name='lvm-e2e',
                  volume_group=host_vg.name, lvm_activation=False,
                  lvm_conf_dir=host_vg.conf_dir, lvm_pv_loop_file=host_vg.pv_file,
                  lvm_pv_loop_size_gb=HostVG.SIZE_GB, volumes_dir=host_vg.volumes_dir,
                  target_ip_address='127.0.0.1', storage_command_timeout=60)
    if tgtd is not None:
        values.update(target_port=tgtd.port, tgt_control_port=tgtd.control_port)
    values.update(overrides)
    for key, value in values.items():
        conf.set_override(key, value, group='lvm-e2e')
    conf([], project='blockstore-e2e', default_config_files=[])
    return conf['lvm-e2e']


def service_backend_section(vg, tgtd, backend='lvm1'):
    """The [backend] section of blockstore.conf for an LVM backend on ``vg`` exported by
    ``tgtd`` (the tests that run blockstore itself on the host tier)."""
    return '''
        [%(b)s]
        volume_group = %(vg)s
        lvm_conf_dir = %(conf_dir)s
        lvm_activation = False
        lvm_pv_loop_file = %(pv)s
        lvm_pv_loop_size_gb = %(size)d
        target_helper = tgtadm
        target_ip_address = 127.0.0.1
        target_port = %(port)d
        tgt_control_port = %(control)d
        volumes_dir = %(volumes_dir)s
        storage_command_timeout = 60
        ''' % dict(b=backend, vg=vg.name, conf_dir=vg.conf_dir, pv=vg.pv_file,
                   size=HostVG.SIZE_GB, port=tgtd.port, control=tgtd.control_port,
                   volumes_dir=vg.volumes_dir)
