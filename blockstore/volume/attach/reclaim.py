"""Reclaiming a dead host's attachments (not in Cinder; mixed into ``volume.api.API``).

When a compute host (a Kubernetes node, a hypervisor) is gone for good, its
attachments keep volumes in-use and keep its initiator in the backends'
access lists, and nobody is left to detach them. An administrator asserts
the host is dead (``POST /v3/attachments/reclaim`` with ``confirm_dead``,
or ``blockstore-manage attachment reclaim``): every live attachment whose
``attached_host`` is that host is claimed for detaching with its work
record, the backend revokes the host's access (``attachment_delete`` on
the volume service: terminate_connection, and remove_export when no other
attachment remains), and the attachment is deleted. Each volume settles to
available, or stays in-use while other hosts' attachments remain.

A failure on one attachment does not stop the others: it is reported. When
the volume's service is down the attachment is claimed but not waited for:
it stays ``detaching`` with its work record, which that service completes
when it starts again (reported as pending). An attachment whose service did
not answer in time is left the same way; reclaiming again retries it.
"""

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import utils
from blockstore.db import attachments as db_att
from blockstore import objects
from blockstore.volume.attach import service as attach_flow
from blockstore.volume.attach import connections as connections

CONF = cfg.CONF
LOG = logging.getLogger(__name__)


class _Pending(Exception):
    """Claimed; the volume service that must revoke the host is down."""


class ReclaimActions:
    """Needs ``self.volume_rpcapi`` and ``self.get`` (see volume.api.API)."""

    def reclaim_host(self, ctx, host):
        """Detach every live attachment of ``host``.

        Returns (reclaimed, pending, failed) lists of dicts (id, volume_id,
        instance_uuid; ``reason`` for pending and failed ones).
        """
        if not host or not isinstance(host, str):
            raise exception.InvalidInput(reason='host must name the attached_host to reclaim')
        reclaimed, pending, failed = [], [], []
        up = {}
        for a in db_att.attachment_get_all(ctx, filters={'attached_host': host},
                                           sort_keys=['created_at'], sort_dirs=['asc']):
            entry = {'id': a.id, 'volume_id': a.volume_id, 'instance_uuid': a.instance_uuid}
            try:
                self._reclaim_one(ctx, a, up)
            except _Pending as e:
                LOG.warning('Attachment %s of volume %s (host %s) is detaching: %s', a.id,
                            a.volume_id, host, e)
                pending.append(dict(entry, reason=str(e)))
            except Exception as e:
                reason = e.msg if isinstance(e, exception.BlockstoreException) else str(e)
                LOG.warning('Could not reclaim attachment %s of volume %s (host %s): %s',
                            a.id, a.volume_id, host, reason)
                failed.append(dict(entry, reason=reason))
            else:
                LOG.info('Reclaimed attachment %s of volume %s from dead host %s', a.id,
                         a.volume_id, host)
                reclaimed.append(entry)
        return reclaimed, pending, failed

    def _reclaim_one(self, ctx, attachment, up):
        attach_flow.change(ctx, attachment.volume_id, attachment.id, 'detach',
                           work={'operation': 'detach'}, hold_detaching=False)
        if attachment.connector or attachment.connection_info:
            volume = self.get(ctx, attachment.volume_id)
            backend = utils.backend_of(volume.host)
            if backend not in up:
                up[backend] = _service_up(ctx, backend)
            if not up[backend]:
                raise _Pending('the volume service %s is down; it revokes the host and '
                               'deletes the attachment when it starts again' % backend)
            connections._call('reclaim attachment', self.volume_rpcapi.attachment_delete, ctx,
                              volume, attachment.id)
        else:
            attach_flow.finish_detach(ctx, attachment.volume_id, attachment.id,
                                      hold_detaching=False)


def _service_up(ctx, backend):
    try:
        service = objects.Service.get_by_args(ctx, backend, 'blockstore-volume')
    except exception.NotFound:
        return False
    return service.is_up(CONF.service_down_time)
