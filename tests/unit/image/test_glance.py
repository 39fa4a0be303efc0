"""The Glance client against the in-test Glance HTTP server."""

import pytest
from oslo_config import cfg

from blockstore.common import exception
from blockstore.image import glance
from tests.fixtures.fake_glance import FakeGlance


@pytest.fixture
def fake():
    g = FakeGlance().start()
    cfg.CONF.set_override('api_servers', [g.url], group='glance')
    yield g
    cfg.CONF.clear_override('api_servers', group='glance')
    g.stop()


class Ctx:
    auth_token = 'tok-123'


def test_show_and_download_pass_the_request_token(fake):
    data = b'\x01' * 5000 + b'\x00' * 3000
    image_id = fake.add_image(data)
    c = glance.Client(Ctx())
    image = c.show(image_id)
    assert image['size'] == 8000 and image['disk_format'] == 'raw'
    assert b''.join(c.download(image_id, chunk_size=1024)) == data
    assert all(token == 'tok-123' for _, _, token in fake.requests)


def test_create_and_upload_stream_the_chunks(fake):
    c = glance.Client(Ctx())
    image = c.create('up', disk_format='raw', container_format='bare', visibility='private')
    assert image['status'] == 'queued'
    c.upload(image['id'], iter([b'abc', b'', b'def' * 1000]))
    assert fake.data[image['id']] == b'abc' + b'def' * 1000
    assert c.show(image['id'])['status'] == 'active'


def test_missing_image_is_a_404(fake):
    with pytest.raises(glance.ImageNotFound) as e:
        glance.Client(Ctx()).show('7d9ac1fb-0000-4000-8000-000000000000')
    assert e.value.code == 404


def test_no_endpoint_is_not_available():
    with pytest.raises(exception.NotAvailable):
        glance.Client(Ctx())


def test_non_raw_images_are_refused_with_a_400():
    with pytest.raises(glance.ImageUnacceptable) as e:
        glance.check_copyable({'id': 'i', 'status': 'active', 'disk_format': 'vmdk',
                               'container_format': 'bare'})
    assert e.value.code == 400 and 'vmdk' in str(e.value.msg)
    with pytest.raises(glance.ImageUnacceptable):
        glance.check_copyable({'id': 'i', 'status': 'queued', 'disk_format': 'raw',
                               'container_format': 'bare'})


def test_sizes_and_metadata():
    image = {'id': 'i', 'name': 'n', 'size': glance.GiB + 1, 'min_disk': 0,
             'disk_format': 'raw', 'container_format': 'bare', 'status': 'active',
             'hw_disk_bus': 'scsi', 'tags': ['x']}
    assert glance.size_gib(image) == 2
    with pytest.raises(glance.ImageUnacceptable):
        glance.check_fits(image, 1)
    meta = glance.volume_image_metadata(image)
    assert meta['image_id'] == 'i' and meta['image_name'] == 'n'
    assert meta['hw_disk_bus'] == 'scsi' and 'tags' not in meta and 'status' not in meta
    from blockstore.volume.drivers import image_data
    assert list(image_data.rechunk([b'ab', b'', b'cde', b'f'], 4)) == [b'abcd', b'ef']
