"""Image data actions of the service layer (``volume.api.API().images``).

os-volume_upload_image and os-reimage (3.68); creating a volume from an
image is part of ``API.create`` (see :func:`image_for_create`). Images are
checked with Glance before anything is claimed: only raw images in a bare
container are copied (400 otherwise), and they must fit the volume.
"""

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.db import glance_metadata as db_glance
from blockstore.image import glance
from blockstore.objects import states

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


def image_id_of(ref):
    """An image id from imageRef: an id, or a Glance URL ending with one."""
    return ref.rstrip('/').rsplit('/', 1)[-1] if ref else ref


def image_for_create(ctx, image_id, size):
    """(image record, size GiB) of a create from ``image_id``; 400 when it cannot be copied."""
    try:
        image = glance.Client(ctx).show(image_id)
    except glance.ImageNotFound:
        # As Cinder: a create naming an image it cannot see is a bad request.
        raise exception.InvalidInput(
            reason='Invalid image identifier or unable to access requested image.')
    glance.check_copyable(image)
    if size is None:
        size = glance.size_gib(image)
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        glance.check_fits(image, size)
    return image, size


class ImageService:
    """os-volume_upload_image and os-reimage, casting with ``volume_rpcapi``."""

    def __init__(self, volume_rpcapi):
        self.volume_rpcapi = volume_rpcapi

    def copy_volume_to_image(self, ctx, volume, image_name, force=False, disk_format='raw',
                             container_format='bare', visibility=None, protected=None):
        """os-volume_upload_image: a queued image, the volume uploading, a cast.

        Returns the image record Glance made (its ``id`` is the answer's image_id).
        """
        if disk_format not in glance.COPYABLE_DISK_FORMATS or (
                container_format not in glance.COPYABLE_CONTAINER_FORMATS):
            raise exception.InvalidInput(
                reason='volumes are uploaded as %s images in a %s container, not %s in %s'
                % ('/'.join(glance.COPYABLE_DISK_FORMATS),
                   '/'.join(glance.COPYABLE_CONTAINER_FORMATS), disk_format,
                   container_format))
        if volume.status not in (states.AVAILABLE, states.IN_USE):
            raise exception.InvalidVolume(
                reason='Volume %s status must be available or in-use (with force), but is %s'
                % (volume.id, volume.status))
        if volume.status == states.IN_USE and force and not CONF.enable_force_upload:
            raise exception.InvalidVolume(
                reason='Volume %s is in-use: uploading it with force is disabled '
                       '(enable_force_upload)' % volume.id)
        if volume.status == states.IN_USE and not force:
            raise exception.InvalidVolume(
                reason='Volume %s status must be available (or in-use with force), but is '
                       'in-use' % volume.id)
        self.volume_rpcapi.require_images('upload volumes to images')
        event = 'upload_attached' if force and volume.status == states.IN_USE else 'upload'
        # The image inherits the volume's image properties (os_distro, hw_*...), as Cinder's.
        props = {k: v for k, v in db_glance.get(ctx, volume.id).items()
                 if k not in glance.CORE_PROPERTIES}
        props['min_disk'] = volume.size
        if visibility is not None:
            props['visibility'] = visibility
        if protected is not None:
            props['protected'] = bool(protected)
        client = glance.Client(ctx)
        image = client.create(image_name, disk_format=disk_format,
                              container_format=container_format, **props)
        meta = {'id': image['id'], 'name': image_name, 'disk_format': disk_format,
                'container_format': container_format}
        project = None if ctx.is_admin else ctx.project_id
        try:
            states.transition_or_raise(ctx, 'volume', volume.id, event, project_id=project,
                                       work={'operation': 'upload',
                                             'payload': {'image_meta': meta}})
        except Exception:
            client.delete(image['id'])
            raise
        try:
            volume.refresh()
            self.volume_rpcapi.copy_volume_to_image(ctx, volume, meta)
        except Exception:
            from blockstore.volume.images import worker as image_manager
            image_manager._end(ctx, volume.id, 'upload_failed')
            from blockstore.db import api as db
            db.worker_destroy(ctx, 'volume', volume.id, 'upload')
            client.delete(image['id'])
            raise
        return image

    def reimage(self, ctx, volume, image_id, reimage_reserved=False):
        """os-reimage (3.68): the image's bytes replace the volume's, in the volume service."""
        allowed = (states.AVAILABLE, states.ERROR) + (
            (states.RESERVED,) if reimage_reserved else ())
        if volume.status not in allowed:
            raise exception.InvalidVolume(
                reason='Volume %s status must be %s to reimage, but is %s'
                       % (volume.id, ' or '.join(allowed), volume.status))
        self.volume_rpcapi.require_images('reimage volumes')
        image = glance.Client(ctx).show(image_id)
        glance.check_copyable(image)
        glance.check_fits(image, volume.size)
        meta = {'id': image['id'], 'size': image.get('size')}
        event = 'reimage_reserved' if reimage_reserved else 'reimage'
        project = None if ctx.is_admin else ctx.project_id
        states.transition_or_raise(ctx, 'volume', volume.id, event, project_id=project,
                                   work={'operation': 'reimage',
                                         'payload': {'image_meta': meta,
                                                     'reimage_reserved': reimage_reserved}})
        try:
            volume.refresh()
            self.volume_rpcapi.reimage(ctx, volume, meta, reimage_reserved)
        except Exception:
            states.transition(ctx, 'volume', volume.id, 'reimage_failed')
            from blockstore.db import api as db
            db.worker_destroy(ctx, 'volume', volume.id, 'reimage')
            raise
