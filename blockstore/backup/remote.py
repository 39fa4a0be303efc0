"""How the backup service reaches a volume: its local path, or an export and os-brick.

A backup service need not run on the volume's node. It asks the volume
service (volume RPC 1.8 ``backup_device``) either for a local path (the
service is co-located: same node, or it sees the file backend's directory)
or, sending its os-brick connector, for an export of the same device to it
(``connection_info``); it then connects with os-brick's connector of that
protocol (iSCSI: the kernel initiator; ``local``: the path itself), reads or
writes the device os-brick gives, and disconnects before the volume service
removes the export (``backup_device_release`` with ``exported``).

``[backup] backup_use_export``: ``auto`` exports when the node part of the
volume's host (``node@backend#pool``) is not this service's host;
``always`` and ``never`` force one way (tests, or a shared directory).

os-brick is imported only when an export is used. As root (the service
runs as root, as the volume service does for LVM) its privileged calls run
in this process and its commands without a root helper; otherwise through
``sudo`` and os-brick's privsep daemon.
"""

import contextlib
import os
import threading

from oslo_log import log as logging

from blockstore.common import exception

LOG = logging.getLogger(__name__)

AUTO, ALWAYS, NEVER = 'auto', 'always', 'never'


class DeviceAccessError(exception.BlockstoreException):
    msg_fmt = 'Cannot reach the volume over its export: %(reason)s'
    safe = True


def volume_node(volume_host):
    """The node part of a volume's host ``node@backend#pool``."""
    return (volume_host or '').partition('#')[0].partition('@')[0]


def use_export(mode, service_host, volume_host):
    """Whether a backup service of ``service_host`` reaches a volume of ``volume_host``
    through an export (``mode``: ``[backup] backup_use_export``)."""
    if mode == ALWAYS:
        return True
    if mode == NEVER:
        return False
    return volume_node(volume_host) != service_host


def _root_execute(*cmd, **kwargs):
    """os-brick's executor when already root: no root helper, no privsep daemon."""
    from oslo_concurrency import processutils
    from os_brick.privileged import rootwrap
    kwargs.pop('run_as_root', None)
    kwargs.pop('root_helper', None)
    try:
        return rootwrap.custom_execute(*cmd, **kwargs)
    except OSError as e:
        raise processutils.ProcessExecutionError(cmd=' '.join(cmd), description=str(e))


class Connector:
    """This backup service's os-brick initiator (set up on first use)."""

    DEVICE_SCAN_ATTEMPTS = 3

    def __init__(self, conf, host):
        self.conf = conf
        self.host = host
        self._lock = threading.Lock()
        self._ready = False
        self._properties = None
        self.root_helper = None
        self.execute = None

    def _setup(self):
        with self._lock:
            if self._ready:
                return
            try:
                import os_brick
                from os_brick import privileged
                from oslo_concurrency import lockutils
            except ImportError as e:
                raise DeviceAccessError(reason='os-brick is not installed (%s): a backup '
                                               'service reads volumes of other nodes '
                                               'through it' % e)
            lock_path = None
            with contextlib.suppress(Exception):
                lock_path = self.conf.oslo_concurrency.lock_path
            if not lock_path:
                lock_path = os.path.join(self.conf.state_path, 'locks')
                os.makedirs(lock_path, exist_ok=True)
                lockutils.set_defaults(lock_path=lock_path)
            os_brick.setup(self.conf)
            if os.geteuid() == 0:
                privileged.default.set_client_mode(False)
                privileged.brick_privsep_hide_output.set_client_mode(False)
                self.execute = _root_execute
            else:
                self.root_helper = 'sudo'
            self._ready = True

    def properties(self):
        """The connector sent to volume services (os-brick's get_connector_properties)."""
        self._setup()
        if self._properties is None:
            from os_brick.initiator import connector
            ip = getattr(self.conf.backup, 'backup_connector_ip', None) or '127.0.0.1'
            self._properties = connector.get_connector_properties(
                self.root_helper, ip, False, False, host=self.host, execute=self.execute)
            LOG.info('Backup service %s connects exports as %s', self.host,
                     self._properties.get('initiator') or self._properties.get('ip'))
        return dict(self._properties)

    @contextlib.contextmanager
    def connected(self, connection_info):
        """The local path of an export for the duration of the block."""
        self._setup()
        from os_brick.initiator import connector
        protocol = (connection_info or {}).get('driver_volume_type')
        data = (connection_info or {}).get('data') or {}
        if not protocol:
            raise DeviceAccessError(reason='the volume service gave no connection_info')
        kwargs = {'execute': self.execute} if self.execute else {}
        try:
            brick = connector.InitiatorConnector.factory(
                protocol.upper(), self.root_helper, use_multipath=False,
                device_scan_attempts=self.DEVICE_SCAN_ATTEMPTS, **kwargs)
            info = brick.connect_volume(data)
        except Exception as e:
            raise DeviceAccessError(reason='connecting the %s export failed: %s'
                                    % (protocol, e)) from e
        path = (info or {}).get('path')
        LOG.info('Connected the %s export %s as %s', protocol,
                 data.get('target_iqn') or data.get('device_path'), path)
        try:
            if not path:
                raise DeviceAccessError(reason='os-brick gave no device path: %r' % (info,))
            yield path
        finally:
            try:
                brick.disconnect_volume(data, info)
            except Exception:
                LOG.exception('Disconnecting %s failed', path)
