"""The LIO helper against a fake configfs tree that a fake targetcli edits.

The fake applies each targetcli command to the tree the helper reads its
live state from, so these tests follow the reconcile: which commands an
ACL change costs, and that other initiators' ACLs are never touched.
"""

import os
import shutil

import pytest

from blockstore.common import exception
from blockstore.common import processutils
from blockstore.volume.targets import base
from blockstore.volume.targets import lio
from tests.unit.targets.test_tgt import CONNECTOR, CONNECTOR_2, IQN, backend_conf, new_volume

TPG = '/iscsi/%s/tpg1' % IQN
INIT_A, INIT_B = CONNECTOR['initiator'], CONNECTOR_2['initiator']
PASSWORD = 'P4ssw0rdP4ssw0rd'


def _write(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(value + '\n')


class FakeTargetcli:
    """Applies targetcli argv to a configfs-like directory tree."""

    def __init__(self, root):
        self.root = root
        self.calls = []
        os.makedirs(os.path.join(root, 'core'))
        os.makedirs(os.path.join(root, 'iscsi'))

    def tpg_dir(self, path):
        iqn = path.split('/')[2]
        return os.path.join(self.root, 'iscsi', iqn, 'tpgt_1')

    def __call__(self, *argv, **kwargs):
        self.calls.append((list(argv), kwargs))
        assert argv[0] == 'targetcli'
        path, args = argv[1], list(argv[2:])
        if path == 'saveconfig':
            return processutils.Result('', '', 0)
        if path == '/backstores/block':
            if args[0] == 'create':
                opts = dict(a.split('=', 1) for a in args[1:])
                _write(os.path.join(self.root, 'core', 'iblock_0', opts['name'], 'udev_path'),
                       opts['dev'])
            else:
                self._remove(os.path.join(self.root, 'core', 'iblock_0', args[1]),
                             'No storage object named %s' % args[1])
        elif path == '/iscsi':
            tpg = os.path.join(self.root, 'iscsi', args[1], 'tpgt_1')
            if args[0] == 'create':
                for sub in ('np/0.0.0.0:3260', 'lun', 'acls'):
                    os.makedirs(os.path.join(tpg, sub))
                for name, value in (('generate_node_acls', '0'), ('authentication', '0'),
                                    ('demo_mode_write_protect', '1')):
                    _write(os.path.join(tpg, 'attrib', name), value)
                _write(os.path.join(tpg, 'auth', 'userid'), '')
                _write(os.path.join(tpg, 'auth', 'password'), '')
            else:
                self._remove(os.path.dirname(tpg), 'No such Target')
        elif path.endswith('/portals'):
            np = os.path.join(self.tpg_dir(path), 'np', '%s:%s' % (args[1], args[2]))
            if args[0] == 'create':
                os.makedirs(np)
            else:
                self._remove(np, 'No such NetworkPortal')
        elif path.endswith('/luns'):
            os.makedirs(os.path.join(self.tpg_dir(path), 'lun', 'lun_%s' % args[2][4:]))
        elif path.endswith('/acls'):
            acl = os.path.join(self.tpg_dir(path), 'acls', args[1])
            if args[0] == 'create':
                _write(os.path.join(acl, 'auth', 'userid'), '')
                _write(os.path.join(acl, 'auth', 'password'), '')
            else:
                self._remove(acl, 'No such NodeACL')
        elif args[:2] == ['set', 'attribute']:
            for item in args[2:]:
                key, value = item.split('=')
                _write(os.path.join(self.tpg_dir(path), 'attrib', key), value)
        elif args[:2] == ['set', 'auth']:
            where = self.tpg_dir(path)
            if '/acls/' in path:
                where = os.path.join(where, 'acls', path.rsplit('/', 1)[1])
            for item in args[2:]:
                key, value = item.split('=')
                _write(os.path.join(where, 'auth', key), value)
        else:
            raise AssertionError('unexpected targetcli call %r' % (argv,))
        return processutils.Result('', '', 0)

    @staticmethod
    def _remove(path, missing):
        if not os.path.isdir(path):
            raise processutils.ProcessExecutionError(stderr=missing, exit_code=1,
                                                     cmd='targetcli')
        shutil.rmtree(path)

    def argvs(self):
        argvs = [argv for argv, _ in self.calls]
        self.calls.clear()
        return argvs


@pytest.fixture
def fake(tmp_path):
    return FakeTargetcli(str(tmp_path / 'configfs'))


@pytest.fixture
def helper(tmp_path, fake):
    h = lio.LioAdm(backend_conf(tmp_path, target_helper='lioadm'), 'n@b', execute=fake)
    h.configfs = fake.root
    return h


def record(**kw):
    values = dict(iqn=IQN, path='/dev/vg/volume-v1', lun=0, user='u1', password=PASSWORD,
                  initiators=[INIT_A])
    values.update(kw)
    return base.ExportRecord(**values)


def test_create_commands_build_from_nothing(helper):
    assert helper.create_commands(record()) == [
        ['targetcli', '/backstores/block', 'create', 'name=volume-v1',
         'dev=/dev/vg/volume-v1'],
        ['targetcli', '/iscsi', 'create', IQN],
        ['targetcli', TPG + '/portals', 'delete', '0.0.0.0', '3260'],
        ['targetcli', TPG + '/portals', 'create', '192.0.2.10', '3260'],
        ['targetcli', TPG + '/luns', 'create', '/backstores/block/volume-v1', 'lun=0'],
        ['targetcli', TPG, 'set', 'attribute', 'generate_node_acls=0', 'authentication=1'],
        ['targetcli', TPG + '/acls', 'create', INIT_A],
        ['targetcli', '%s/acls/%s' % (TPG, INIT_A), 'set', 'auth', 'userid=u1',
         'password=' + PASSWORD],
        ['targetcli', 'saveconfig']]


def test_acl_all_and_no_chap(helper):
    assert helper.acl_commands(record(initiators=[])) == [
        ['targetcli', TPG, 'set', 'attribute', 'generate_node_acls=1',
         'demo_mode_write_protect=0', 'authentication=1'],
        ['targetcli', TPG, 'set', 'auth', 'userid=u1', 'password=' + PASSWORD]]
    assert helper.acl_commands(record(initiators=[], user=None, password=None)) == [
        ['targetcli', TPG, 'set', 'attribute', 'generate_node_acls=1',
         'demo_mode_write_protect=0', 'authentication=0']]


def test_export_then_reapply_is_free(helper, fake):
    vol = new_volume(provider_auth='CHAP u1 %s' % PASSWORD)
    update = helper.create_export(None, vol, '/dev/vg/volume-v1', CONNECTOR)
    assert update['provider_location'] == '192.0.2.10:3260,1 %s 0' % IQN
    assert fake.argvs() == helper.create_commands(helper.load_record(vol))
    assert all(kw['secrets'] == (PASSWORD,) for _, kw in fake.calls)
    state = helper.live_state(helper.load_record(vol))
    assert state.backstore == '/dev/vg/volume-v1'
    assert state.portals == {'192.0.2.10:3260'} and state.luns == {0}
    assert state.acls == {INIT_A: ('u1', PASSWORD)}
    # Nothing differs: no targetcli at all (ensure_export at every start).
    helper.ensure_export(None, vol, '/dev/vg/volume-v1')
    helper.initialize_connection(vol, CONNECTOR, '/dev/vg/volume-v1')
    assert fake.argvs() == []


def test_adding_and_removing_an_initiator_touches_only_its_acl(helper, fake):
    vol = new_volume(provider_auth='CHAP u1 %s' % PASSWORD)
    helper.initialize_connection(vol, CONNECTOR, '/dev/vg/volume-v1')
    fake.argvs()
    helper.initialize_connection(vol, CONNECTOR_2, '/dev/vg/volume-v1')
    assert fake.argvs() == [
        ['targetcli', TPG + '/acls', 'create', INIT_B],
        ['targetcli', '%s/acls/%s' % (TPG, INIT_B), 'set', 'auth', 'userid=u1',
         'password=' + PASSWORD],
        ['targetcli', 'saveconfig']]
    assert set(helper.live_state(helper.load_record(vol)).acls) == {INIT_A, INIT_B}
    assert not helper.terminate_connection(vol, CONNECTOR_2, [CONNECTOR])
    assert fake.argvs() == [['targetcli', TPG + '/acls', 'delete', INIT_B],
                            ['targetcli', 'saveconfig']]
    assert helper.live_state(helper.load_record(vol)).acls == {INIT_A: ('u1', PASSWORD)}
    assert helper.terminate_connection(vol, CONNECTOR, [])
    assert fake.argvs() == [['targetcli', '/iscsi', 'delete', IQN],
                            ['targetcli', '/backstores/block', 'delete', 'volume-v1'],
                            ['targetcli', 'saveconfig']]
    assert helper.live_state(record()) == lio._ABSENT


def test_switching_to_acl_all_revokes_named_acls_first(helper, fake):
    vol = new_volume(provider_auth='CHAP u1 %s' % PASSWORD)
    helper.initialize_connection(vol, CONNECTOR, '/dev/vg/volume-v1')
    fake.argvs()
    helper.initialize_connection(vol, {'host': 'nameless'}, '/dev/vg/volume-v1')
    assert fake.argvs() == [
        ['targetcli', TPG + '/acls', 'delete', INIT_A],
        ['targetcli', TPG, 'set', 'attribute', 'generate_node_acls=1',
         'demo_mode_write_protect=0'],
        ['targetcli', TPG, 'set', 'auth', 'userid=u1', 'password=' + PASSWORD],
        ['targetcli', 'saveconfig']]


def test_backstore_on_another_device_is_rebuilt(helper, fake):
    vol = new_volume(provider_auth='CHAP u1 %s' % PASSWORD)
    helper.create_export(None, vol, '/dev/loop1', CONNECTOR)
    fake.argvs()
    helper.ensure_export(None, vol, '/dev/loop2')
    argvs = fake.argvs()
    assert argvs[:2] == [['targetcli', '/iscsi', 'delete', IQN],
                         ['targetcli', '/backstores/block', 'delete', 'volume-v1']]
    assert argvs[2:] == helper.create_commands(helper.load_record(vol))
    assert helper.live_state(helper.load_record(vol)).backstore == '/dev/loop2'


def test_portal_changes_are_reconciled(helper, fake, tmp_path):
    vol = new_volume()
    helper.create_export(None, vol, '/dev/loop1', CONNECTOR)
    fake.argvs()
    helper.configuration = backend_conf(tmp_path, target_helper='lioadm',
                                        target_ip_address='192.0.2.11')
    helper.ensure_export(None, vol, '/dev/loop1')
    assert fake.argvs() == [['targetcli', TPG + '/portals', 'create', '192.0.2.11', '3260'],
                            ['targetcli', TPG + '/portals', 'delete', '192.0.2.10', '3260'],
                            ['targetcli', 'saveconfig']]


def test_removing_what_does_not_exist_runs_nothing(helper, fake):
    helper.remove_export(None, new_volume())
    assert fake.argvs() == []


def test_refuses_clearly_without_configfs(helper, fake, tmp_path):
    helper.configfs = str(tmp_path / 'absent')
    with pytest.raises(exception.VolumeBackendAPIException, match='configfs'):
        helper.check_for_setup_error()
    with pytest.raises(exception.VolumeBackendAPIException, match='target_core_mod'):
        helper.create_export(None, new_volume(), '/dev/vg/volume-v1', CONNECTOR)
    assert fake.calls == []
    helper.remove_export(None, new_volume())  # nothing to remove: fine
