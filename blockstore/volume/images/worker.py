"""The volume manager's image data work (``VolumeManager.images``; RPC 1.6).

* create from an image: ``create_volume`` calls :meth:`ImageWorker.fill_from_image`
  after the driver made the volume; the volume becomes bootable and remembers
  the image's properties (volume_image_metadata).
* upload (os-volume_upload_image): the volume's bytes stream into the queued
  Glance image the service layer created; ``uploading`` ends on available
  with a settle, so an attached volume (force) is in-use again. A failed
  upload deletes the image.
* reimage (3.68): the image's bytes replace the volume's; ``downloading`` ends
  on available with a settle (a volume reserved for Nova's rebuild is
  reserved again) or on error, and Nova is told ``volume-reimaged`` (completed
  or failed) for every instance with an attachment of the volume.

Each is a work record (operations ``upload`` and ``reimage``; the create's
is ``create``): after a crash the volume service redoes it from the start
(an upload to an image Glance already made active fails, and the volume is
released).
"""

from oslo_log import log as logging

from blockstore.common import context as bs_context
from blockstore.common import messages
from blockstore.common import operation
from blockstore.compute import nova
from blockstore.db import attachments as db_att
from blockstore.db import glance_metadata as db_glance
from blockstore.image import convert
from blockstore.image import glance
from blockstore.objects import states
from blockstore.volume.attach import worker as attach_worker
from blockstore.volume.drivers import base as driver_base

LOG = logging.getLogger(__name__)


# The service layer ends an upload whose cast failed with it (images/service.py).
_end = attach_worker.settled_end


def attachment_instances(context, volume_id):
    """Instances with a live attachment of the volume (any state), sorted."""
    return sorted({a.instance_uuid for a in db_att.live_attachments(context, volume_id)
                   if a.instance_uuid})


def replace_image_metadata(context, volume_id, image):
    """The volume's image metadata becomes the image's."""
    meta = glance.volume_image_metadata(image)
    for key in set(db_glance.get(context, volume_id)) - set(meta):
        db_glance.delete(context, volume_id, key)
    db_glance.update(context, volume_id, meta)


class ImageWorker(operation.Worker):
    """Image data work of one backend (``backend``: its driver and host) through the
    manager's operation runner (``operations``)."""

    def _copy_image(self, context, volume, image_id):
        """Download image ``image_id`` into the volume; the image record."""
        self.backend.require(driver_base.ImageOps, 'copying images to volumes')
        client = glance.Client(context)
        image = client.show(image_id)
        glance.check_copyable(image)
        glance.check_fits(image, volume.size)
        LOG.info('Copying image %s (%s bytes) to volume %s', image_id, image['size'],
                 volume.id)
        with convert.raw_data(client, image, volume.size * glance.GiB) as (chunks, size):
            self.backend.driver.copy_image_to_volume(context, volume, chunks, size)
        return image

    def fill_from_image(self, context, volume, image_id):
        """Part of create_volume: the image's bytes and metadata; the model update."""
        image = self._copy_image(context, volume, image_id)
        replace_image_metadata(context, volume.id, image)
        return {'bootable': True}

    # -- os-volume_upload_image -------------------------------------------------

    def copy_volume_to_image(self, context, volume, image_meta):
        image_id = image_meta['id']

        def work():
            self.backend.require(driver_base.ImageOps, 'uploading volumes to images')
            client = glance.Client(context)
            client.upload(image_id, self.backend.driver.copy_volume_to_image(context, volume))
            LOG.info('Volume %s uploaded to image %s', volume.id, image_id)

        def forget(ctx, volume, error):
            self._forget_image(context, image_id)

        self.operations.run(context, volume, operation.Operation(
            'upload', 'upload_done', 'upload_failed', 'COPY_VOLUME_TO_IMAGE',
            end=attach_worker.settled_end, on_failure=forget), work)

    @staticmethod
    def _forget_image(context, image_id):
        try:
            glance.Client(context).delete(image_id)
        except Exception:
            LOG.exception('Could not delete the image %s of a failed upload', image_id)

    # -- os-reimage (3.68) --------------------------------------------------------

    def reimage(self, context, volume, image_meta, reimage_reserved=False):
        def work():
            image = self._copy_image(context, volume, image_meta['id'])
            replace_image_metadata(context, volume.id, image)
            LOG.info('Volume %s reimaged with image %s', volume.id, image_meta['id'])
            return {'bootable': True}

        def end(ctx, volume_id, event, values):
            if event == 'reimage_failed':   # an error is not settled
                return states.transition(ctx, 'volume', volume_id, event, values)
            return attach_worker.settled_end(ctx, volume_id, event, values)

        def tell_nova(ctx, volume, error):
            instances = attachment_instances(context, volume.id)
            if instances and not nova.volume_reimaged(context, volume.id, instances,
                                                      error is not None):
                messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                                volume.id, 'REIMAGE_VOLUME',
                                'The volume was reimaged, but the compute service could not '
                                'be told; instances %s' % ', '.join(instances),
                                level='WARNING')

        self.operations.run(context, volume, operation.Operation(
            'reimage', 'reimage_done', 'reimage_failed', 'REIMAGE_VOLUME',
            end=end, after=tell_nova), work)
