"""iSCSI targets in the kernel's LIO target, driven with ``targetcli``.

LIO needs configfs and the target_core_mod / iscsi_target_mod kernel modules,
which kernels like the development host's lack; every operation then raises
a VolumeBackendAPIException saying so (the kernel tier exercises it). The
persistent export record is JSON (LIO's own ``saveconfig`` is system wide).

Layout per volume: block backstore ``<volume name>`` on the device, target
``<iqn>`` with TPG 1, LUN 0, the portals, and either one node ACL per
initiator carrying the CHAP credentials, or (ACL ALL) generated node ACLs
with TPG-level CHAP.

Changes are incremental: :meth:`LioAdm._apply` reads the live target from
configfs (cheap, no process) and runs only the ``targetcli`` commands that
make it match the record, so adding or removing one initiator's ACL touches
that ACL alone and the sessions of the other initiators stay up. Only a
backstore that points at another device is rebuilt (with its target).
Each ``targetcli`` run costs a Python start and a configfs scan, about a
second on hardware and far more under emulation, hence the care.
"""

import collections
import glob
import json
import os

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.volume.targets import base

LOG = logging.getLogger(__name__)

CONFIGFS_TARGET = '/sys/kernel/config/target'

#: Live state of one volume's LIO objects, read from configfs. ``backstore``
#: is the device path of the block backstore (None: absent); ``acls`` maps
#: initiator -> (userid, password); ``attrs`` holds the TPG attributes we set.
LioState = collections.namedtuple(
    'LioState', ['backstore', 'target', 'portals', 'luns', 'attrs', 'tpg_auth', 'acls'])

_ABSENT = LioState(None, False, set(), set(), {}, (None, None), {})


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class LioAdm(base.ISCSITarget):
    """LIO targets via targetcli; see the module docstring."""

    LUN = 0
    #: Root of LIO's configfs tree (tests point it at a fake tree).
    configfs = CONFIGFS_TARGET

    def __init__(self, conf, host, execute=None):
        super().__init__(conf, host, execute or base.processutils.execute)

    # -- availability -------------------------------------------------------

    def lio_available(self):
        """Whether this kernel exposes LIO through configfs."""
        return os.path.isdir(self.configfs)

    def _require_lio(self):
        if not self.lio_available():
            raise exception.VolumeBackendAPIException(
                data='the LIO target needs configfs mounted at /sys/kernel/config and the '
                     'target_core_mod and iscsi_target_mod kernel modules '
                     '(CONFIG_CONFIGFS_FS, CONFIG_TARGET_CORE, CONFIG_ISCSI_TARGET); this '
                     'kernel has no %s. Use target_helper = tgtadm.' % self.configfs)

    def check_for_setup_error(self):
        """LIO must be present in the kernel."""
        self._require_lio()

    # -- live state -------------------------------------------------------------

    def _backstore_name(self, record):
        prefix = self.configuration.target_prefix
        return record.iqn[len(prefix):] if record.iqn.startswith(prefix) else record.iqn

    def live_state(self, record):
        """The :data:`LioState` of ``record``'s backstore and target."""
        backstore = None
        for obj in glob.glob(os.path.join(self.configfs, 'core', 'iblock_*',
                                          self._backstore_name(record))):
            backstore = _read(os.path.join(obj, 'udev_path')) or ''
            break
        tpg = os.path.join(self.configfs, 'iscsi', record.iqn, 'tpgt_1')
        if not os.path.isdir(tpg):
            return _ABSENT._replace(backstore=backstore,
                                    target=os.path.isdir(os.path.dirname(tpg)))

        def listdir(sub):
            try:
                return set(os.listdir(os.path.join(tpg, sub)))
            except OSError:
                return set()

        attrs = {name: _read(os.path.join(tpg, 'attrib', name))
                 for name in ('generate_node_acls', 'authentication',
                              'demo_mode_write_protect')}
        acls = {name: (_read(os.path.join(tpg, 'acls', name, 'auth', 'userid')) or None,
                       _read(os.path.join(tpg, 'acls', name, 'auth', 'password')) or None)
                for name in listdir('acls')}
        tpg_auth = (_read(os.path.join(tpg, 'auth', 'userid')) or None,
                    _read(os.path.join(tpg, 'auth', 'password')) or None)
        return LioState(backstore, True, listdir('np'),
                        {int(n[len('lun_'):]) for n in listdir('lun') if n.startswith('lun_')},
                        attrs, tpg_auth, acls)

    # -- command construction -------------------------------------------------

    @staticmethod
    def _tpg(iqn):
        return '/iscsi/%s/tpg1' % iqn

    def _portals(self):
        """``[(address, port)]`` of the configured portals."""
        conf = self.configuration
        addresses = [conf.target_ip_address] + list(conf.target_secondary_ip_addresses or [])
        return [(address, str(conf.target_port)) for address in addresses]

    @staticmethod
    def _np_name(address, port):
        """configfs name of a portal (``np/<ip>:<port>``, IPv6 in brackets)."""
        return base.format_portal(address, port)

    def create_commands(self, record):
        """argv lists that build ``record``'s target from nothing."""
        return self.reconcile_commands(record, _ABSENT)

    def reconcile_commands(self, record, state):
        """argv lists turning the live ``state`` into ``record``'s target.

        Empty when they already match; ``saveconfig`` ends any other list.
        """
        tpg = self._tpg(record.iqn)
        name = self._backstore_name(record)
        cmds = []
        if state.backstore is not None and state.backstore != record.path:
            LOG.info('Backstore %s is on %s, not %s: re-creating its target', name,
                     state.backstore, record.path)
            cmds += self.delete_commands(record)[:-1]
            state = _ABSENT
        if state.backstore is None:
            cmds.append(['targetcli', '/backstores/block', 'create', 'name=%s' % name,
                         'dev=%s' % record.path])
        if not state.target:
            cmds += [['targetcli', '/iscsi', 'create', record.iqn],
                     ['targetcli', tpg + '/portals', 'delete', '0.0.0.0', '3260']]
        wanted = {self._np_name(a, p): (a, p) for a, p in self._portals()}
        for np_name, (address, port) in wanted.items():
            if np_name not in state.portals:
                cmds.append(['targetcli', tpg + '/portals', 'create', address, port])
        for np_name in sorted(state.portals - set(wanted)):
            address, _, port = np_name.rpartition(':')
            cmds.append(['targetcli', tpg + '/portals', 'delete', address.strip('[]'), port])
        if record.lun not in state.luns:
            cmds.append(['targetcli', tpg + '/luns', 'create', '/backstores/block/%s' % name,
                         'lun=%d' % record.lun])
        cmds += self.acl_commands(record, state)
        if cmds:
            cmds.append(['targetcli', 'saveconfig'])
        return cmds

    def acl_commands(self, record, state=None):
        """argv lists setting the ACL and CHAP of ``record``'s TPG.

        With ``state`` (a :data:`LioState`), only what differs: one ACL
        created or deleted per initiator added or removed.
        """
        state = state or _ABSENT
        tpg = self._tpg(record.iqn)
        creds = (record.user, record.password) if record.chap else (None, None)
        auth = (['userid=%s' % record.user, 'password=%s' % record.password]
                if record.chap else [])
        want_attrs = {'authentication': str(int(record.chap))}
        if record.acl() == [base.ACL_ALL]:
            want_attrs.update(generate_node_acls='1', demo_mode_write_protect='0')
            initiators = []
        else:
            want_attrs['generate_node_acls'] = '0'
            initiators = record.acl()
        cmds = []
        # Revoke first: an initiator never keeps access it should lose.
        for initiator in sorted(set(state.acls) - set(initiators)):
            cmds.append(['targetcli', tpg + '/acls', 'delete', initiator])
        order = ('generate_node_acls', 'demo_mode_write_protect', 'authentication')
        changed = [k for k in order if k in want_attrs and state.attrs.get(k) != want_attrs[k]]
        if changed:
            cmds.append(['targetcli', tpg, 'set', 'attribute']
                        + ['%s=%s' % (k, want_attrs[k]) for k in changed])
        if not initiators and auth and state.tpg_auth != creds:
            cmds.append(['targetcli', tpg, 'set', 'auth'] + auth)
        for initiator in initiators:
            if initiator not in state.acls:
                cmds.append(['targetcli', tpg + '/acls', 'create', initiator])
            elif state.acls[initiator] == creds or not auth:
                continue
            if auth:
                cmds.append(['targetcli', '%s/acls/%s' % (tpg, initiator), 'set', 'auth']
                            + auth)
        return cmds

    def delete_commands(self, record, state=None):
        """argv lists removing ``record``'s target and backstore (those
        ``state`` says exist, when given)."""
        cmds = []
        if state is None or state.target:
            cmds.append(['targetcli', '/iscsi', 'delete', record.iqn])
        if state is None or state.backstore is not None:
            cmds.append(['targetcli', '/backstores/block', 'delete',
                         self._backstore_name(record)])
        if cmds:
            cmds.append(['targetcli', 'saveconfig'])
        return cmds

    # -- base primitives --------------------------------------------------------

    def _render(self, record):
        return json.dumps({'iqn': record.iqn, 'path': record.path, 'lun': record.lun,
                           'user': record.user, 'password': record.password,
                           'initiators': record.initiators}, indent=1) + '\n'

    def _parse(self, text):
        try:
            data = json.loads(text)
            return base.ExportRecord(iqn=data['iqn'], path=data['path'], lun=data['lun'],
                                     user=data.get('user'), password=data.get('password'),
                                     initiators=list(data.get('initiators') or []))
        except (ValueError, KeyError, TypeError):
            return None

    # targetcli's words for "already there" and "already gone" (a delete of a
    # backstore that was never created says "No storage object named ...").
    def _run_all(self, cmds, record, tolerate=('already exists', 'No such',
                                               'No storage object')):
        secrets = (record.password,) if record.password else ()
        for argv in cmds:
            try:
                self._execute(*argv, secrets=secrets, timeout=self.timeout)
            except exception.ProcessExecutionError as e:
                if not any(t in (e.stderr or '') + (e.stdout or '') for t in tolerate):
                    raise

    def _apply(self, record):
        self._require_lio()
        self._run_all(self.reconcile_commands(record, self.live_state(record)), record)
        return 1

    def _remove_live(self, record):
        if not self.lio_available():
            LOG.warning('LIO is not available; nothing to remove for %s', record.iqn)
            return
        self._run_all(self.delete_commands(record, self.live_state(record)), record)
