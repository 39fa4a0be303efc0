"""Image data through the embedded blockstore-all, driven by python-cinderclient.

Glance is the in-test HTTP server (tests/fixtures/fake_glance.py) the
deployment's ``[glance] api_servers`` names. Create from an image, upload to
an image and reimage (3.68) are each checked byte for byte: the volume's
file against the image Glance stores.
"""

import hashlib
import os
import time

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from keystoneauth1 import session as ks_session
import pytest

from tests.fixtures import deployment as depfix
from tests.fixtures.fake_glance import FakeGlance
from tests.fixtures.deployment import MEMBER_HEADERS

GiB = 1024 ** 3


@pytest.fixture(scope='module')
def glance():
    g = FakeGlance().start()
    yield g
    g.stop()


@pytest.fixture(scope='module')
def embedded(tmp_path_factory, glance):
    dep = depfix.Deployment(tmp_path_factory.mktemp('images'),
                            extra_conf='[glance]\napi_servers = %s\n' % glance.url)
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        yield dep
    finally:
        dep.stop_all()


@pytest.fixture
def c(embedded):
    auth = noauth.CinderNoAuthPlugin('demo', 'demo', endpoint=embedded.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client('3.71', session=sess)


def _wait(get, want, timeout=60):
    deadline = time.time() + timeout
    obj = get()
    while obj.status != want and time.time() < deadline:
        assert not obj.status.startswith('error'), obj.status
        time.sleep(0.2)
        obj = get()
    assert obj.status == want, obj.status
    return obj


def _file(dep, vid):
    return os.path.join(dep.volumes_dir('file1'), 'volume-%s' % vid)


def _digest(chunks):
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()


def _file_digest(path, length=None):
    def chunks():
        left = length if length is not None else os.path.getsize(path)
        with open(path, 'rb') as f:
            while left > 0:
                data = f.read(min(8 << 20, left))
                if not data:
                    return
                left -= len(data)
                yield data
    return _digest(chunks())


def _image(seed, length):
    block = hashlib.sha256(seed).digest() * 2048    # 64 KiB of pattern
    out = bytearray(length)
    for offset in range(0, length, 1 << 20):        # one pattern block per MiB
        out[offset:offset + len(block)] = block[:length - offset]
    return bytes(out)


def test_create_from_image_upload_and_reimage(c, embedded, glance):
    # -- create from an image
    data = _image(b'first', 5 * (1 << 20) + 12345)
    image_id = glance.add_image(data, name='first', os_distro='debian')
    vol = c.volumes.create(1, name='from-image', imageRef=image_id)
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    assert vol.bootable == 'true'
    assert vol.volume_image_metadata['image_id'] == image_id
    assert vol.volume_image_metadata['os_distro'] == 'debian'
    path = _file(embedded, vol.id)
    assert os.path.getsize(path) == GiB
    assert _file_digest(path, len(data)) == hashlib.sha256(data).hexdigest()
    with open(path, 'rb') as f:
        f.seek(len(data))
        assert f.read(1 << 20) == bytes(1 << 20)

    # -- upload the volume to a new image
    resp, body = c.volumes.upload_to_image(vol, False, 'uploaded', 'bare', 'raw',
                                           'private', False)
    assert resp.status_code == 202
    up = body['os-volume_upload_image']
    assert up['id'] == vol.id and up['image_name'] == 'uploaded'
    assert up['status'] == 'uploading' and up['disk_format'] == 'raw'
    _wait(lambda: c.volumes.get(vol.id), 'available')
    deadline = time.time() + 60
    while glance.images[up['image_id']]['status'] != 'active' and time.time() < deadline:
        time.sleep(0.2)
    assert glance.images[up['image_id']]['size'] == GiB
    assert _digest([glance.data[up['image_id']]]) == _file_digest(path)

    # -- reimage with another image: its bytes, then zeros where the first one was
    other = _image(b'second', 3 * (1 << 20))
    other_id = glance.add_image(other, name='second')
    c.volumes.reimage(vol, other_id)
    vol = _wait(lambda: c.volumes.get(vol.id), 'available')
    assert vol.volume_image_metadata['image_id'] == other_id
    assert 'os_distro' not in vol.volume_image_metadata
    assert _file_digest(path, len(other)) == hashlib.sha256(other).hexdigest()
    with open(path, 'rb') as f:
        f.seek(len(other))
        assert f.read(len(data)) == bytes(len(data))

    # -- refusals are 4xx with Cinder's error body
    vmdk = glance.add_image(b'KDMV' + bytes(100), disk_format='vmdk')
    from cinderclient import exceptions as cexc
    with pytest.raises(cexc.BadRequest) as info:
        c.volumes.create(1, imageRef=vmdk)
    assert 'vmdk' in str(info.value)
    with pytest.raises(cexc.BadRequest):
        c.volumes.upload_to_image(vol, False, 'x', 'bare', 'qcow2', 'private', False)
    c.volumes.delete(vol)
