"""An image's bytes as a volume holds them: raw images as they are, qcow2 converted.

A qcow2 image is downloaded to a private temporary directory, inspected with
``qemu-img info`` (it must really be qcow2, with no backing file and no
external data file: those would make qemu-img read files of this host),
converted to a sparse raw file with ``qemu-img convert``, and streamed from
there. The directory is removed afterwards, whatever happens.
"""

import contextlib
import json
import os
import shutil
import tempfile

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import processutils
from blockstore.image import glance
from blockstore.volume.drivers import image_data

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

CONVERT_TIMEOUT = 3600


def can_convert():
    return shutil.which('qemu-img') is not None


@contextlib.contextmanager
def raw_data(client, image, limit):
    """``(chunks, size)`` of the raw bytes of ``image``, at most ``limit`` bytes."""
    image_id = image['id']
    if image.get('disk_format') == 'raw':
        yield client.download(image_id), int(image['size'])
        return
    if image.get('disk_format') != 'qcow2':
        raise glance.ImageUnacceptable(image_id=image_id,
                                       reason='disk_format %s' % image.get('disk_format'))
    workdir = tempfile.mkdtemp(prefix='bs-image-', dir=CONF.glance.conversion_dir)
    try:
        src = os.path.join(workdir, 'image.qcow2')
        with open(src, 'wb') as f:
            for chunk in client.download(image_id):
                f.write(chunk)
        info = _info(image_id, src)
        size = int(info['virtual-size'])
        if size > limit:
            raise glance.ImageUnacceptable(
                image_id=image_id,
                reason='its virtual size %d bytes exceeds the volume (%d bytes)' % (size, limit))
        dst = os.path.join(workdir, 'image.raw')
        processutils.execute('qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', '-t', 'none',
                             src, dst, timeout=CONVERT_TIMEOUT)
        os.unlink(src)
        yield image_data.read_volume(dst, size), size
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _info(image_id, path):
    out = processutils.execute('qemu-img', 'info', '--output=json', '-f', 'qcow2', path,
                               timeout=120).stdout
    try:
        info = json.loads(out)
    except ValueError as e:
        raise glance.ImageUnacceptable(image_id=image_id,
                                       reason='qemu-img cannot read it: %s' % e)
    if info.get('format') != 'qcow2':
        raise glance.ImageUnacceptable(image_id=image_id, reason='it is not a qcow2 file')
    if info.get('backing-filename') or info.get('full-backing-filename'):
        raise glance.ImageUnacceptable(image_id=image_id, reason='it has a backing file')
    data_file = (info.get('format-specific') or {}).get('data', {}).get('data-file')
    if data_file:
        raise glance.ImageUnacceptable(image_id=image_id, reason='it has an external data file')
    return info

