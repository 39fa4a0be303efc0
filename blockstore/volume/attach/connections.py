"""Connectors and connection calls to the volume service, for ``attach.service``.

``validate_connector`` checks what a compute host sends (os-brick connector
properties); ``_call`` makes an RPC call to the volume's backend and turns its
remote failures into Cinder's answers (400, 404, 500, or 503 when it did not
answer in time). The connection actions
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

    A 503 with Retry-After, its message shown (it names no backend detail):
    the work is recorded, so the same request again is safe -- a connect or a
    detach is claimed anew, and a restarted volume service finishes or rolls
    back what it was given.
    """
    code = 503
    safe = True

    def __init__(self, message=None, **kwargs):
        super().__init__(message, **kwargs)
        self.headers = {'Retry-After': RETRY_AFTER}


RETRY_AFTER = '5'

# Remote failures that mean "the volume service could not reach its database"
# (restarting, failing over): the claim it made rolled back; the same request
# again soon is safe.
_DB_UNAVAILABLE = ('DBConnectionError', 'OperationalError')


class VolumeServiceDatabaseUnavailable(exception.BlockstoreException):
    """503 with Retry-After: the volume service could not reach its database."""
    msg_fmt = 'Unable to %(what)s: the volume service could not reach its database; retry'
    code = 503
    safe = True

    def __init__(self, message=None, **kwargs):
        super().__init__(message, **kwargs)
        self.headers = {'Retry-After': RETRY_AFTER}


def _call(what, fn, *args, **kwargs):
    """An RPC call whose remote failures become Cinder's answers (400, 404, 500, 503)."""
    try:
        return fn(*args, **kwargs)
    except messaging.RemoteError as e:
        if e.exc_type == 'InvalidVolume':
            # The remote message is already worded "Invalid volume: ...".
            raise exception.InvalidVolume(message=e.value) from None
        if e.exc_type in _DB_UNAVAILABLE:
            raise VolumeServiceDatabaseUnavailable(what=what) from None
        if e.exc_type == 'AttachmentNotFound':
            # Deleted meanwhile (e.g. by a retried delete): the caller decides (404 or done).
            raise db_att.AttachmentNotFound(message=e.value) from None
        raise exception.VolumeBackendAPIException(
            data='Unable to %s: %s' % (what, e.exc_type)) from None
    except messaging.MessagingTimeout:
        raise VolumeServiceTimeout(
            data='Unable to %s: the volume service did not answer in time' % what) from None
