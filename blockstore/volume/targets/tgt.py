"""iSCSI targets in the userspace tgt daemon (tgtd), driven with ``tgtadm``.

Each exported volume has a persistent record in ``volumes_dir`` written in
tgt-admin's syntax, so an operator can also restore everything with
``tgt-admin -C PORT -c FILE --update ALL``::

    <target iqn.2010-10.org.openstack:volume-<id>>
        driver iscsi
        backing-store /dev/loop3
        bsoflags direct
        incominguser <user> <password>
        initiator-name iqn.1994-05.com.redhat:compute1
    </target>

(``initiator-address ALL`` when no initiator is named). The live target is
reconciled with the record by ``tgtadm`` calls: target id allocation (with a
retry if another process took the id), LUN 1 on the backing device,
one CHAP account per volume bound to the target, and the ACL entries.

``tgt_control_port`` selects which tgtd to manage (``tgtadm -C PORT``), so
a test or a second tgtd never collides with the system one.
"""

import collections
import re
import shutil
import threading

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.volume.targets import base

LOG = logging.getLogger(__name__)

#: Live state of one tgtd target: ``luns`` maps LUN -> backing store path;
#: ``acl`` mixes addresses (ALL, IPs) and initiator names, as tgtadm shows them.
TargetState = collections.namedtuple('TargetState',
                                     ['tid', 'iqn', 'luns', 'accounts', 'acl', 'sessions'])

_TARGET_RE = re.compile(r'^Target (\d+): (\S+)\s*$')
_SECTION_RE = re.compile(r'^ {4}(\S[^:]*):\s*$')
_LUN_RE = re.compile(r'^\s+LUN: (\d+)\s*$')
_BACKING_RE = re.compile(r'^\s+Backing store path: (.*?)\s*$')
_INITIATOR_RE = re.compile(r'^\s+Initiator: (\S+)')
_SESSION_RE = re.compile(r'^Session: (\d+)\s*$')
_CONNECTION_RE = re.compile(r'^\s+Connection: (\d+)\s*$')
_ITEM_RE = re.compile(r'^ {8}(\S+)')
_ADDRESS_RE = re.compile(r'^(ALL|[0-9.]+(/\d+)?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/\d+)?)$')
_MAX_TID_ATTEMPTS = 20


def parse_show_targets(text):
    """Parse ``tgtadm --lld iscsi --op show --mode target`` into {tid: TargetState}."""
    targets = {}
    current = section = lun = None
    for line in text.splitlines():
        m = _TARGET_RE.match(line)
        if m:
            current = TargetState(int(m.group(1)), m.group(2), {}, [], [], [])
            targets[current.tid] = current
            section = lun = None
            continue
        if current is None:
            continue
        m = _SECTION_RE.match(line)
        if m:
            section = m.group(1)
            continue
        if section == 'LUN information':
            m = _LUN_RE.match(line)
            if m:
                lun = int(m.group(1))
                continue
            m = _BACKING_RE.match(line)
            if m and lun is not None:
                path = m.group(1)
                current.luns[lun] = None if path == 'None' else path
        elif section == 'I_T nexus information':
            m = _INITIATOR_RE.match(line)
            if m:
                current.sessions.append(m.group(1))
        elif section in ('Account information', 'ACL information'):
            m = _ITEM_RE.match(line)
            if m:
                (current.accounts if section.startswith('Account') else current.acl).append(
                    m.group(1))
    return targets


def parse_show_connections(text):
    """Parse ``tgtadm --lld iscsi --op show --mode conn --tid T``: [(sid, cid, initiator)]."""
    connections = []
    sid = cid = None
    for line in text.splitlines():
        m = _SESSION_RE.match(line)
        if m:
            sid, cid = int(m.group(1)), None
            continue
        m = _CONNECTION_RE.match(line)
        if m and sid is not None:
            cid = int(m.group(1))
            continue
        m = _INITIATOR_RE.match(line)
        if m and sid is not None and cid is not None:
            connections.append((sid, cid, m.group(1)))
    return connections


def parse_show_accounts(text):
    """Parse ``tgtadm --lld iscsi --op show --mode account`` into a list of users."""
    users = []
    for line in text.splitlines():
        m = _ITEM_RE.match(line) or re.match(r'^ {4}(\S+)', line)
        if m and not line.strip().endswith(':'):
            users.append(m.group(1))
    return users


def is_address(acl_entry):
    """Whether a tgt ACL entry is an address rule (ALL, IP, CIDR) rather than a name."""
    return bool(_ADDRESS_RE.match(acl_entry))


class TgtAdm(base.ISCSITarget):
    """Targets in tgtd; see the module docstring."""

    #: tgtd reserves LUN 0 for the controller; the volume is LUN 1.
    LUN = 1

    def __init__(self, conf, host, execute=None):
        super().__init__(conf, host, execute or base.processutils.execute)
        self.control_port = conf.tgt_control_port
        self.bsoflags = conf.tgt_bsoflags or ''
        self._tid_lock = threading.Lock()

    # -- commands ------------------------------------------------------------

    def tgtadm_argv(self, *args):
        """argv of a ``tgtadm`` call on this backend's tgtd."""
        argv = ['tgtadm']
        if self.control_port is not None:
            argv += ['-C', str(self.control_port)]
        return argv + ['--lld', 'iscsi'] + [str(a) for a in args]

    def _tgtadm(self, *args, secrets=(), log_errors=True):
        return self._execute(*self.tgtadm_argv(*args), secrets=secrets, timeout=self.timeout,
                             log_errors=log_errors)

    def show_targets(self, log_errors=True):
        """Live targets of tgtd: {tid: TargetState}."""
        return parse_show_targets(
            self._tgtadm('--op', 'show', '--mode', 'target', log_errors=log_errors).stdout)

    def show_connections(self, tid):
        """Open connections of target ``tid``: [(sid, cid, initiator name)]."""
        return parse_show_connections(
            self._tgtadm('--op', 'show', '--mode', 'conn', '--tid', tid).stdout)

    def close_connection(self, tid, sid, cid):
        self._tgtadm('--op', 'delete', '--mode', 'conn', '--tid', tid, '--sid', sid,
                     '--cid', cid)

    def show_accounts(self):
        """CHAP account names known to tgtd."""
        return parse_show_accounts(self._tgtadm('--op', 'show', '--mode', 'account').stdout)

    def find_target(self, iqn, targets=None):
        """The TargetState of ``iqn``, or None."""
        for state in (targets if targets is not None else self.show_targets()).values():
            if state.iqn == iqn:
                return state
        return None

    def new_target(self, tid, iqn):
        self._tgtadm('--op', 'new', '--mode', 'target', '--tid', tid, '-T', iqn,
                     log_errors=False)

    def delete_target(self, tid):
        """Delete target ``tid`` even with initiators logged in."""
        self._tgtadm('--op', 'delete', '--mode', 'target', '--tid', tid, '--force')

    def new_lun(self, tid, lun, path):
        args = ['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', lun,
                '-b', path]
        if self.bsoflags:
            args += ['--bsoflags', self.bsoflags]
        self._tgtadm(*args)

    def delete_lun(self, tid, lun):
        self._tgtadm('--op', 'delete', '--mode', 'logicalunit', '--tid', tid, '--lun', lun)

    def new_account(self, user, password):
        self._tgtadm('--op', 'new', '--mode', 'account', '--user', user,
                     '--password', password, secrets=(password,))

    def delete_account(self, user):
        """Delete CHAP account ``user``; a missing one is fine."""
        try:
            self._tgtadm('--op', 'delete', '--mode', 'account', '--user', user,
                         log_errors=False)
        except exception.ProcessExecutionError as e:
            if "can't find the account" not in (e.stderr or ''):
                raise

    def bind_account(self, tid, user):
        self._tgtadm('--op', 'bind', '--mode', 'account', '--tid', tid, '--user', user)

    def unbind_account(self, tid, user):
        self._tgtadm('--op', 'unbind', '--mode', 'account', '--tid', tid, '--user', user)

    @staticmethod
    def _acl_args(entry):
        if is_address(entry):
            return ['--initiator-address', entry]
        return ['--initiator-name', entry]

    def bind_acl(self, tid, entry):
        self._tgtadm('--op', 'bind', '--mode', 'target', '--tid', tid,
                     *self._acl_args(entry))

    def unbind_acl(self, tid, entry):
        self._tgtadm('--op', 'unbind', '--mode', 'target', '--tid', tid,
                     *self._acl_args(entry))

    # -- base primitives -------------------------------------------------------

    def check_for_setup_error(self):
        """tgtadm must be installed (Debian package ``tgt``); tgtd may start later."""
        if shutil.which('tgtadm') is None:
            raise exception.VolumeBackendAPIException(
                data='tgtadm not found: install the tgt package (userspace iSCSI target)')

    def _render(self, record):
        lines = ['# blockstore export; ensure_export restores it. Private: holds a CHAP '
                 'secret.',
                 '<target %s>' % record.iqn,
                 '    driver iscsi',
                 '    backing-store %s' % record.path]
        if self.bsoflags:
            lines.append('    bsoflags %s' % self.bsoflags)
        if record.chap:
            lines.append('    incominguser %s %s' % (record.user, record.password))
        for entry in record.acl():
            key = 'initiator-address' if is_address(entry) else 'initiator-name'
            lines.append('    %s %s' % (key, entry))
        lines.append('</target>')
        return '\n'.join(lines) + '\n'

    def _parse(self, text):
        iqn = path = user = password = None
        initiators = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith('#'):
                continue
            m = re.match(r'^<target\s+(\S+)>$', line)
            if m:
                iqn = m.group(1)
                continue
            key, _, value = line.partition(' ')
            value = value.strip()
            if key == 'backing-store':
                path = value
            elif key == 'incominguser':
                parts = value.split()
                if len(parts) == 2:
                    user, password = parts
            elif key in ('initiator-name', 'initiator-address'):
                if value != base.ACL_ALL:
                    initiators.append(value)
        if not iqn or not path:
            return None
        return base.ExportRecord(iqn=iqn, path=path, lun=self.LUN, user=user,
                                 password=password, initiators=initiators)

    def _apply(self, record):
        with self._tid_lock:
            targets = self.show_targets()
            state = self.find_target(record.iqn, targets)
            if state is not None and state.luns.get(record.lun) != record.path:
                LOG.info('Target %s points at %s, not %s: re-creating it', record.iqn,
                         state.luns.get(record.lun), record.path)
                self.delete_target(state.tid)
                targets.pop(state.tid, None)
                state = None
            if state is None:
                tid = self._create_target(record, targets)
                state = TargetState(tid, record.iqn, {record.lun: record.path}, [], [], [])
            tid = state.tid
        self._reconcile_auth(tid, record, state)
        self._reconcile_acl(tid, record, state)
        return tid

    def _resize_live(self, record):
        """tgtd sizes a LUN when it opens the backing store: re-add the LUN
        (on ``record.path``) in the live target, whose sessions, CHAP and
        ACL stay; tgtd then tells logged-in initiators the LUNs changed."""
        with self._tid_lock:
            state = self.find_target(record.iqn)
            if state is not None:
                if record.lun in state.luns:
                    self.delete_lun(state.tid, record.lun)
                self.new_lun(state.tid, record.lun, record.path)
        if state is None:
            return self._apply(record)
        return state.tid

    def _create_target(self, record, targets):
        tid = max(targets, default=0) + 1
        for _ in range(_MAX_TID_ATTEMPTS):
            try:
                self.new_target(tid, record.iqn)
                break
            except exception.ProcessExecutionError as e:
                if 'already exists' not in (e.stderr or ''):
                    raise
                if self.find_target(record.iqn) is not None:
                    raise exception.VolumeBackendAPIException(
                        data='target %s was created concurrently' % record.iqn) from e
                tid += 1  # another process took this tid
        else:
            raise exception.VolumeBackendAPIException(
                data='no free target id for %s after %d attempts'
                % (record.iqn, _MAX_TID_ATTEMPTS))
        try:
            self.new_lun(tid, record.lun, record.path)
        except exception.ProcessExecutionError:
            self.delete_target(tid)
            raise
        return tid

    def _reconcile_auth(self, tid, record, state):
        wanted = [record.user] if record.chap else []
        for user in state.accounts:
            if user not in wanted:
                self.unbind_account(tid, user)
        if record.chap and record.user not in state.accounts:
            if record.user not in self.show_accounts():
                self.new_account(record.user, record.password)
            self.bind_account(tid, record.user)

    def _reconcile_acl(self, tid, record, state):
        wanted = record.acl()
        for entry in wanted:
            if entry not in state.acl:
                self.bind_acl(tid, entry)
        for entry in state.acl:
            if entry not in wanted:
                self.unbind_acl(tid, entry)
        # Unbinding only refuses new logins: end the sessions of initiators no
        # longer allowed, or a detached host keeps reading and writing.
        if not any(is_address(entry) for entry in wanted) and \
                any(name not in wanted for name in state.sessions):
            for sid, cid, name in self.show_connections(tid):
                if name not in wanted:
                    LOG.info('Closing connection %s/%s of %s to target %s: access revoked',
                             sid, cid, name, record.iqn)
                    self.close_connection(tid, sid, cid)

    def _remove_live(self, record):
        state = self.find_target(record.iqn, self.show_targets(log_errors=bool(record.path)))
        if state is not None:
            self.delete_target(state.tid)
            for user in state.accounts:
                self.delete_account(user)
        if record.user:
            self.delete_account(record.user)
