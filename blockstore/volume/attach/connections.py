"""Legacy attach actions of the service layer (mixed into ``volume.api.API``).

os-initialize_connection and os-terminate_connection: a compute host asks for
(or gives up) a connection to a volume. The volume's state does not change --
attachments and their states come with the attach flow -- but the volume must
be usable by a host, proved by a guarded touch through the transition table
(``use_for_export``). Both are RPC calls to the volume's backend: the caller
waits for the export and its connection_info.
"""

import oslo_messaging as messaging

from blockstore.common import exception
from blockstore.objects import states
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
    """An RPC call whose remote failures become Cinder's answers (400 or 500)."""
    try:
        return fn(*args, **kwargs)
    except messaging.RemoteError as e:
        if e.exc_type == 'InvalidVolume':
            raise exception.InvalidVolume(reason=e.value) from None
        raise exception.VolumeBackendAPIException(
            data='Unable to %s: %s' % (what, e.exc_type)) from None
    except messaging.MessagingTimeout:
        raise VolumeServiceTimeout(
            data='Unable to %s: the volume service did not answer in time' % what) from None


class ConnectionActions:
    """Needs ``self.volume_rpcapi`` (see volume.api.API)."""

    def _claim_for_export(self, ctx, volume):
        project = None if ctx.is_admin else ctx.project_id
        states.transition_or_raise(ctx, 'volume', volume.id, 'use_for_export',
                                   project_id=project)
        if not volume.host:
            raise exception.InvalidVolume(reason='volume %s has no host' % volume.id)

    def initialize_connection(self, ctx, volume, connector):
        """Export ``volume`` for ``connector``; Cinder's connection_info."""
        validate_connector(connector)
        self._claim_for_export(ctx, volume)
        return _call('fetch connection information from backend',
                     self.volume_rpcapi.initialize_connection, ctx, volume, connector)

    def terminate_connection(self, ctx, volume, connector, force=False,
                             allow_any_state=False):
        """Revoke ``connector`` (every connector with ``force``).

        The export stays while other attachments of the volume keep their
        connections. ``allow_any_state``: an administrator's os-force_detach,
        which must work whatever state the volume is stuck in.
        """
        if not force:
            validate_connector(connector)
        if allow_any_state:
            if not volume.host:
                raise exception.InvalidVolume(reason='volume %s has no host' % volume.id)
        else:
            self._claim_for_export(ctx, volume)
        _call('terminate volume connection', self.volume_rpcapi.terminate_connection,
              ctx, volume, connector, force=force)
