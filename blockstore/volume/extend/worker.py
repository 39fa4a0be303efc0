"""The volume manager's extend (mixed into ``VolumeManager``), attached volumes included.

An available volume grows through the driver and returns to available. An
attached one (3.42) grows the same way on backends that can do it while it
is in use (LVM: the LV grows, the target sees the new size), returns to
in-use (every end of an extend settles the volume from its attachments in
the same transaction), and then the compute service is told, one
``volume-extended`` event per attached instance, so the guests rescan. A
failed notification does not fail the extend: it is logged and recorded as
a user message.

On backends that declare ``ComputeExtendOps`` the compute host grows an
attached volume: the backend prepares, the work record becomes an awaited
completion (``db.extends``), Nova is notified, and the volume stays
``extending`` until ``os-extend_volume_completion`` (3.71) ends it.
"""

from oslo_concurrency import lockutils
from oslo_log import log as logging

from blockstore.common import context as bs_context
from blockstore.common import exception
from blockstore.common import messages
from blockstore.compute import nova
from blockstore.db import api as db
from blockstore.db import attachments as db_att
from blockstore.db import extends as db_extends
from blockstore.objects import states
from blockstore.volume.drivers import base as driver_base

LOG = logging.getLogger(__name__)


def attached_instances(context, volume_id):
    """Instances the volume is attached to (complete attachments), sorted."""
    return sorted({a.instance_uuid for a in db_att.live_attachments(context, volume_id)
                   if a.attach_status == states.ATTACHED and a.instance_uuid})


def end(context, volume_id, event, values=None):
    """Apply an end of an extend, settling the volume from its attachments; True if won."""
    return states.transition(context, 'volume', volume_id, event, values,
                             then=states.settler(volume_id))


def notify_extended(context, volume, instances):
    """Tell compute the volume grew; a failure is a user message, never an error."""
    if not instances:
        return True
    if nova.volume_extended(context, volume.id, instances):
        LOG.info('Told compute that volume %s grew (instances %s)', volume.id, instances)
        return True
    messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME', volume.id,
                    'EXTEND_VOLUME',
                    'The volume was extended, but the compute service could not be told; '
                    'the instances %s may need to rescan their disk.' % ', '.join(instances),
                    level='WARNING')
    return False


class ExtendManager:
    """Needs the manager's ``driver``, ``service``, ``_ready``, ``_setup_driver``."""

    def extend_volume(self, context, volume, new_size):
        with lockutils.lock('volume-%s' % volume.id):
            volume.refresh()
            if volume.status != states.EXTENDING or volume.deleted:
                LOG.info('Skipping extend of volume %s: status is %s', volume.id,
                         volume.status)
                return
            db.worker_set_service(context, 'volume', volume.id, self.service.id)
            instances = attached_instances(context, volume.id)
            by_compute = bool(instances) and driver_base.supports(
                self.driver, driver_base.ComputeExtendOps)
            try:
                if not self._ready and not self._setup_driver(context):
                    raise exception.DriverNotInitialized()
                if by_compute:
                    if len(instances) != 1:
                        raise exception.InvalidVolume(
                            reason='volume %s is attached to %d instances; its backend grows '
                                   'an attached volume only through its one compute host'
                                   % (volume.id, len(instances)))
                    self.driver.prepare_attached_extend(volume, new_size)
                else:
                    self.driver.extend_volume(volume, new_size)
            except Exception as e:
                LOG.exception('Extend of volume %s failed', volume.id)
                self._extend_failed(context, volume, e)
                return
            if by_compute:
                self._await_compute(context, volume, new_size, instances)
                return
            if not end(context, volume.id, 'extend_done', {'size': new_size}):
                LOG.warning('Extend of volume %s finished but its state changed meanwhile',
                            volume.id)
            db.worker_destroy(context, 'volume', volume.id, 'extend')
            instances = attached_instances(context, volume.id)
        LOG.info('Volume %s extended to %s GiB', volume.id, new_size)
        notify_extended(context, volume, instances)

    def _extend_failed(self, context, volume, error):
        end(context, volume.id, 'extend_failed')
        db.worker_destroy(context, 'volume', volume.id, 'extend')
        reason = error.msg if isinstance(error, exception.BlockstoreException) else str(error)
        messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                        volume.id, 'EXTEND_VOLUME_FROM_BACKEND', reason)

    def _await_compute(self, context, volume, new_size, instances):
        """Hand the extend to the compute host; roll it back if compute cannot be told."""
        if not db_extends.await_completion(context, volume.id, new_size):
            LOG.warning('Extend of volume %s lost its work record meanwhile', volume.id)
            return
        if nova.volume_extended(context, volume.id, instances):
            LOG.info('Volume %s: waiting for compute to complete its extend to %s GiB',
                     volume.id, new_size)
            return
        LOG.warning('Volume %s: compute could not be told to grow it; the extend failed',
                    volume.id)
        states.transition(context, 'volume', volume.id, 'extend_completion_failed',
                          then=lambda session: db_extends.finish_in(session, volume.id) or True)
        messages.record(bs_context.get_admin_context(), volume.project_id, 'VOLUME',
                        volume.id, 'EXTEND_VOLUME',
                        'The compute service could not be asked to grow the attached volume.')
