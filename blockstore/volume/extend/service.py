"""Extending a volume, in the service layer (``volume.api.API().extend``).

``extend`` (os-extend) claims the volume and casts to its backend
(``volume.extend.worker``). ``extend_volume_completion`` (3.71): the compute
host reports how its part of an attached extend went, on backends that
declare ``ComputeExtendOps`` (see ``volume.extend.worker``).
Nothing is left for the backend to do, so the outcome is applied here, in
one transaction: the guarded transition (the volume must be ``extending``
with an awaited completion), the new size on success, the settle back to
in-use, and the removal of the work record and of ``extend_new_size``.
"""

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import extends as db_extends
from blockstore.objects import states

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class ExtendService:
    """os-extend and os-extend_volume_completion, casting with ``volume_rpcapi``."""

    def __init__(self, volume_rpcapi):
        self.volume_rpcapi = volume_rpcapi

    def extend(self, ctx, volume, new_size, attached=False):
        """``attached`` (3.42): an in-use volume may grow too."""
        if not isinstance(new_size, int) or isinstance(new_size, bool) or new_size <= 0:
            raise exception.InvalidInput(reason='new_size must be a positive integer')
        if new_size <= volume.size:
            raise exception.InvalidInput(
                reason='New size for extend must be greater than current size. '
                       '(current: %(size)s, extended: %(new_size)s).' %
                       {'size': volume.size, 'new_size': new_size})
        if new_size > CONF.max_volume_size:
            raise exception.VolumeSizeExceedsLimit(size=new_size, limit=CONF.max_volume_size)
        project = None if ctx.is_admin else ctx.project_id
        event = 'extend_attached' if attached and volume.status == states.IN_USE else 'extend'
        if event == 'extend_attached':
            self.volume_rpcapi.require_attached_extend()
        states.transition_or_raise(ctx, 'volume', volume.id, event, project_id=project,
                                   work={'operation': 'extend',
                                         'payload': {'new_size': new_size}})
        quota.verify_extend(ctx, volume, new_size,   # undoes the claim and raises 413 if over
                            undo=lambda: states.unclaim_extend(ctx, volume.id))
        volume.refresh()
        if event == 'extend_attached':
            self.volume_rpcapi.extend_volume(ctx, volume, new_size, attached=True)
        else:
            self.volume_rpcapi.extend_volume(ctx, volume, new_size)

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
