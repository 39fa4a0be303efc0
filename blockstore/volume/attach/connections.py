"""Connectors and connection calls to the volume service, for ``attach.service``.

``validate_connector`` checks what a compute host sends (os-brick connector
properties); ``_call`` makes an RPC call to the volume's backend and turns its
remote failures into Cinder's answers (400, 404 or 500). The connection actions
themselves (os-initialize_connection, os-terminate_connection) are methods of
``attach.service.AttachmentService``.
"""

import oslo_messaging as messaging

from blockstore.common import exception
from blockstore.db import attachments as db_att
from blockstore.volume.targets import base as targets_base


def validate_connector(connector):
    """A connector dict with an iSCSI initiator name, else InvalidInput (400)."""
    if not isinstance(connector, dict):
        raise exception.InvalidInput(reason='connector must be an object (os-brick connector '
                                            'properties)')
    if not connector.get('initiator'):
        raise exception.InvalidInput(reason="connector must name the host's 'initiator'")
    targets_base.check_initiator(connector['initiator'])
    return connector


class VolumeServiceTimeout(exception.VolumeBackendAPIException):
    """The volume service did not answer a connection call in time (e.g. it is down).

    Still Cinder's 500, but its message is shown: it names no backend detail
    and tells the caller what happened.
    """
    safe = True


def _call(what, fn, *args, **kwargs):
    """An RPC call whose remote failures become Cinder's answers (400, 404 or 500)."""
    try:
        return fn(*args, **kwargs)
    except messaging.RemoteError as e:
        if e.exc_type == 'InvalidVolume':
            raise exception.InvalidVolume(reason=e.value) from None
        if e.exc_type == 'AttachmentNotFound':
            # Deleted meanwhile (e.g. by a retried delete): the caller decides (404 or done).
            raise db_att.AttachmentNotFound(message=e.value) from None
        raise exception.VolumeBackendAPIException(
            data='Unable to %s: %s' % (what, e.exc_type)) from None
    except messaging.MessagingTimeout:
        raise VolumeServiceTimeout(
            data='Unable to %s: the volume service did not answer in time' % what) from None
