"""The attach flow through real clients against the embedded blockstore-all.

python-cinderclient (Python API and the ``cinder`` CLI), openstacksdk and
the ``openstack`` CLI, in noauth mode. The embedded file backend exports
volumes locally (``driver_volume_type: local``): the connection_info names
the volume's file, and these tests write through it and read the bytes back.
"""

import os
import shutil
import subprocess
import sys
import time
import uuid

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from cinderclient import exceptions as cinder_exc
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import openstack.connection
import pytest

from tests.fixtures import deployment as depfix
from tests.fixtures.deployment import MEMBER_HEADERS

CONNECTOR = {'initiator': 'iqn.1994-05.com.example:client-test', 'host': 'compute-ct',
             'ip': '127.0.0.1', 'platform': 'x86_64', 'os_type': 'linux', 'multipath': False}


@pytest.fixture(scope='module')
def embedded(tmp_path_factory):
    dep = depfix.Deployment(tmp_path_factory.mktemp('embedded-attach'))
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        c = _cinder(dep)
        deadline = time.time() + 30
        while not c.pools.list() and time.time() < deadline:
            time.sleep(0.2)
        yield dep
    finally:
        dep.stop_all()


def _cinder(dep, project='admin', version='3.71'):
    auth = noauth.CinderNoAuthPlugin(project, project, endpoint=dep.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client(version, session=sess)


def _project():
    return 'att-' + uuid.uuid4().hex[:8]


def _available_volume(c, size=1):
    vol = c.volumes.create(size)
    return _wait(lambda: c.volumes.get(vol.id), 'available')


def _wait(get, want, timeout=30):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        time.sleep(0.1)
        obj = get()
    assert obj.status == want, obj.status
    return obj


def _write_read(info, payload):
    """What a host on this machine does with a local connection: use the file."""
    assert info['driver_volume_type'] == 'local'
    path = info['device_path']
    with open(path, 'r+b') as f:
        f.write(payload)
    with open(path, 'rb') as f:
        assert f.read(len(payload)) == payload


def test_cinderclient_attachments_api(embedded):
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    instance = str(uuid.uuid4())
    created = c.attachments.create(vol.id, None, instance_id=instance)   # a dict, as 9.x
    assert (created['status'], created['instance']) == ('reserved', instance)
    assert c.volumes.get(vol.id).status == 'reserved'
    att = c.attachments.update(created['id'], CONNECTOR)
    info = att.connection_info
    assert info['attachment_id'] == att.id
    _write_read(info, b'cinderclient')
    c.attachments.complete(att.id)
    vol = c.volumes.get(vol.id)
    assert vol.status == 'in-use'
    assert vol.attachments[0]['server_id'] == instance
    listed = c.attachments.list(search_opts={'volume_id': vol.id})
    assert [a.id for a in listed] == [att.id]
    assert c.attachments.show(att.id).status == 'attached'
    # A second instance on a plain volume is refused.
    with pytest.raises(cinder_exc.BadRequest):
        c.attachments.create(vol.id, None, instance_id=str(uuid.uuid4()))
    with pytest.raises(cinder_exc.BadRequest):
        c.volumes.delete(vol.id)
    c.attachments.delete(att.id)
    assert c.volumes.get(vol.id).status == 'available'
    c.volumes.delete(vol.id)


def test_cinderclient_legacy_actions(embedded):
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    c.volumes.reserve(vol)
    assert c.volumes.get(vol.id).status == 'attaching'
    c.volumes.unreserve(vol)
    assert c.volumes.get(vol.id).status == 'available'
    c.volumes.reserve(vol)
    info = c.volumes.initialize_connection(vol, CONNECTOR)
    _write_read(dict(info['data'], driver_volume_type=info['driver_volume_type']), b'legacy')
    instance = str(uuid.uuid4())
    c.volumes.attach(vol, instance, '/dev/vdb', mode='rw')
    vol = c.volumes.get(vol.id)
    assert vol.status == 'in-use' and vol.attachments[0]['device'] == '/dev/vdb'
    c.volumes.begin_detaching(vol)
    assert c.volumes.get(vol.id).status == 'detaching'
    c.volumes.roll_detaching(vol)
    assert c.volumes.get(vol.id).status == 'in-use'
    c.volumes.begin_detaching(vol)
    c.volumes.terminate_connection(vol, CONNECTOR)
    c.volumes.detach(vol, vol.attachments[0]['attachment_id'])
    assert c.volumes.get(vol.id).status == 'available'


def _cli(dep, project, *args):
    cinder = shutil.which('cinder', path=os.path.dirname(sys.executable))
    cmd = [cinder, '--os-auth-type', 'noauth', '--os-user-id', project,
           '--os-project-id', project, '--os-endpoint', dep.endpoint + '/v3',
           '--os-volume-api-version', '3.71'] + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (cmd, out.stdout, out.stderr)
    return out.stdout


def test_cinder_cli_attachment_commands(embedded):
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    instance = str(uuid.uuid4())
    out = _cli(embedded, project, 'attachment-create', vol.id, instance, '--connect', 'True',
               '--initiator', CONNECTOR['initiator'], '--host', CONNECTOR['host'],
               '--ip', '127.0.0.1', '--mode', 'rw')
    assert 'device_path' in out and 'local' in out
    (att,) = c.attachments.list(search_opts={'volume_id': vol.id})
    assert att.status == 'attaching'
    _cli(embedded, project, 'attachment-complete', att.id)
    assert 'attached' in _cli(embedded, project, 'attachment-show', att.id)
    assert att.id in _cli(embedded, project, 'attachment-list', '--volume-id', vol.id)
    _cli(embedded, project, 'attachment-delete', att.id)
    assert c.volumes.get(vol.id).status == 'available'


def _sdk(dep, project):
    auth = token_endpoint.Token(dep.endpoint + '/v3', '%s:%s' % (project, project))
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return openstack.connection.Connection(session=sess, block_storage_api_version='3',
                                           block_storage_endpoint_override=dep.endpoint + '/v3')


def test_openstacksdk_attachments(embedded):
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    conn = _sdk(embedded, project)
    instance = str(uuid.uuid4())
    att = conn.block_storage.create_attachment(vol.id, instance=instance, connector=CONNECTOR,
                                               mode='rw')
    _write_read(att.connection_info, b'openstacksdk')
    conn.block_storage.complete_attachment(att)
    assert conn.block_storage.get_volume(vol.id).status == 'in-use'
    found = [a.id for a in conn.block_storage.attachments(volume_id=vol.id)]
    assert found == [att.id]
    conn.block_storage.delete_attachment(att, ignore_missing=False)
    assert conn.block_storage.get_volume(vol.id).status == 'available'


def test_openstack_cli_attachment_list_and_show(embedded):
    project = _project()
    c = _cinder(embedded, project)
    vol = _available_volume(c)
    att_id = c.attachments.create(vol.id, None, instance_id=str(uuid.uuid4()))['id']
    osc = shutil.which('openstack', path=os.path.dirname(sys.executable))
    base = [osc, '--os-auth-type', 'admin_token', '--os-token', '%s:%s' % (project, project),
            '--os-endpoint', embedded.endpoint + '/v3', '--os-volume-api-version', '3.71']
    out = subprocess.run(base + ['volume', 'attachment', 'list', '-f', 'value', '-c', 'ID'],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert att_id in out.stdout
    out = subprocess.run(base + ['volume', 'attachment', 'show', att_id, '-f', 'value',
                                 '-c', 'Status'], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'reserved'
    out = subprocess.run(base + ['volume', 'attachment', 'delete', att_id],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert c.volumes.get(vol.id).status == 'available'
