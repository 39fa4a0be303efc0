"""The volume manager's image data work (mixed into ``VolumeManager``; RPC 1.6).

* create from an image: ``create_volume`` calls :meth:`ImageManager.fill_from_image`
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

from oslo_concurrency import lockutils
from oslo_log import log as logging

from blockstore.common import context as bs_context
from blockstore.common import exception
from blockstore.common import messages
from blockstore.compute import nova
from blockstore.db import api as db
from blockstore.db import attachments as db_att
from blockstore.db import glance_metadata as db_glance
from blockstore.image import convert
from blockstore.image import glance
from blockstore.objects import states
from blockstore.volume.drivers import base as driver_base

LOG = logging.getLogger(__name__)


def _end(context, volume_id, event, values=None):
    return states.transition(context, 'volume', volume_id, event, values,
                             then=states.settler(volume_id))


def _reason(error):
    return error.msg if isinstance(error, exception.BlockstoreException) else str(error)


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


class ImageManager:
    """Needs the manager's ``driver``, ``service``, ``_ready``, ``_setup_driver``, ``_require``."""

    def _copy_image(self, context, volume, image_id):
        """Download image ``image_id`` into the volume; the image record."""
        self._require(driver_base.ImageOps, 'copying images to volumes')
        client = glance.Client(context)
        image = client.show(image_id)
        glance.check_copyable(image)
        glance.check_fits(image, volume.size)
        LOG.info('Copying image %s (%s bytes) to volume %s', image_id, image['size'],
                 volume.id)
        with convert.raw_data(client, image, volume.size * glance.GiB) as (chunks, size):
            self.driver.copy_image_to_volume(context, volume, chunks, size)
        return image

    def fill_from_image(self, context, volume, image_id):
        """Part of create_volume: the image's bytes and metadata; the model update."""
        image = self._copy_image(context, volume, image_id)
        replace_image_metadata(context, volume.id, image)
        return {'bootable': True}

    # -- os-volume_upload_image -------------------------------------------------

    def copy_volume_to_image(self, context, volume, image_meta):
        with lockutils.lock('volume-%s' % volume.id):
            volume.refresh()
            if volume.status != states.UPLOADING or volume.deleted:
                LOG.info('Skipping upload of volume %s: status is %s', volume.id,
                         volume.status)
                return
            db.worker_set_service(context, 'volume', volume.id, self.service.id)
            image_id = image_meta['id']
            try:
                if not self._ready and not self._setup_driver(context):
                    raise exception.DriverNotInitialized()
                self._require(driver_base.ImageOps, 'uploading volumes to images')
                client = glance.Client(context)
                client.upload(image_id, self.driver.copy_volume_to_image(context, volume))
            except Exception as e:
                LOG.exception('Upload of volume %s to image %s failed', volume.id, image_id)
                _end(context, volume.id, 'upload_failed')
                self._forget_image(context, image_id)
                messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                                volume.id, 'COPY_VOLUME_TO_IMAGE', _reason(e))
            else:
                LOG.info('Volume %s uploaded to image %s', volume.id, image_id)
                if not _end(context, volume.id, 'upload_done'):
                    LOG.warning('Upload of volume %s finished but its state changed meanwhile',
                                volume.id)
            finally:
                db.worker_destroy(context, 'volume', volume.id, 'upload')

    @staticmethod
    def _forget_image(context, image_id):
        try:
            glance.Client(context).delete(image_id)
        except Exception:
            LOG.exception('Could not delete the image %s of a failed upload', image_id)

    # -- os-reimage (3.68) --------------------------------------------------------

    def reimage(self, context, volume, image_meta, reimage_reserved=False):
        with lockutils.lock('volume-%s' % volume.id):
            volume.refresh()
            if volume.status != states.DOWNLOADING or volume.deleted:
                LOG.info('Skipping reimage of volume %s: status is %s', volume.id,
                         volume.status)
                return
            db.worker_set_service(context, 'volume', volume.id, self.service.id)
            failed = False
            try:
                if not self._ready and not self._setup_driver(context):
                    raise exception.DriverNotInitialized()
                image = self._copy_image(context, volume, image_meta['id'])
                replace_image_metadata(context, volume.id, image)
            except Exception as e:
                failed = True
                LOG.exception('Reimage of volume %s with image %s failed', volume.id,
                              image_meta['id'])
                states.transition(context, 'volume', volume.id, 'reimage_failed')
                messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                                volume.id, 'REIMAGE_VOLUME', _reason(e))
            else:
                LOG.info('Volume %s reimaged with image %s', volume.id, image_meta['id'])
                if not _end(context, volume.id, 'reimage_done', {'bootable': True}):
                    LOG.warning('Reimage of volume %s finished but its state changed '
                                'meanwhile', volume.id)
            finally:
                db.worker_destroy(context, 'volume', volume.id, 'reimage')
            instances = attachment_instances(context, volume.id)
        if instances and not nova.volume_reimaged(context, volume.id, instances, failed):
            messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                            volume.id, 'REIMAGE_VOLUME',
                            'The volume was reimaged, but the compute service could not be '
                            'told; instances %s' % ', '.join(instances), level='WARNING')
