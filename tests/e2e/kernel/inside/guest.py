"""Helpers of the inside-suite: commands, the kernel initiator, bytes on devices.

Everything here goes around the code under test: iscsiadm for the
initiator, ``dd`` with direct I/O for bytes (no page cache between the
iSCSI disk and the LV), lvm commands with the backend's private lvm.conf.
"""

import glob
import os
import random
import subprocess
import time

MiB = 1024 ** 2
GiB = 1024 ** 3
CONFIGFS_TARGET = '/sys/kernel/config/target'
CONFIGFS_ISCSI = CONFIGFS_TARGET + '/iscsi'


class CommandFailed(AssertionError):
    pass


def run(*argv, check=True, timeout=120, env=None, stdin_bytes=None, text=True):
    full_env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS='1', LC_ALL='C')
    full_env.update(env or {})
    proc = subprocess.run([str(a) for a in argv], capture_output=True, env=full_env,
                          timeout=timeout, input=stdin_bytes, text=text,
                          stdin=None if stdin_bytes is not None else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise CommandFailed('%s -> exit %d\nstdout: %s\nstderr: %s'
                            % (' '.join(map(str, argv)), proc.returncode, proc.stdout,
                               proc.stderr))
    return proc


def wait_for(predicate, what, timeout=30, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %s s waiting for %s' % (timeout, what))
        time.sleep(interval)


def pattern(seed, length=MiB):
    return random.Random(seed).randbytes(length)


# -- bytes on block devices (direct I/O, whole MiBs) ---------------------------

def write(dev, offset, data):
    """Write ``data`` (whole MiBs) at ``offset`` of ``dev``, O_DIRECT, fsync'd."""
    assert offset % MiB == 0 and len(data) % MiB == 0
    run('dd', 'of=%s' % dev, 'bs=1M', 'seek=%d' % (offset // MiB), 'oflag=direct',
        'conv=notrunc,fsync', 'status=none', stdin_bytes=data, text=False)


def read(dev, offset, length=MiB):
    """``length`` bytes (whole MiBs) of ``dev`` at ``offset``, read with O_DIRECT."""
    assert offset % MiB == 0 and length % MiB == 0
    out = run('dd', 'if=%s' % dev, 'bs=1M', 'skip=%d' % (offset // MiB),
              'count=%d' % (length // MiB), 'iflag=direct', 'status=none', text=False).stdout
    assert len(out) == length, 'short read of %s at %d: %d bytes' % (dev, offset, len(out))
    return out


def size(dev):
    return int(run('blockdev', '--getsize64', dev).stdout.strip())


# -- the kernel initiator -------------------------------------------------------

def initiator_name():
    with open('/etc/iscsi/initiatorname.iscsi') as f:
        for line in f:
            if line.startswith('InitiatorName='):
                return line.split('=', 1)[1].strip()
    raise AssertionError('no InitiatorName in /etc/iscsi/initiatorname.iscsi')


def iscsiadm_ready():
    return run('iscsiadm', '-m', 'session', check=False).returncode in (0, 21)


def discover(portal):
    """Target IQNs the portal announces (SendTargets); [] when it has none."""
    proc = run('iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', portal, check=False)
    return [line.split()[1] for line in proc.stdout.splitlines() if len(line.split()) == 2]


def set_chap(portal, iqn, user, password):
    for key, value in (('node.session.auth.authmethod', 'CHAP' if user else 'None'),
                       ('node.session.auth.username', user or ''),
                       ('node.session.auth.password', password or '')):
        run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-o', 'update', '-n', key,
            '-v', value)


def login(portal, iqn, user, password, check=True):
    """Discover, set CHAP on the node record and log in; the CompletedProcess."""
    assert iqn in discover(portal), '%s not announced by %s' % (iqn, portal)
    set_chap(portal, iqn, user, password)
    return run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '--login', check=check)


def session_disk(iqn, timeout=60):
    """The /dev/sdX of the logged-in session to ``iqn`` (waits for the SCSI scan)."""
    def find():
        for sess in glob.glob('/sys/class/iscsi_session/session*'):
            with open(os.path.join(sess, 'targetname')) as f:
                if f.read().strip() != iqn:
                    continue
            for block in glob.glob(os.path.join(sess, 'device/target*/*/block/*')):
                dev = '/dev/' + os.path.basename(block)
                if os.path.exists(dev):
                    return dev
        return None
    return wait_for(find, 'the SCSI disk of %s' % iqn, timeout=timeout)


def sessions(iqn=None):
    out = run('iscsiadm', '-m', 'session', check=False).stdout
    return [line for line in out.splitlines() if iqn is None or iqn in line.split()]


def rescan(portal, iqn):
    run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-R')


def logout(portal, iqn):
    run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '--logout', check=False)
    run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-o', 'delete', check=False)


def logout_all():
    run('iscsiadm', '-m', 'node', '--logoutall=all', check=False)


def lio_target_exists(iqn):
    return os.path.isdir(os.path.join(CONFIGFS_ISCSI, iqn))


def lio_backstores():
    """Names of LIO's backstore objects (configfs core/<hba>/<name>)."""
    names = []
    for hba in glob.glob('/sys/kernel/config/target/core/*_*'):
        names += [os.path.basename(p) for p in glob.glob(os.path.join(hba, '*'))
                  if os.path.isdir(p) and os.path.basename(p) != 'alua']
    return names


# -- a second initiator name on the same host (an iscsiadm iface) ------------------

def add_iface(iface, initiator):
    """An iscsiadm iface logging in as ``initiator`` (a second "host" in the guest)."""
    run('iscsiadm', '-m', 'iface', '-I', iface, '-o', 'new', check=False)
    run('iscsiadm', '-m', 'iface', '-I', iface, '-o', 'update', '-n', 'iface.initiatorname',
        '-v', initiator)


def login_iface(iface, portal, iqn, user, password):
    """As :func:`login`, through ``iface`` (its own initiator name)."""
    run('iscsiadm', '-m', 'discovery', '-t', 'sendtargets', '-p', portal, '-I', iface)
    for key, value in (('node.session.auth.authmethod', 'CHAP'),
                       ('node.session.auth.username', user),
                       ('node.session.auth.password', password)):
        run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-I', iface, '-o', 'update',
            '-n', key, '-v', value)
    run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-I', iface, '--login')


def logout_iface(iface, portal, iqn):
    run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-I', iface, '--logout',
        check=False)
    run('iscsiadm', '-m', 'node', '-T', iqn, '-p', portal, '-I', iface, '-o', 'delete',
        check=False)


def remove_iface(iface):
    """Delete ``iface`` (after :func:`logout_iface` deleted its node records):
    later discoveries without ``-I`` would otherwise bind new targets to it
    too and log in through it."""
    run('iscsiadm', '-m', 'iface', '-I', iface, '-o', 'delete', check=False)


def _sysfs(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def session_devices(iqn):
    """``{session sysfs name: /dev/sdX or None}`` of every session to ``iqn``."""
    found = {}
    for sess in glob.glob('/sys/class/iscsi_session/session*'):
        if _sysfs(os.path.join(sess, 'targetname')) != iqn:
            continue
        dev = None
        for block in glob.glob(os.path.join(sess, 'device/target*/*/block/*')):
            if os.path.exists('/dev/' + os.path.basename(block)):
                dev = '/dev/' + os.path.basename(block)
        found[os.path.basename(sess)] = dev
    return found


def lio_acls(iqn):
    """Initiator names with a node ACL in LIO's TPG 1 of ``iqn``."""
    return sorted(os.listdir(os.path.join(CONFIGFS_ISCSI, iqn, 'tpgt_1', 'acls')))
