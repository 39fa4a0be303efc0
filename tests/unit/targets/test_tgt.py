"""tgt and LIO target helpers without a daemon: argv, parsing, records, semantics.

``tgtadm`` output below was recorded from tgtd 1.0.85 on the development host
(one target with a logged-in session, a CHAP account, an address and an
initiator-name ACL; one bare target). :class:`FakeTgtd` answers tgtadm argv
from an in-memory daemon so the reconcile logic can be followed call by call.
"""

import logging
import os
import re
import stat
import types

import pytest
from oslo_config import cfg

from blockstore.common import conf as bs_conf
from blockstore.common import exception
from blockstore.common import processutils
from blockstore.volume.targets import base
from blockstore.volume.targets import lio
from blockstore.volume.targets import tgt

SHOW_TARGETS = (
    'Target 1: iqn.2010-10.org.openstack:volume-c1\n'
    '    System information:\n'
    '        Driver: iscsi\n'
    '        State: ready\n'
    '    I_T nexus information:\n'
    '        I_T nexus: 1\n'
    '            Initiator: iqn.1994-05.com.redhat:bs-test alias: none\n'
    '            Connection: 0\n'
    '                IP Address: 127.0.0.1\n'
    '    LUN information:\n'
    '        LUN: 0\n'
    '            Type: controller\n'
    '            SCSI ID: IET     00010000\n'
    '            SCSI SN: beaf10\n'
    '            Size: 0 MB, Block size: 1\n'
    '            Online: Yes\n'
    '            Removable media: No\n'
    '            Prevent removal: No\n'
    '            Readonly: No\n'
    '            SWP: No\n'
    '            Thin-provisioning: No\n'
    '            Backing store type: null\n'
    '            Backing store path: None\n'
    '            Backing store flags: \n'
    '        LUN: 1\n'
    '            Type: disk\n'
    '            SCSI ID: IET     00010001\n'
    '            SCSI SN: beaf11\n'
    '            Size: 67 MB, Block size: 512\n'
    '            Online: Yes\n'
    '            Removable media: No\n'
    '            Prevent removal: No\n'
    '            Readonly: No\n'
    '            SWP: No\n'
    '            Thin-provisioning: No\n'
    '            Backing store type: rdwr\n'
    '            Backing store path: /dev/loop5\n'
    '            Backing store flags: direct\n'
    '    Account information:\n'
    '        chapuser1\n'
    '    ACL information:\n'
    '        10.0.0.0/8\n'
    '        iqn.1994-05.com.redhat:bs-test\n'
    'Target 2: iqn.2010-10.org.openstack:volume-c2\n'
    '    System information:\n'
    '        Driver: iscsi\n'
    '        State: ready\n'
    '    I_T nexus information:\n'
    '    LUN information:\n'
    '        LUN: 0\n'
    '            Type: controller\n'
    '            SCSI ID: IET     00020000\n'
    '            SCSI SN: beaf20\n'
    '            Size: 0 MB, Block size: 1\n'
    '            Online: Yes\n'
    '            Removable media: No\n'
    '            Prevent removal: No\n'
    '            Readonly: No\n'
    '            SWP: No\n'
    '            Thin-provisioning: No\n'
    '            Backing store type: null\n'
    '            Backing store path: None\n'
    '            Backing store flags: \n'
    '    Account information:\n'
    '    ACL information:\n'
)
SHOW_ACCOUNTS = (
    'Account list:\n'
    '    chapuser1\n'
)

CONNECTOR = {'initiator': 'iqn.1994-05.com.redhat:bs-test', 'ip': '127.0.0.1',
             'host': 'compute1'}
CONNECTOR_2 = {'initiator': 'iqn.1994-05.com.redhat:other', 'ip': '127.0.0.2',
               'host': 'compute2'}
IQN = 'iqn.2010-10.org.openstack:volume-v1'


def backend_conf(tmp_path, **overrides):
    conf = cfg.ConfigOpts()
    conf.register_opts(bs_conf.backend_opts, group='lvm1')
    values = dict(volumes_dir=str(tmp_path / 'targets'), target_ip_address='192.0.2.10',
                  target_port=3260, tgt_control_port=77)
    values.update(overrides)
    for key, value in values.items():
        conf.set_override(key, value, group='lvm1')
    conf([], project='blockstore-test', default_config_files=[])
    return conf['lvm1']


def new_volume(vid='v1', provider_auth=None):
    return types.SimpleNamespace(id=vid, name='volume-%s' % vid, size=1,
                                 provider_auth=provider_auth, provider_location=None)


class FakeTgtd:
    """An in-memory tgtd answering tgtadm argv (and recording every call)."""

    def __init__(self):
        self.targets = {}   # tid -> dict(iqn, luns{lun: (path, flags)}, accounts[], acl[])
        self.accounts = {}  # user -> password
        self.calls = []
        self.kwargs = []
        self.fail_next = []  # (regex on argv line, stderr, code)

    @property
    def argvs(self):
        return self.calls

    def ops(self):
        """The calls minus the read-only ``show`` ones."""
        return [a for a in self.calls if 'show' not in a]

    def __call__(self, *argv, **kwargs):
        argv = list(argv)
        self.calls.append(argv)
        self.kwargs.append(kwargs)
        assert argv[:3] == ['tgtadm', '-C', '77'] and argv[3:5] == ['--lld', 'iscsi'], argv
        line = ' '.join(argv)
        for i, (pattern, stderr, code) in enumerate(self.fail_next):
            if re.search(pattern, line):
                del self.fail_next[i]
                raise exception.ProcessExecutionError(cmd=line, exit_code=code, stderr=stderr)
        args = argv[5:]
        opt = {args[i]: args[i + 1] for i in range(0, len(args) - 1)
               if args[i].startswith('-')}
        op, mode = opt['--op'], opt['--mode']
        return processutils.Result(getattr(self, '_%s_%s' % (op, mode))(opt) or '', '', 0)

    def _err(self, stderr, code=22):
        raise exception.ProcessExecutionError(cmd='tgtadm', exit_code=code, stderr=stderr)

    def _tid(self, opt):
        tid = int(opt['--tid'])
        if tid not in self.targets:
            self._err("tgtadm: can't find the target")
        return self.targets[tid]

    def _show_target(self, opt):
        out = []
        for tid, t in sorted(self.targets.items()):
            out += ['Target %d: %s' % (tid, t['iqn']), '    System information:',
                    '        Driver: iscsi', '    I_T nexus information:']
            for sid, cid, name in t.get('sessions', []):
                out += ['        I_T nexus: %d' % sid,
                        '            Initiator: %s alias: none' % name,
                        '            Connection: %d' % cid]
            out += ['    LUN information:', '        LUN: 0',
                    '            Backing store path: None']
            for lun, (path, flags) in sorted(t['luns'].items()):
                out += ['        LUN: %d' % lun, '            Type: disk',
                        '            Backing store path: %s' % path,
                        '            Backing store flags: %s' % flags]
            out += ['    Account information:'] + ['        ' + a for a in t['accounts']]
            out += ['    ACL information:'] + ['        ' + a for a in t['acl']]
        return '\n'.join(out) + '\n'

    def _show_conn(self, opt):
        return ''.join('Session: %d\n    Connection: %d\n        Initiator: %s\n'
                       '        IP Address: 127.0.0.1\n' % session
                       for session in self._tid(opt).get('sessions', []))

    def _delete_conn(self, opt):
        sessions = self._tid(opt).setdefault('sessions', [])
        key = (int(opt['--sid']), int(opt['--cid']))
        found = [s for s in sessions if s[:2] == key]
        if not found:
            self._err("tgtadm: can't find the connection")
        sessions.remove(found[0])

    def _show_account(self, opt):
        return 'Account list:\n' + ''.join('    %s\n' % u for u in self.accounts)

    def _new_target(self, opt):
        tid = int(opt['--tid'])
        if tid in self.targets:
            self._err('tgtadm: this target already exists')
        self.targets[tid] = dict(iqn=opt['-T'], luns={}, accounts=[], acl=[])

    def _delete_target(self, opt):
        self._tid(opt)
        del self.targets[int(opt['--tid'])]

    def _new_logicalunit(self, opt):
        self._tid(opt)['luns'][int(opt['--lun'])] = (opt['-b'], opt.get('--bsoflags', ''))

    def _delete_logicalunit(self, opt):
        self._tid(opt)['luns'].pop(int(opt['--lun']))

    def _new_account(self, opt):
        if opt['--user'] in self.accounts:
            self._err('tgtadm: this account already exists')
        self.accounts[opt['--user']] = opt['--password']

    def _delete_account(self, opt):
        if self.accounts.pop(opt['--user'], None) is None:
            self._err("tgtadm: can't find the account")
        for t in self.targets.values():
            if opt['--user'] in t['accounts']:
                t['accounts'].remove(opt['--user'])

    def _bind_account(self, opt):
        self._tid(opt)['accounts'].append(opt['--user'])

    def _unbind_account(self, opt):
        self._tid(opt)['accounts'].remove(opt['--user'])

    def _bind_target(self, opt):
        entry = opt.get('--initiator-address') or opt.get('--initiator-name')
        self._tid(opt)['acl'].append(entry)

    def _unbind_target(self, opt):
        entry = opt.get('--initiator-address') or opt.get('--initiator-name')
        acl = self._tid(opt)['acl']
        if entry not in acl:
            self._err('tgtadm: this access control rule does not exist')
        acl.remove(entry)


@pytest.fixture
def tgtd():
    return FakeTgtd()


@pytest.fixture
def helper(tmp_path, tgtd):
    return tgt.TgtAdm(backend_conf(tmp_path), 'node@lvm1', execute=tgtd)


def T(*args):
    return ['tgtadm', '-C', '77', '--lld', 'iscsi'] + list(args)


# -- parsing recorded output -----------------------------------------------------


def test_parse_show_targets_recorded():
    targets = tgt.parse_show_targets(SHOW_TARGETS)
    assert sorted(targets) == [1, 2]
    one, two = targets[1], targets[2]
    assert one.iqn == 'iqn.2010-10.org.openstack:volume-c1'
    assert one.luns == {0: None, 1: '/dev/loop5'}
    assert one.accounts == ['chapuser1']
    assert one.acl == ['10.0.0.0/8', 'iqn.1994-05.com.redhat:bs-test']
    assert one.sessions == ['iqn.1994-05.com.redhat:bs-test']
    assert two == tgt.TargetState(2, 'iqn.2010-10.org.openstack:volume-c2', {0: None},
                                  [], [], [])
    assert tgt.parse_show_targets('') == {}


def test_parse_show_accounts_recorded():
    assert tgt.parse_show_accounts(SHOW_ACCOUNTS) == ['chapuser1']
    assert tgt.parse_show_accounts('Account list:\n') == []


@pytest.mark.parametrize('entry, address', [
    ('ALL', True), ('127.0.0.1', True), ('10.0.0.0/8', True), ('fe80::1', True),
    ('iqn.1994-05.com.redhat:bs-test', False), ('eui.02004567A425678D', False)])
def test_acl_entries_are_addresses_or_names(entry, address):
    assert tgt.is_address(entry) is address


# -- tgtadm argv ---------------------------------------------------------------------


def test_tgtadm_argv_with_and_without_control_port(tmp_path):
    helper = tgt.TgtAdm(backend_conf(tmp_path, tgt_control_port=None), 'n@b')
    assert helper.tgtadm_argv('--op', 'show', '--mode', 'target') == [
        'tgtadm', '--lld', 'iscsi', '--op', 'show', '--mode', 'target']
    helper = tgt.TgtAdm(backend_conf(tmp_path, tgt_control_port=0), 'n@b')
    assert helper.tgtadm_argv('--op', 'show')[:3] == ['tgtadm', '-C', '0']


def test_each_tgtadm_command(helper, tgtd):
    helper.new_target(3, IQN)
    helper.new_lun(3, 1, '/dev/loop4')
    helper.new_account('user1', 'Passw0rdPassw0rd')
    helper.bind_account(3, 'user1')
    helper.bind_acl(3, 'ALL')
    helper.bind_acl(3, 'iqn.1994-05.com.redhat:bs-test')
    helper.unbind_acl(3, 'ALL')
    helper.unbind_account(3, 'user1')
    helper.delete_account('user1')
    helper.delete_account('user1')  # already gone: fine
    helper.delete_target(3)
    assert tgtd.calls == [
        T('--op', 'new', '--mode', 'target', '--tid', '3', '-T', IQN),
        T('--op', 'new', '--mode', 'logicalunit', '--tid', '3', '--lun', '1', '-b',
          '/dev/loop4', '--bsoflags', 'direct'),
        T('--op', 'new', '--mode', 'account', '--user', 'user1', '--password',
          'Passw0rdPassw0rd'),
        T('--op', 'bind', '--mode', 'account', '--tid', '3', '--user', 'user1'),
        T('--op', 'bind', '--mode', 'target', '--tid', '3', '--initiator-address', 'ALL'),
        T('--op', 'bind', '--mode', 'target', '--tid', '3', '--initiator-name',
          'iqn.1994-05.com.redhat:bs-test'),
        T('--op', 'unbind', '--mode', 'target', '--tid', '3', '--initiator-address', 'ALL'),
        T('--op', 'unbind', '--mode', 'account', '--tid', '3', '--user', 'user1'),
        T('--op', 'delete', '--mode', 'account', '--user', 'user1'),
        T('--op', 'delete', '--mode', 'account', '--user', 'user1'),
        T('--op', 'delete', '--mode', 'target', '--tid', '3', '--force')]
    # The password is handed to the executor as a secret to mask.
    assert tgtd.kwargs[2]['secrets'] == ('Passw0rdPassw0rd',)


def test_no_bsoflags_when_configured_empty(tmp_path, tgtd):
    helper = tgt.TgtAdm(backend_conf(tmp_path, tgt_bsoflags=''), 'n@b', execute=tgtd)
    tgtd.targets[1] = dict(iqn=IQN, luns={}, accounts=[], acl=[])
    helper.new_lun(1, 1, '/dev/loop4')
    assert tgtd.calls[-1][-2:] == ['-b', '/dev/loop4']


# -- records ---------------------------------------------------------------------------


def test_record_file_is_tgt_admin_syntax_private_and_round_trips(helper, tmp_path):
    vol = new_volume()
    record = base.ExportRecord(iqn=IQN, path='/dev/loop4', lun=1, user='u1',
                               password='P4ssw0rdP4ssw0rd',
                               initiators=['iqn.1994-05.com.redhat:bs-test'])
    helper.save_record(vol, record)
    path = tmp_path / 'targets' / 'volume-v1'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / 'targets').st_mode) == 0o700
    assert path.read_text().splitlines()[1:] == [
        '<target %s>' % IQN,
        '    driver iscsi',
        '    backing-store /dev/loop4',
        '    bsoflags direct',
        '    incominguser u1 P4ssw0rdP4ssw0rd',
        '    initiator-name iqn.1994-05.com.redhat:bs-test',
        '</target>']
    assert helper.load_record(vol) == record
    record.initiators = []
    helper.save_record(vol, record)
    assert '    initiator-address ALL' in path.read_text()
    assert helper.load_record(vol).initiators == []
    assert os.listdir(tmp_path / 'targets') == ['volume-v1']  # no temp files left


def test_unusable_record_is_ignored(helper, tmp_path):
    os.makedirs(tmp_path / 'targets')
    (tmp_path / 'targets' / 'volume-v1').write_text('garbage\n')
    assert helper.load_record(new_volume()) is None


# -- export lifecycle --------------------------------------------------------------


def test_create_export_builds_target_chap_and_acl(helper, tgtd):
    vol = new_volume()
    update = helper.create_export(None, vol, '/dev/loop4', CONNECTOR)
    scheme, user, password = update['provider_auth'].split()
    assert scheme == 'CHAP' and len(user) == 20 and len(password) == 16
    assert update['provider_location'] == '192.0.2.10:3260,1 %s 1' % IQN
    assert tgtd.ops() == [
        T('--op', 'new', '--mode', 'target', '--tid', '1', '-T', IQN),
        T('--op', 'new', '--mode', 'logicalunit', '--tid', '1', '--lun', '1', '-b',
          '/dev/loop4', '--bsoflags', 'direct'),
        T('--op', 'new', '--mode', 'account', '--user', user, '--password', password),
        T('--op', 'bind', '--mode', 'account', '--tid', '1', '--user', user),
        T('--op', 'bind', '--mode', 'target', '--tid', '1', '--initiator-name',
          CONNECTOR['initiator'])]
    # Re-running changes nothing and keeps the credentials.
    n = len(tgtd.ops())
    vol.provider_auth = update['provider_auth']
    assert helper.create_export(None, vol, '/dev/loop4', CONNECTOR) == update
    assert len(tgtd.ops()) == n


def test_credentials_come_from_provider_auth_when_there_is_no_record(helper, tgtd):
    vol = new_volume(provider_auth='CHAP keptuser keptPassw0rd1234')
    update = helper.create_export(None, vol, '/dev/loop4', None)
    assert update['provider_auth'] == 'CHAP keptuser keptPassw0rd1234'
    assert tgtd.targets[1]['acl'] == ['ALL']
    assert tgtd.accounts == {'keptuser': 'keptPassw0rd1234'}


def test_generated_credentials_differ_per_volume(helper):
    a = helper.create_export(None, new_volume('a'), '/dev/loop4', None)['provider_auth']
    b = helper.create_export(None, new_volume('b'), '/dev/loop5', None)['provider_auth']
    assert a.split()[1] != b.split()[1] and a.split()[2] != b.split()[2]


def test_without_chap(tmp_path, tgtd):
    helper = tgt.TgtAdm(backend_conf(tmp_path, use_chap_auth=False), 'n@b', execute=tgtd)
    vol = new_volume()
    update = helper.create_export(None, vol, '/dev/loop4', CONNECTOR)
    assert update['provider_auth'] is None
    assert not [c for c in tgtd.calls if 'account' in c]
    data = helper.initialize_connection(vol, CONNECTOR, '/dev/loop4')['data']
    assert 'auth_method' not in data and 'auth_password' not in data
    assert 'incominguser' not in (tmp_path / 'targets' / 'volume-v1').read_text()


def test_a_target_on_the_wrong_backing_device_is_rebuilt(helper, tgtd):
    tgtd.targets[4] = dict(iqn=IQN, luns={1: ('/dev/loop1', '')}, accounts=[], acl=['ALL'])
    helper.create_export(None, new_volume(), '/dev/loop4', None)
    assert tgtd.ops()[0] == T('--op', 'delete', '--mode', 'target', '--tid', '4', '--force')
    assert tgtd.ops()[1] == T('--op', 'new', '--mode', 'target', '--tid', '1', '-T', IQN)
    assert tgtd.targets[1]['luns'] == {1: ('/dev/loop4', 'direct')}


def test_a_tid_taken_by_another_process_is_retried(helper, tgtd):
    tgtd.targets[1] = dict(iqn='iqn.x:other', luns={}, accounts=[], acl=[])
    tgtd.fail_next.append(('--tid 2 -T', 'tgtadm: this target already exists', 22))
    helper.create_export(None, new_volume(), '/dev/loop4', None)
    assert tgtd.targets[3]['iqn'] == IQN


def test_a_failed_lun_removes_the_half_made_target(helper, tgtd):
    tgtd.fail_next.append(('logicalunit', "tgtadm: invalid request", 22))
    with pytest.raises(exception.ProcessExecutionError):
        helper.create_export(None, new_volume(), '/dev/loop4', None)
    assert tgtd.targets == {}


def test_initialize_connection_data_and_acl(helper, tgtd):
    vol = new_volume()
    vol.provider_auth = helper.create_export(None, vol, '/dev/loop4', None)['provider_auth']
    assert tgtd.targets[1]['acl'] == ['ALL']
    info = helper.initialize_connection(vol, CONNECTOR, '/dev/loop4')
    _, user, password = vol.provider_auth.split()
    assert info == {'driver_volume_type': 'iscsi', 'data': {
        'target_discovered': False, 'target_iqn': IQN, 'target_portal': '192.0.2.10:3260',
        'target_lun': 1, 'target_iqns': [IQN], 'target_portals': ['192.0.2.10:3260'],
        'target_luns': [1], 'volume_id': 'v1', 'auth_method': 'CHAP',
        'auth_username': user, 'auth_password': password, 'discard': True,
        'qos_specs': None, 'access_mode': 'rw', 'encrypted': False}}
    # The named initiator replaced ALL (bound first, so no moment without access).
    assert tgtd.targets[1]['acl'] == [CONNECTOR['initiator']]
    helper.initialize_connection(vol, CONNECTOR_2, '/dev/loop4')
    assert sorted(tgtd.targets[1]['acl']) == sorted([CONNECTOR['initiator'],
                                                     CONNECTOR_2['initiator']])


def test_initialize_connection_recreates_a_removed_export(helper, tgtd):
    vol = new_volume(provider_auth='CHAP keptuser keptPassw0rd1234')
    data = helper.initialize_connection(vol, CONNECTOR, '/dev/loop4')['data']
    assert data['auth_username'] == 'keptuser'
    assert tgtd.targets[1]['acl'] == [CONNECTOR['initiator']]


def test_portals_secondary_and_ipv6(tmp_path, tgtd):
    helper = tgt.TgtAdm(backend_conf(tmp_path, target_ip_address='2001:db8::5',
                                     target_secondary_ip_addresses=['192.0.2.11'],
                                     target_port=3261), 'n@b', execute=tgtd)
    vol = new_volume()
    update = helper.create_export(None, vol, '/dev/loop4', None)
    assert update['provider_location'] == '[2001:db8::5]:3261;192.0.2.11:3261,1 %s 1' % IQN
    data = helper.initialize_connection(vol, None, '/dev/loop4')['data']
    assert data['target_portal'] == '[2001:db8::5]:3261'
    assert data['target_portals'] == ['[2001:db8::5]:3261', '192.0.2.11:3261']
    assert data['target_iqns'] == [IQN, IQN] and data['target_luns'] == [1, 1]


def test_encrypted_volumes_say_so(helper):
    vol = new_volume()
    vol.encryption_key_id = 'key-1'
    assert helper.initialize_connection(vol, None, '/dev/loop4')['data']['encrypted'] is True


@pytest.mark.parametrize('initiator', ['iqn.x y', 'iqn.x\n    incominguser a b', '-rf',
                                       'iqn.x;reboot', 7])
def test_odd_initiator_names_are_refused_before_any_command(helper, tgtd, initiator):
    with pytest.raises(exception.InvalidInput):
        helper.initialize_connection(new_volume(), {'initiator': initiator}, '/dev/loop4')
    assert tgtd.calls == []


def test_terminate_with_remaining_connectors_keeps_the_export(helper, tgtd):
    vol = new_volume()
    helper.create_export(None, vol, '/dev/loop4', None)
    helper.initialize_connection(vol, CONNECTOR, '/dev/loop4')
    helper.initialize_connection(vol, CONNECTOR_2, '/dev/loop4')
    assert helper.terminate_connection(vol, CONNECTOR,
                                       remaining_attachments=[CONNECTOR_2]) is False
    assert tgtd.targets[1]['acl'] == [CONNECTOR_2['initiator']]
    # Two attachments of one host: its initiator stays.
    assert helper.terminate_connection(vol, CONNECTOR_2,
                                       remaining_attachments=[CONNECTOR_2]) is False
    assert tgtd.targets[1]['acl'] == [CONNECTOR_2['initiator']]
    # A count only: nothing can be revoked safely.
    assert helper.terminate_connection(vol, CONNECTOR_2, remaining_attachments=2) is False
    assert tgtd.targets[1]['acl'] == [CONNECTOR_2['initiator']]
    # A remaining connector without an initiator name needs ALL.
    assert helper.terminate_connection(vol, CONNECTOR_2,
                                       remaining_attachments=[{'host': 'h'}]) is False
    assert tgtd.targets[1]['acl'] == ['ALL']
    assert helper.terminate_connection(vol, CONNECTOR_2, remaining_attachments=[]) is True
    assert tgtd.targets == {} and tgtd.accounts == {}
    assert not helper.is_exported(vol)


def test_parse_show_connections():
    text = ('Session: 2\n    Connection: 0\n        Initiator: iqn.2008-11.org.linux-kvm:\n'
            '        IP Address: 127.0.0.1\n'
            'Session: 5\n    Connection: 1\n        Initiator: iqn.1994-05.com.redhat:b\n'
            '        IP Address: 10.0.0.2\n')
    assert tgt.parse_show_connections(text) == [
        (2, 0, 'iqn.2008-11.org.linux-kvm:'), (5, 1, 'iqn.1994-05.com.redhat:b')]
    assert tgt.parse_show_connections('') == []


def test_revoking_an_initiator_closes_its_open_sessions(helper, tgtd):
    # Unbinding an ACL entry only refuses new logins; a revoked host that is
    # still logged in must lose its session too, the others keep theirs.
    vol = new_volume()
    helper.create_export(None, vol, '/dev/loop4', None)
    helper.initialize_connection(vol, CONNECTOR, '/dev/loop4')
    helper.initialize_connection(vol, CONNECTOR_2, '/dev/loop4')
    tgtd.targets[1]['sessions'] = [(1, 0, CONNECTOR['initiator']),
                                   (2, 0, CONNECTOR_2['initiator'])]
    tgtd.calls.clear()
    assert helper.terminate_connection(vol, CONNECTOR,
                                       remaining_attachments=[CONNECTOR_2]) is False
    assert tgtd.targets[1]['sessions'] == [(2, 0, CONNECTOR_2['initiator'])]
    assert T('--op', 'delete', '--mode', 'conn', '--tid', '1', '--sid', '1',
             '--cid', '0') in tgtd.ops()
    # Nothing to close: no connection listing either.
    tgtd.calls.clear()
    assert helper.terminate_connection(vol, CONNECTOR,
                                       remaining_attachments=[CONNECTOR_2]) is False
    assert not [a for a in tgtd.calls if 'conn' in a]
    # An ACL of ALL allows everyone: sessions stay.
    tgtd.targets[1]['sessions'].append((3, 0, CONNECTOR['initiator']))
    assert helper.terminate_connection(vol, CONNECTOR_2,
                                       remaining_attachments=[{'host': 'h'}]) is False
    assert len(tgtd.targets[1]['sessions']) == 2


@pytest.mark.parametrize('connector, remaining', [(CONNECTOR, None), (CONNECTOR, 0),
                                                  (None, [CONNECTOR_2])])
def test_terminate_removes_when_nobody_remains_or_for_everyone(helper, tgtd, connector,
                                                                remaining):
    vol = new_volume()
    helper.create_export(None, vol, '/dev/loop4', CONNECTOR)
    assert helper.terminate_connection(vol, connector, remaining_attachments=remaining)
    assert tgtd.targets == {} and tgtd.accounts == {}
    # Idempotent.
    assert helper.terminate_connection(vol, connector, remaining_attachments=remaining)


def test_remaining_attachments_must_be_a_count_or_connectors(helper):
    helper.create_export(None, new_volume(), '/dev/loop4', None)
    with pytest.raises(TypeError):
        helper.terminate_connection(new_volume(), CONNECTOR, remaining_attachments=True)


def test_remove_export_is_idempotent_and_tolerates_a_missing_daemon(helper, tgtd):
    vol = new_volume()
    helper.create_export(None, vol, '/dev/loop4', None)
    helper.remove_export(None, vol)
    assert tgtd.targets == {} and not helper.is_exported(vol)
    helper.remove_export(None, vol)
    # No record and no tgtd: nothing to remove, no error.
    tgtd.fail_next.append(('show', 'tgtadm: failed to send request hdr to tgt daemon', 107))
    helper.remove_export(None, vol)
    # With a record, a missing daemon is an error (the target may exist).
    helper.create_export(None, vol, '/dev/loop4', None)
    tgtd.fail_next.append(('show', 'tgtadm: failed to send request hdr to tgt daemon', 107))
    with pytest.raises(exception.ProcessExecutionError):
        helper.remove_export(None, vol)
    assert helper.is_exported(vol)


def test_remove_export_clears_a_stray_target_without_record(helper, tgtd):
    tgtd.targets[9] = dict(iqn=IQN, luns={1: ('/dev/loop4', '')}, accounts=['stray'],
                           acl=['ALL'])
    tgtd.accounts['stray'] = 'x'
    helper.remove_export(None, new_volume())
    assert tgtd.targets == {} and tgtd.accounts == {}


def test_ensure_export_restores_from_the_record_after_a_restart(helper, tgtd):
    vol = new_volume()
    update = helper.create_export(None, vol, '/dev/loop4', CONNECTOR)
    tgtd.targets.clear()
    tgtd.accounts.clear()  # tgtd restarted: empty
    assert helper.ensure_export(None, vol, '/dev/loop9') == update
    assert tgtd.targets[1]['luns'] == {1: ('/dev/loop9', 'direct')}
    assert tgtd.targets[1]['acl'] == [CONNECTOR['initiator']]
    assert helper.load_record(vol).path == '/dev/loop9'
    assert tgtd.accounts == {update['provider_auth'].split()[1]:
                             update['provider_auth'].split()[2]}
    assert helper.ensure_export(None, new_volume('never'), '/dev/loop8') is None


def test_passwords_stay_out_of_logs_and_errors(helper, tgtd, caplog):
    caplog.set_level(logging.DEBUG)
    vol = new_volume(provider_auth='CHAP logtestuser L0gTestPassw0rd99')
    helper.create_export(None, vol, '/dev/loop4', None)
    helper.remove_export(None, vol)
    # The failing command carries the password in its argv: the real executor
    # must mask it in the error and the log.
    helper._execute = processutils.execute
    helper.control_port = None
    with pytest.raises(exception.ProcessExecutionError) as info:
        helper.new_account('logtestuser', 'L0gTestPassw0rd99')
    assert '--password' in info.value.cmd
    assert 'L0gTestPassw0rd99' not in caplog.text
    assert 'L0gTestPassw0rd99' not in str(info.value)


def test_get_target_helper(tmp_path):
    assert isinstance(base.get_target_helper(backend_conf(tmp_path), 'n@b'), tgt.TgtAdm)
    assert isinstance(base.get_target_helper(backend_conf(tmp_path, target_helper='lioadm'),
                                             'n@b'), lio.LioAdm)


def test_volumes_dir_defaults_under_state_path(tmp_path):
    helper = tgt.TgtAdm(backend_conf(tmp_path, volumes_dir=None), 'node@lvm-1')
    assert helper.volumes_dir == os.path.join(cfg.CONF.state_path, 'targets', 'lvm-1')


def test_check_for_setup_error_names_the_package(helper, monkeypatch):
    monkeypatch.setattr(tgt.shutil, 'which', lambda name: None)
    with pytest.raises(exception.VolumeBackendAPIException, match='tgt package'):
        helper.check_for_setup_error()


def test_extend_export_re_adds_the_lun_in_the_live_target(helper, tgtd):
    vol = new_volume()
    helper.create_export(None, vol, '/dev/loop1', CONNECTOR)
    (tid, target), = tgtd.targets.items()
    acl, accounts = list(target['acl']), list(target['accounts'])
    tgtd.calls.clear()
    update = helper.extend_export(vol, '/dev/loop1')
    assert update['provider_location'].endswith(',%d %s 1' % (tid, IQN))
    assert [a[5:] for a in tgtd.ops()] == [
        ['--op', 'delete', '--mode', 'logicalunit', '--tid', str(tid), '--lun', '1'],
        ['--op', 'new', '--mode', 'logicalunit', '--tid', str(tid), '--lun', '1',
         '-b', '/dev/loop1', '--bsoflags', 'direct']]
    assert list(tgtd.targets) == [tid]  # same target: sessions, CHAP and ACL stay
    assert tgtd.targets[tid]['acl'] == acl and tgtd.targets[tid]['accounts'] == accounts
    # A new device (a longer loop): the LUN moves to it, the record follows.
    helper.extend_export(vol, '/dev/loop2')
    assert tgtd.targets[tid]['luns'] == {1: ('/dev/loop2', 'direct')}
    assert helper.load_record(vol).path == '/dev/loop2'
    assert helper.extend_export(new_volume('v2'), '/dev/loop3') is None
