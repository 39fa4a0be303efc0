"""os-extend_volume_completion (3.71) in the service layer (mixed into ``volume.api.API``).

The compute host reports how its part of an attached extend went, on
backends that declare ``ComputeExtendOps`` (see ``volume.extend.worker``).
Nothing is left for the backend to do, so the outcome is applied here, in
one transaction: the guarded transition (the volume must be ``extending``
with an awaited completion), the new size on success, the settle back to
in-use, and the removal of the work record and of ``extend_new_size``.
"""

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.db import extends as db_extends
from blockstore.objects import states

LOG = logging.getLogger(__name__)


class ExtendActions:

    def extend_volume_completion(self, ctx, volume, error):
        """As Cinder: success -> the new size, available/in-use; error -> error_extending."""
        new_size = db_extends.awaited_size(ctx, volume.id)
        if new_size is None:
            raise exception.InvalidVolume(
                reason='volume %s is %s and is not awaiting the completion of an extend'
                       % (volume.id, volume.status))
        event = 'extend_completion_failed' if error else 'extend_completed'
        values = {} if error else {'size': new_size}

        def then(session):
            db_extends.finish_in(session, volume.id)
            if not error:
                states.settle(session, volume.id)
            return True
        if not states.transition(ctx, 'volume', volume.id, event, values, then=then):
            reasons = states.explain(ctx, 'volume', volume.id, event)
            raise exception.InvalidVolume(reason='; '.join(reasons))
        if error:
            LOG.error('Compute failed to grow attached volume %s to %s GiB', volume.id,
                      new_size)
        else:
            LOG.info('Compute completed the extend of volume %s to %s GiB', volume.id,
                     new_size)
