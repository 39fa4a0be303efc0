"""Image data on the LVM backend through the API: create from an image, upload, reimage.

The embedded ``blockstore-all`` runs on the host tier's throw-away VG (as in
test_api_lvm_iscsi.py), with ``[glance] api_servers`` naming the in-test
Glance. Each step is checked against the LV's extents in the PV image,
read through the tier's own loop device (not the driver's data path).
"""

import hashlib
import os
import textwrap
import time

from cinderclient import client as cinder_client
from cinderclient.contrib import noauth
from keystoneauth1 import session as ks_session
import pytest

from tests.e2e.host import test_api_lvm_iscsi as api_lvm
from tests.fixtures import deployment as depfix
from tests.fixtures.fake_glance import FakeGlance
from tests.fixtures.deployment import MEMBER_HEADERS

GiB = 1024 ** 3
MiB = 1024 ** 2


@pytest.fixture
def glance():
    g = FakeGlance().start()
    yield g
    g.stop()


@pytest.fixture
def deployment(tmp_path, host_vg, tgtd, glance):
    workdir = tmp_path / 'deployment'
    workdir.mkdir()
    conf = textwrap.dedent(api_lvm.lvm_conf(host_vg, tgtd)) + '\n[glance]\napi_servers = %s\n' % glance.url
    dep = depfix.Deployment(workdir, backends=(api_lvm.BACKEND,), volume_driver='lvm',
                            extra_conf=conf)
    dep.write_config()
    dep.start('all')
    try:
        dep.wait_for_api()
        yield dep
    finally:
        dep.stop_all()


def _cinder(dep):
    auth = noauth.CinderNoAuthPlugin('demo', 'demo', endpoint=dep.endpoint + '/v3')
    sess = ks_session.Session(auth=auth, additional_headers=MEMBER_HEADERS)
    return cinder_client.Client('3.71', session=sess)


def _read_lv(host_vg, lv, offset, length):
    with host_vg.lv_loop(lv) as dev:
        fd = os.open(dev, os.O_RDONLY)
        try:
            return os.pread(fd, length, offset)
        finally:
            os.close(fd)


def _lv_digest(host_vg, lv):
    h = hashlib.sha256()
    with host_vg.lv_loop(lv) as dev:
        fd = os.open(dev, os.O_RDONLY)
        try:
            offset = 0
            while offset < GiB:
                data = os.pread(fd, 8 * MiB, offset)
                assert data
                h.update(data)
                offset += len(data)
        finally:
            os.close(fd)
    return h.hexdigest()


def _pattern(seed, length):
    block = hashlib.sha256(seed).digest() * 2048
    out = bytearray(length)
    for offset in range(0, length, MiB):
        out[offset:offset + len(block)] = block[:length - offset]
    return bytes(out)


def test_images_to_and_from_lvm_volumes(deployment, host_vg, glance):
    c = _cinder(deployment)
    data = _pattern(b'lvm-first', 6 * MiB + 777)
    image_id = glance.add_image(data, name='first')
    vol = c.volumes.create(1, imageRef=image_id)
    vol = api_lvm._wait(lambda: c.volumes.get(vol.id), 'available', timeout=90)
    assert vol.bootable == 'true' and vol.volume_image_metadata['image_id'] == image_id
    lv = 'volume-%s' % vol.id
    assert _read_lv(host_vg, lv, 0, len(data)) == data
    assert _read_lv(host_vg, lv, len(data), MiB) == bytes(MiB)

    resp, body = c.volumes.upload_to_image(vol, False, 'from-lvm', 'bare', 'raw',
                                           'private', False)
    up = body['os-volume_upload_image']
    api_lvm._wait(lambda: c.volumes.get(vol.id), 'available', timeout=120)
    deadline = time.time() + 60
    while glance.images[up['image_id']]['status'] != 'active' and time.time() < deadline:
        time.sleep(0.2)
    stored = glance.data[up['image_id']]
    assert len(stored) == GiB
    assert hashlib.sha256(stored).hexdigest() == _lv_digest(host_vg, lv)

    other = _pattern(b'lvm-second', 2 * MiB)
    other_id = glance.add_image(other, name='second')
    c.volumes.reimage(vol, other_id)
    vol = api_lvm._wait(lambda: c.volumes.get(vol.id), 'available', timeout=90)
    assert vol.volume_image_metadata['image_id'] == other_id
    assert _read_lv(host_vg, lv, 0, len(data)) == other + bytes(len(data) - len(other))
    c.volumes.delete(vol)
    api_lvm._wait_gone(c, vol.id)
    assert not host_vg.lv_exists(lv)
