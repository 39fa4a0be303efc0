"""Image data through the whole API stack: create from an image, upload, reimage (3.68).

A real volume manager (file driver) runs in process, RPC goes straight to it,
and Glance is the in-test HTTP server (tests/fixtures/fake_glance.py). Every
assertion is on the API's answers, the database, the volume's file and the
bytes the fake Glance stores.
"""

import os
import shutil
import subprocess
import uuid

import pytest
from oslo_config import cfg

from blockstore.api import app as api_app
from blockstore.common import context
from blockstore.db import api as db
from blockstore.db import glance_metadata as db_glance
from blockstore.objects import states
from blockstore.volume import api as volume_api
from tests.fixtures.fake_glance import FakeGlance
from tests.unit.api.conftest import Client, fault_of, make_available
from tests.unit.api.test_attach_extend import nova_api, nova_conf  # noqa: F401
from tests.unit.api.test_attachments import DirectRPC, mgr  # noqa: F401

CONF = cfg.CONF
V = '3.71'
GiB = 1 << 30


@pytest.fixture
def glance():
    g = FakeGlance().start()
    CONF.set_override('api_servers', [g.url], group='glance')
    yield g
    CONF.clear_override('api_servers', group='glance')
    g.stop()


class DirectScheduler:
    """The scheduler placing every volume on the in-process manager's backend."""

    def __init__(self, manager):
        self.m = manager

    def create_volume(self, ctx, volume, request_spec):
        volume.host = self.m.host + '#b1'
        volume.save()
        self.m.create_volume(ctx, volume, request_spec)


@pytest.fixture
def stack(mgr, ctx):  # noqa: F811
    mgr.init_host(ctx)
    return mgr


@pytest.fixture
def volume_rpcapi(stack):
    return DirectRPC(stack)


@pytest.fixture
def scheduler_rpcapi(stack):
    return DirectScheduler(stack)


@pytest.fixture
def c(app, project):
    return Client(app, 'user1:%s' % project, version=V)


def image_bytes(seed, length):
    head = os.urandom(64 * 1024) if seed is None else (bytes([seed]) * 64 * 1024)
    return head + bytes(length - 2 * len(head)) + head


def _path(stack, vid):
    return os.path.join(stack.driver._dir, 'volume-%s' % vid)


def _vol(c, vid):
    return c.get('/v3/volumes/%s' % vid).json['volume']


def test_create_from_image_copies_bytes_and_metadata(c, stack, glance):
    data = image_bytes(7, 3 * 1024 * 1024)
    image_id = glance.add_image(data, name='debian', hw_disk_bus='scsi', os_distro='debian')
    resp = c.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': image_id}})
    assert resp.status_int == 202, resp.body
    vol = _vol(c, resp.json['volume']['id'])
    assert vol['status'] == 'available' and vol['bootable'] == 'true'
    meta = vol['volume_image_metadata']
    assert meta['image_id'] == image_id and meta['image_name'] == 'debian'
    assert meta['os_distro'] == 'debian' and meta['disk_format'] == 'raw'
    with open(_path(stack, vol['id']), 'rb') as f:
        assert f.read(len(data)) == data
        assert f.read(4096) == bytes(4096)
    assert os.path.getsize(_path(stack, vol['id'])) == GiB
    # The zero middle was not written: the file stays sparse.
    assert os.stat(_path(stack, vol['id'])).st_blocks * 512 < 2 * 1024 * 1024


def test_create_from_image_body_image_id_and_size_from_the_image(c, stack, glance):
    image_id = glance.add_image(b'\x01' * 4096, min_disk=2)
    resp = c.post('/v3/volumes', {'volume': {'image_id': image_id}})
    assert resp.status_int == 202, resp.body
    vol = _vol(c, resp.json['volume']['id'])
    assert vol['size'] == 2 and vol['status'] == 'available'


def test_create_from_bad_images_is_a_clear_4xx(c, stack, glance):
    vmdk = glance.add_image(b'KDMV' + bytes(1000), disk_format='vmdk')
    resp = c.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': vmdk}})
    assert resp.status_int == 400 and 'vmdk' in fault_of(resp)[2]
    big = glance.add_image(b'x', min_disk=3)
    resp = c.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': big}})
    assert resp.status_int == 400 and 'at least 3 GiB' in fault_of(resp)[2]
    resp = c.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': str(uuid.uuid4())}})
    assert resp.status_int == 400 and 'Invalid image identifier' in fault_of(resp)[2]
    assert c.get('/v3/volumes').json['volumes'] == []


def test_create_from_an_image_whose_data_vanished_fails_the_volume(c, stack, glance):
    image_id = glance.add_image(b'\x02' * 8192)
    glance.data[image_id] = b'\x02' * 100   # Glance holds less than its record says
    vid = c.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': image_id}}).json['volume']['id']
    assert _vol(c, vid)['status'] == 'error'


def _available(c, stack, data=None):
    vid = c.create_volume()['id']
    vol = _vol(c, vid)
    assert vol['status'] == 'available', vol
    if data is not None:
        with open(_path(stack, vid), 'r+b') as f:
            f.write(data)
    return vid


@pytest.fixture
def small_gib(monkeypatch):
    """File volumes of 1 MiB per GiB: uploads move every byte, and a real GiB is
    seconds of HTTP (the functional test moves real ones)."""
    from blockstore.volume.drivers import file as file_driver
    monkeypatch.setattr(file_driver, 'GiB', 1 << 20)
    return 1 << 20


def test_upload_streams_the_volume_into_a_new_image(c, stack, glance, small_gib):
    data = os.urandom(200 * 1024)
    vid = _available(c, stack, data)
    db_glance.update(context.get_admin_context(), vid, {'image_id': 'older', 'size': '5',
                                                        'os_distro': 'debian'})
    resp = c.post('/v3/volumes/%s/action' % vid, {'os-volume_upload_image': {
        'image_name': 'snap-img', 'visibility': 'private', 'protected': True}})
    assert resp.status_int == 202, resp.body
    body = resp.json['os-volume_upload_image']
    assert body['id'] == vid and body['image_name'] == 'snap-img'
    assert body['disk_format'] == 'raw' and body['container_format'] == 'bare'
    assert body['visibility'] == 'private' and body['protected'] is True
    assert body['volume_type']['name'] and body['size'] == 1
    image = glance.images[body['image_id']]
    assert image['status'] == 'active' and image['size'] == small_gib
    assert image['os_distro'] == 'debian' and image['min_disk'] == 1
    assert 'image_id' not in image and image['id'] == body['image_id']
    stored = glance.data[body['image_id']]
    assert stored[:len(data)] == data and stored[len(data):].count(0) == small_gib - len(data)
    assert _vol(c, vid)['status'] == 'available'


def test_upload_of_an_in_use_volume_needs_force_and_returns_to_in_use(c, stack, glance,
                                                                      small_gib):
    vid = _available(c, stack, b'attached-data')
    db.volume_update(context.get_admin_context(), vid, {'host': stack.host + '#b1'})
    att = c.post('/v3/attachments', {'attachment': {
        'volume_uuid': vid, 'instance_uuid': str(uuid.uuid4()),
        'connector': {'initiator': 'iqn.x:h', 'host': 'h'}}})
    assert att.status_int == 200, att.body
    c.post('/v3/attachments/%s/action' % att.json['attachment']['id'],
           {'os-complete': None})
    assert _vol(c, vid)['status'] == 'in-use'
    path = '/v3/volumes/%s/action' % vid
    resp = c.post(path, {'os-volume_upload_image': {'image_name': 'x'}})
    assert resp.status_int == 400 and 'force' in fault_of(resp)[2]
    assert glance.images == {}
    resp = c.post(path, {'os-volume_upload_image': {'image_name': 'x', 'force': True}})
    assert resp.status_int == 400 and 'enable_force_upload' in fault_of(resp)[2]
    CONF.set_override('enable_force_upload', True)
    try:
        resp = c.post(path, {'os-volume_upload_image': {'image_name': 'x', 'force': True}})
    finally:
        CONF.clear_override('enable_force_upload')
    assert resp.status_int == 202, resp.body
    stored = glance.data[resp.json['os-volume_upload_image']['image_id']]
    assert stored.startswith(b'attached-data')
    assert _vol(c, vid)['status'] == 'in-use'


def test_upload_refuses_other_formats_and_public_images_of_users(c, stack, glance):
    vid = _available(c, stack)
    resp = c.post('/v3/volumes/%s/action' % vid, {'os-volume_upload_image': {
        'image_name': 'x', 'visibility': 'public'}})
    assert resp.status_int == 403 and 'upload_public' in fault_of(resp)[2]
    resp = c.post('/v3/volumes/%s/action' % vid, {'os-volume_upload_image': {
        'image_name': 'x', 'disk_format': 'qcow2'}})
    assert resp.status_int == 400 and 'raw' in fault_of(resp)[2]
    assert glance.images == {}


def test_failed_upload_releases_the_volume_and_deletes_the_image(c, stack, glance, monkeypatch):
    vid = _available(c, stack)

    def broken(*args):
        raise OSError('disk on fire')
    monkeypatch.setattr(stack.driver, 'copy_volume_to_image', broken)
    resp = c.post('/v3/volumes/%s/action' % vid, {'os-volume_upload_image': {
        'image_name': 'x'}})
    assert resp.status_int == 202
    assert glance.images == {}
    assert _vol(c, vid)['status'] == 'available'
    message, = c.get('/v3/messages', version='3.3').json['messages']
    assert message['user_message'].startswith('copy volume to image:')


def test_reimage_replaces_the_bytes_and_metadata(c, stack, glance):
    vid = _available(c, stack, b'\xff' * (3 * 1024 * 1024))
    data = image_bytes(9, 1024 * 1024)
    image_id = glance.add_image(data, name='new-root', os_distro='arch')
    db_glance.update(context.get_admin_context(), vid, {'image_id': 'old', 'old_key': 'x'})
    path = '/v3/volumes/%s/action' % vid
    assert c.post(path, {'os-reimage': {'image_id': str(uuid.uuid4())}}).status_int == 404
    assert _vol(c, vid)['status'] == 'available'
    resp = c.post(path, {'os-reimage': {'image_id': image_id}})
    assert resp.status_int == 202, resp.body
    vol = _vol(c, vid)
    assert vol['status'] == 'available' and vol['bootable'] == 'true'
    assert vol['volume_image_metadata']['image_id'] == image_id
    assert 'old_key' not in vol['volume_image_metadata']
    with open(_path(stack, vid), 'rb') as f:
        assert f.read(len(data)) == data
        assert f.read(2 * 1024 * 1024) == bytes(2 * 1024 * 1024)   # old bytes gone


def test_reimage_reserved_tells_nova_and_stays_reserved(c, stack, glance, nova_conf):  # noqa: F811
    vid = _available(c, stack)
    instance = str(uuid.uuid4())
    c.post('/v3/attachments', {'attachment': {'volume_uuid': vid, 'instance_uuid': instance}})
    assert _vol(c, vid)['status'] == 'reserved'
    image_id = glance.add_image(b'\x05' * 4096)
    path = '/v3/volumes/%s/action' % vid
    resp = c.post(path, {'os-reimage': {'image_id': image_id}})
    assert resp.status_int == 400 and 'reserved' in fault_of(resp)[2]
    resp = c.post(path, {'os-reimage': {'image_id': image_id, 'reimage_reserved': True}})
    assert resp.status_int == 202, resp.body
    assert _vol(c, vid)['status'] == 'reserved'
    events = [e for _, _, body in nova_conf.requests for e in body['events']]
    assert events == [{'name': 'volume-reimaged', 'server_uuid': instance, 'tag': vid,
                       'status': 'completed'}]
    with open(_path(stack, vid), 'rb') as f:
        assert f.read(4096) == b'\x05' * 4096


def test_failed_reimage_is_error_and_nova_hears_it(c, stack, glance, nova_conf):  # noqa: F811
    vid = _available(c, stack)
    instance = str(uuid.uuid4())
    c.post('/v3/attachments', {'attachment': {'volume_uuid': vid, 'instance_uuid': instance}})
    image_id = glance.add_image(b'\x05' * 4096)
    glance.data[image_id] = b'short'
    resp = c.post('/v3/volumes/%s/action' % vid,
                  {'os-reimage': {'image_id': image_id, 'reimage_reserved': True}})
    assert resp.status_int == 202
    assert _vol(c, vid)['status'] == 'error'
    events = [e for _, _, body in nova_conf.requests for e in body['events']]
    assert [e['status'] for e in events] == ['failed']
    message, = c.get('/v3/messages', version='3.3').json['messages']
    assert message['user_message'].startswith('reimage volume:')
    assert message['event_id'] == 'VOLUME_VOLUME_016_001'


def test_interrupted_reimage_is_redone_at_restart(c, stack, glance, ctx):
    vid = _available(c, stack)
    data = image_bytes(3, 256 * 1024)
    image_id = glance.add_image(data)
    # The service layer claimed and recorded the work, then the volume service died
    # before doing it (the cast was lost).
    assert states.transition(ctx, 'volume', vid, 'reimage', work={
        'operation': 'reimage', 'status': states.DOWNLOADING,
        'payload': {'image_meta': {'id': image_id}, 'reimage_reserved': False}})
    assert _vol(c, vid)['status'] == 'downloading'
    stack._recover(ctx)
    import time
    for _ in range(100):
        if _vol(c, vid)['status'] != 'downloading':
            break
        time.sleep(0.05)
    assert _vol(c, vid)['status'] == 'available'
    with open(_path(stack, vid), 'rb') as f:
        assert f.read(len(data)) == data


def _client_with(c, volume_rpcapi, scheduler_rpcapi):
    """``c``'s caller on an API stack whose service layer uses these RPC clients."""
    return Client(api_app.make_app(volume_api=volume_api.API(
        volume_rpcapi=volume_rpcapi, scheduler_rpcapi=scheduler_rpcapi)), c.token, c.version)


def test_image_actions_refuse_old_volume_services(c, stack, glance):
    vid = _available(c, stack)
    image_id = glance.add_image(b'\x01' * 10)
    from blockstore.common import exception

    class Old(DirectRPC):
        def require_images(self, what):
            raise exception.ServiceTooOld(reason='volume services older than RPC 1.6 '
                                                 'cannot %s' % what)
    old = _client_with(c, Old(stack), DirectScheduler(stack))
    for body in ({'os-reimage': {'image_id': image_id}},
                 {'os-volume_upload_image': {'image_name': 'x'}}):
        resp = old.post('/v3/volumes/%s/action' % vid, body)
        assert 'RPC 1.6' in fault_of(resp)[2], resp.body
    resp = old.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': image_id}})
    assert 'RPC 1.6' in fault_of(resp)[2]
    assert _vol(c, vid)['status'] == 'available' and glance.images.keys() == {image_id}


def test_lost_upload_of_an_in_use_volume_is_failed_back_to_in_use(c, stack, glance, ctx):
    from blockstore import objects
    from blockstore.ops import cleanup
    vid = _available(c, stack)
    db.volume_update(ctx, vid, {'host': stack.host + '#b1'})
    att = c.post('/v3/attachments', {'attachment': {
        'volume_uuid': vid, 'instance_uuid': str(uuid.uuid4()),
        'connector': {'initiator': 'iqn.x:h', 'host': 'h'}}}).json['attachment']
    c.post('/v3/attachments/%s/action' % att['id'], {'os-complete': None})
    assert states.transition(ctx, 'volume', vid, 'upload_attached', work={
        'operation': 'upload', 'status': states.UPLOADING,
        'payload': {'image_meta': {'id': str(uuid.uuid4())}}})
    worker, = [w for w in objects.WorkerList.get_all(ctx) if w.resource_id == vid]
    cleanup.fail_work(ctx, worker)
    assert _vol(c, vid)['status'] == 'in-use'
    assert [w for w in objects.WorkerList.get_all(ctx) if w.resource_id == vid] == []


needs_qemu_img = pytest.mark.skipif(shutil.which('qemu-img') is None,
                                    reason='qemu-img (qemu-utils) is not installed')


def _qcow2(tmp_path, raw, backing=None):
    src = tmp_path / 'src.raw'
    src.write_bytes(raw)
    out = tmp_path / 'img.qcow2'
    if backing:
        subprocess.run(['qemu-img', 'create', '-f', 'qcow2', '-F', 'raw', '-b', backing,
                        str(out)], check=True, capture_output=True)
    else:
        subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', str(src), str(out)],
                       check=True, capture_output=True)
    return out.read_bytes()


@needs_qemu_img
def test_create_from_a_qcow2_image_writes_its_raw_bytes(c, stack, glance, tmp_path):
    raw = image_bytes(4, 2 * 1024 * 1024) + b'tail-bytes'
    image_id = glance.add_image(_qcow2(tmp_path, raw), disk_format='qcow2',
                                virtual_size=len(raw))
    vid = c.post('/v3/volumes', {'volume': {'imageRef': image_id}}).json['volume']['id']
    vol = _vol(c, vid)
    assert vol['status'] == 'available' and vol['size'] == 1
    assert vol['volume_image_metadata']['disk_format'] == 'qcow2'
    with open(_path(stack, vid), 'rb') as f:
        assert f.read(len(raw) + 4096) == raw + bytes(4096)


@needs_qemu_img
def test_a_qcow2_image_with_a_backing_file_is_refused(c, stack, glance, tmp_path):
    secret = tmp_path / 'host-secret'
    secret.write_bytes(b'host data' * 1000)
    image_id = glance.add_image(_qcow2(tmp_path, b'', backing=str(secret)),
                                disk_format='qcow2')
    vid = c.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': image_id}}).json[
        'volume']['id']
    assert _vol(c, vid)['status'] == 'error'
    with open(_path(stack, vid), 'rb') as f:
        assert b'host data' not in f.read(1 << 20)


def _settled(c, vid, busy):
    import time
    for _ in range(100):
        if _vol(c, vid)['status'] != busy:
            break
        time.sleep(0.05)
    return _vol(c, vid)['status']


def test_interrupted_upload_is_redone_at_restart(c, stack, glance, ctx, small_gib):
    data = os.urandom(4096)
    vid = _available(c, stack, data)
    from blockstore.image import glance as glance_client
    image = glance_client.Client(ctx).create('redo', disk_format='raw',
                                             container_format='bare')
    assert states.transition(ctx, 'volume', vid, 'upload', work={
        'operation': 'upload', 'status': states.UPLOADING,
        'payload': {'image_meta': {'id': image['id']}}})
    stack._recover(ctx)
    assert _settled(c, vid, 'uploading') == 'available'
    assert glance.images[image['id']]['status'] == 'active'
    assert glance.data[image['id']][:len(data)] == data


def test_interrupted_create_from_image_is_redone_at_restart(c, stack, glance, ctx):
    from tests.unit.api.conftest import RPCRecorder
    data = image_bytes(6, 256 * 1024)
    image_id = glance.add_image(data)
    lost = _client_with(c, DirectRPC(stack), RPCRecorder())      # the cast is lost
    vid = lost.post('/v3/volumes', {'volume': {'size': 1, 'imageRef': image_id}}).json[
        'volume']['id']
    db.volume_update(ctx, vid, {'host': stack.host + '#b1'})
    stack._recover(ctx)
    assert _settled(c, vid, 'creating') == 'available'
    vol = _vol(c, vid)
    assert vol['bootable'] == 'true' and vol['volume_image_metadata']['image_id'] == image_id
    with open(_path(stack, vid), 'rb') as f:
        assert f.read(len(data)) == data
