"""iSCSI targets in the kernel's LIO target, driven with ``targetcli``.

Placeholder for the kernel tier: the commands are built (and unit-tested)
here, but LIO needs configfs and the target_core_mod / iscsi_target_mod
kernel modules, which kernels like the development host's lack; every
operation then raises a VolumeBackendAPIException saying so. The
persistent export record is JSON (LIO's own ``saveconfig`` is system wide).

Layout per volume: block backstore ``<volume name>`` on the device, target
``<iqn>`` with TPG 1, LUN 0, one portal, and either one node ACL per
initiator carrying the CHAP credentials, or (ACL ALL) generated node ACLs
with TPG-level CHAP.

Placeholder limits, for the kernel tier to lift: ``_apply`` rebuilds the
whole target from its record (which drops the sessions of other attachments
when an ACL changes) instead of reconciling it the way the tgt helper does.
"""

import json
import os

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.volume.targets import base

LOG = logging.getLogger(__name__)

CONFIGFS_TARGET = '/sys/kernel/config/target'


class LioAdm(base.ISCSITarget):
    """LIO targets via targetcli; see the module docstring."""

    LUN = 0

    def __init__(self, conf, host, execute=None):
        super().__init__(conf, host, execute or base.processutils.execute)

    # -- availability -------------------------------------------------------

    @staticmethod
    def lio_available():
        """Whether this kernel exposes LIO through configfs."""
        return os.path.isdir(CONFIGFS_TARGET)

    def _require_lio(self):
        if not self.lio_available():
            raise exception.VolumeBackendAPIException(
                data='the LIO target needs configfs mounted at /sys/kernel/config and the '
                     'target_core_mod and iscsi_target_mod kernel modules '
                     '(CONFIG_CONFIGFS_FS, CONFIG_TARGET_CORE, CONFIG_ISCSI_TARGET); this '
                     'kernel has no %s. Use target_helper = tgtadm.' % CONFIGFS_TARGET)

    def check_for_setup_error(self):
        """LIO must be present in the kernel."""
        self._require_lio()

    # -- command construction -------------------------------------------------

    @staticmethod
    def _tpg(iqn):
        return '/iscsi/%s/tpg1' % iqn

    def _backstore_name(self, record):
        prefix = self.configuration.target_prefix
        return record.iqn[len(prefix):] if record.iqn.startswith(prefix) else record.iqn

    def create_commands(self, record):
        """argv lists that build ``record``'s target from nothing."""
        tpg = self._tpg(record.iqn)
        name = self._backstore_name(record)
        conf = self.configuration
        cmds = [
            ['targetcli', '/backstores/block', 'create', 'name=%s' % name,
             'dev=%s' % record.path],
            ['targetcli', '/iscsi', 'create', record.iqn],
            ['targetcli', tpg + '/portals', 'delete', '0.0.0.0', '3260'],
        ]
        addresses = [conf.target_ip_address] + list(conf.target_secondary_ip_addresses or [])
        for address in addresses:
            cmds.append(['targetcli', tpg + '/portals', 'create', address,
                         str(conf.target_port)])
        cmds.append(['targetcli', tpg + '/luns', 'create', '/backstores/block/%s' % name,
                     'lun=%d' % record.lun])
        cmds += self.acl_commands(record)
        cmds.append(['targetcli', 'saveconfig'])
        return cmds

    def acl_commands(self, record):
        """argv lists setting the ACL and CHAP of ``record``'s TPG."""
        tpg = self._tpg(record.iqn)
        auth = (['userid=%s' % record.user, 'password=%s' % record.password]
                if record.chap else [])
        if record.acl() == [base.ACL_ALL]:
            cmds = [['targetcli', tpg, 'set', 'attribute', 'generate_node_acls=1',
                     'demo_mode_write_protect=0',
                     'authentication=%d' % int(record.chap)]]
            if auth:
                cmds.append(['targetcli', tpg, 'set', 'auth'] + auth)
            return cmds
        cmds = [['targetcli', tpg, 'set', 'attribute', 'generate_node_acls=0',
                 'authentication=%d' % int(record.chap)]]
        for initiator in record.acl():
            cmds.append(['targetcli', tpg + '/acls', 'create', initiator])
            if auth:
                cmds.append(['targetcli', '%s/acls/%s' % (tpg, initiator), 'set', 'auth']
                            + auth)
        return cmds

    def delete_commands(self, record):
        """argv lists removing ``record``'s target and backstore."""
        return [['targetcli', '/iscsi', 'delete', record.iqn],
                ['targetcli', '/backstores/block', 'delete', self._backstore_name(record)],
                ['targetcli', 'saveconfig']]

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
        self._run_all(self.delete_commands(record)[:-1], record)
        self._run_all(self.create_commands(record), record)
        return 1

    def _remove_live(self, record):
        if not self.lio_available():
            LOG.warning('LIO is not available; nothing to remove for %s', record.iqn)
            return
        self._run_all(self.delete_commands(record), record)
