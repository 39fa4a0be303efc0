"""iSCSI target helpers: the objects a driver *has* to export its volumes.

A helper turns "this volume's bytes are at this device path" into a live
iSCSI target and builds Cinder's iSCSI ``connection_info``. The parts every
implementation shares live here:

* the persistent **export record** of each volume, one private file per
  volume in ``volumes_dir`` (mode 0600: it holds the CHAP secret), written
  atomically before the live target is changed. It is the source of truth
  from which :meth:`ISCSITarget.ensure_export` rebuilds a target after the
  target daemon (or the host) restarted;
* per-volume CHAP credentials (``secrets`` module), returned as the model
  update ``provider_auth = 'CHAP <user> <password>'`` (Cinder's format);
* the initiator ACL: ``ALL`` or the initiator names of the connectors
  attached;
* ``provider_location`` (``'<portal>[;<portal>...],<tid> <iqn> <lun>'``) and
  the connection info.

Subclasses implement four primitives against their target daemon:
``_render``/``_parse`` (the record file's syntax), ``_apply`` (make the
live target match a record, idempotently; returns the tid) and
``_remove_live`` (delete the live target).

Secrets: CHAP passwords are never logged; commands carrying them pass them
to the executor's ``secrets`` so errors mask them too.
"""

import abc
import dataclasses
import ipaddress
import os
import re
import secrets
import string
import tempfile
import threading

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import processutils

LOG = logging.getLogger(__name__)

ACL_ALL = 'ALL'
_CRED_ALPHABET = string.ascii_letters + string.digits
# iqn./eui./naa. names: no whitespace, nothing a config file or argv could misread.
_INITIATOR_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.:_-]{0,222}$')
_VOLUME_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}$')


def generate_credential(length):
    """A random string of letters and digits (safe in URLs, argv and tgt files)."""
    return ''.join(secrets.choice(_CRED_ALPHABET) for _ in range(length))


def parse_provider_auth(value):
    """``'CHAP user pass'`` -> ``('user', 'pass')``; anything else -> None."""
    if not value:
        return None
    parts = value.split()
    if len(parts) == 3 and parts[0] == 'CHAP':
        return parts[1], parts[2]
    return None


def check_initiator(name):
    """Return ``name`` if it is a plausible iSCSI initiator name, else InvalidInput."""
    if not isinstance(name, str) or not _INITIATOR_RE.match(name):
        raise exception.InvalidInput(reason='invalid iSCSI initiator name %r' % (name,))
    return name


def connector_initiator(connector):
    """The validated ``initiator`` of an os-brick connector dict, or None."""
    if not connector:
        return None
    name = connector.get('initiator')
    return check_initiator(name) if name else None


def format_portal(address, port):
    """``'ip:port'``, or ``'[ipv6]:port'``."""
    try:
        if ipaddress.ip_address(address).version == 6:
            return '[%s]:%s' % (address, port)
    except ValueError:
        pass  # a host name
    return '%s:%s' % (address, port)


@dataclasses.dataclass
class ExportRecord:
    """What a volume's target must look like; persisted per volume."""

    iqn: str
    path: str
    lun: int
    user: str = None
    password: str = None
    initiators: list = dataclasses.field(default_factory=list)

    @property
    def chap(self):
        return bool(self.user and self.password)

    def acl(self):
        """The ACL entries to bind: the initiators, or ALL when there are none."""
        return sorted(set(self.initiators)) or [ACL_ALL]


def _remaining(remaining_attachments):
    """Normalise ``remaining_attachments`` -> ``(count, initiators or None)``.

    ``initiators`` is None when only a count was given (unknown initiators);
    a connector without an ``initiator`` counts as needing ``ALL``.
    """
    if remaining_attachments is None:
        return 0, set()
    if isinstance(remaining_attachments, bool):
        raise TypeError('remaining_attachments must be a count or a list of connectors')
    if isinstance(remaining_attachments, int):
        return remaining_attachments, None
    initiators = set()
    count = 0
    for conn in remaining_attachments:
        count += 1
        initiators.add(connector_initiator(conn) or ACL_ALL)
    return count, initiators


class ISCSITarget(abc.ABC):
    """Base of the iSCSI target helpers (see the module docstring)."""

    protocol = 'iscsi'
    #: LUN number of the volume inside its target.
    LUN = 0
    #: Lengths of generated CHAP credentials.
    CHAP_USER_LENGTH = 20
    CHAP_PASSWORD_LENGTH = 16

    def __init__(self, conf, host, execute=processutils.execute):
        """:param conf: backend config group (see ``backend_opts``).
        :param host: ``'node@backend'`` of the owning backend.
        :param execute: command executor (processutils.execute signature).
        """
        self.configuration = conf
        self.host = host
        self._execute = execute
        self.timeout = getattr(conf, 'storage_command_timeout', processutils.DEFAULT_TIMEOUT)
        backend = (host or 'default').partition('@')[2] or 'default'
        self.volumes_dir = conf.volumes_dir or os.path.join(
            cfg.CONF.state_path, 'targets', backend)
        self._locks = {}
        self._locks_guard = threading.Lock()

    # -- subclass primitives ------------------------------------------------

    @abc.abstractmethod
    def check_for_setup_error(self):
        """Verify the target implementation is usable on this host.

        :raises VolumeBackendAPIException: naming what is missing.
        """

    @abc.abstractmethod
    def _render(self, record):
        """The text of ``record``'s persistent file."""

    @abc.abstractmethod
    def _parse(self, text):
        """An ExportRecord from a persistent file's text (None if unusable)."""

    @abc.abstractmethod
    def _apply(self, record):
        """Make the live target match ``record`` (create, fix LUN, CHAP, ACL).

        Idempotent; returns the target id.
        """

    @abc.abstractmethod
    def _remove_live(self, record):
        """Delete the live target of ``record`` and its CHAP account; idempotent."""

    # -- naming and records ---------------------------------------------------

    def do_setup(self):
        """Create ``volumes_dir`` (private: records hold CHAP secrets)."""
        try:
            os.makedirs(self.volumes_dir, mode=0o700, exist_ok=True)
        except OSError as e:
            raise exception.VolumeBackendAPIException(
                data='cannot create volumes_dir %s: %s' % (self.volumes_dir, e)) from e

    def iqn(self, volume):
        """The target IQN of ``volume``: ``target_prefix`` + volume name."""
        return self.configuration.target_prefix + self._volume_name(volume)

    @staticmethod
    def _volume_name(volume):
        name = volume.name
        if not isinstance(name, str) or not _VOLUME_NAME_RE.match(name):
            raise exception.InvalidInput(reason='unusable volume name %r' % (name,))
        return name

    def record_path(self, volume):
        """Path of ``volume``'s persistent export record."""
        return os.path.join(self.volumes_dir, self._volume_name(volume))

    def load_record(self, volume):
        """``volume``'s ExportRecord, or None when it is not exported."""
        try:
            with open(self.record_path(volume)) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise exception.VolumeBackendAPIException(
                data='cannot read export record of %s: %s' % (volume.name, e)) from e
        record = self._parse(text)
        if record is None:
            LOG.warning('Export record %s is unusable; ignoring it', self.record_path(volume))
        return record

    def save_record(self, volume, record):
        """Write ``record`` atomically with mode 0600."""
        path = self.record_path(volume)
        self.do_setup()
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp',
                                   dir=self.volumes_dir)
        try:
            with os.fdopen(fd, 'w') as f:
                f.write(self._render(record))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def delete_record(self, volume):
        try:
            os.unlink(self.record_path(volume))
        except FileNotFoundError:
            pass

    def is_exported(self, volume):
        """Whether ``volume`` has an export record."""
        return os.path.exists(self.record_path(volume))

    def _lock(self, volume):
        with self._locks_guard:
            return self._locks.setdefault(volume.name, threading.Lock())

    # -- building blocks ------------------------------------------------------

    def portals(self):
        """Every portal told to initiators, primary first."""
        conf = self.configuration
        addresses = [conf.target_ip_address] + list(conf.target_secondary_ip_addresses or [])
        return [format_portal(a, conf.target_port) for a in addresses]

    def _credentials(self, volume, existing=None):
        if not self.configuration.use_chap_auth:
            return None, None
        if existing is not None and existing.chap:
            return existing.user, existing.password
        auth = parse_provider_auth(getattr(volume, 'provider_auth', None))
        if auth:
            return auth
        return (generate_credential(self.CHAP_USER_LENGTH),
                generate_credential(self.CHAP_PASSWORD_LENGTH))

    def _new_record(self, volume, path, existing=None, initiators=None):
        user, password = self._credentials(volume, existing)
        if existing is not None:
            existing.path = path
            existing.user, existing.password = user, password
            if initiators is not None:
                existing.initiators = initiators
            return existing
        return ExportRecord(iqn=self.iqn(volume), path=path, lun=self.LUN, user=user,
                            password=password, initiators=list(initiators or []))

    def _model_update(self, record, tid):
        location = '%s,%s %s %s' % (';'.join(self.portals()), tid, record.iqn, record.lun)
        auth = 'CHAP %s %s' % (record.user, record.password) if record.chap else None
        return {'provider_location': location, 'provider_auth': auth}

    def _store_and_apply(self, volume, record):
        self.save_record(volume, record)
        return self._apply(record)

    # -- the driver-facing operations ----------------------------------------

    def create_export(self, context, volume, volume_path, connector=None):
        """Export ``volume_path`` as ``volume``'s target; re-runnable.

        CHAP credentials are kept from an earlier export record or the
        volume's ``provider_auth``, else generated. The ACL is the
        connector's initiator, or ALL without one.

        :returns: model update ``{'provider_location', 'provider_auth'}``.
        """
        initiator = connector_initiator(connector)
        with self._lock(volume):
            existing = self.load_record(volume)
            initiators = None
            if existing is None or initiator:
                initiators = [initiator] if initiator else []
                if existing is not None:
                    initiators = sorted(set(existing.initiators) | set(initiators))
            record = self._new_record(volume, volume_path, existing, initiators)
            tid = self._store_and_apply(volume, record)
        LOG.info('Exported %s as %s (tid %s)', volume.name, record.iqn, tid)
        return self._model_update(record, tid)

    def _record_at(self, volume, volume_path):
        """``volume``'s export record, pointed at ``volume_path`` (saved when the
        path moved); None when the volume has none. Call under its lock."""
        record = self.load_record(volume)
        if record is not None and record.path != volume_path:
            record.path = volume_path
            self.save_record(volume, record)
        return record

    def ensure_export(self, context, volume, volume_path):
        """Rebuild ``volume``'s live target from its record (e.g. after a
        tgtd restart), pointing it at ``volume_path``.

        :returns: the model update, or None when the volume has no record.
        """
        with self._lock(volume):
            record = self._record_at(volume, volume_path)
            if record is None:
                return None
            tid = self._apply(record)
        return self._model_update(record, tid)

    def extend_export(self, volume, volume_path):
        """``volume`` grew: make its live target report the new size, keeping
        the target and its sessions (initiators see it after a rescan).

        ``volume_path`` is the device now backing the volume (it may differ
        from the record's, e.g. a new loop device over the longer extent
        range). A volume without an export record is left alone.

        :returns: the model update, or None when the volume is not exported.
        """
        with self._lock(volume):
            record = self._record_at(volume, volume_path)
            if record is None:
                return None
            tid = self._resize_live(record)
        LOG.info('Export of %s follows its new size', volume.name)
        return self._model_update(record, tid)

    def _resize_live(self, record):
        """Make the live target show the backing device's current size.

        The default, :meth:`_apply`, suits daemons that read the device's
        size on every READ CAPACITY (LIO's block backstore); returns the tid.
        """
        return self._apply(record)

    def remove_export(self, context, volume):
        """Delete ``volume``'s live target, CHAP account and record; idempotent."""
        with self._lock(volume):
            record = self.load_record(volume)
            if record is None:
                # Never exported, or already removed: clear a stray live target
                # if the daemon answers, but an unreachable daemon holds nothing.
                stray = ExportRecord(iqn=self.iqn(volume), path=None, lun=self.LUN)
                try:
                    self._remove_live(stray)
                except exception.VolumeBackendAPIException as e:
                    LOG.debug('No export of %s to remove (%s)', volume.name, e)
                return
            self._remove_live(record)
            self.delete_record(volume)
        LOG.info('Removed the export of %s', volume.name)

    def initialize_connection(self, volume, connector, volume_path):
        """Let ``connector`` in and describe the target, Cinder style.

        Re-creates the export if it is gone (e.g. the previous connection was
        terminated), adds the connector's initiator to the ACL (replacing
        ALL) and returns::

            {'driver_volume_type': 'iscsi',
             'data': {'target_discovered': False, 'target_iqn', 'target_portal',
                      'target_lun', 'target_iqns', 'target_portals',
                      'target_luns', 'volume_id', 'auth_method': 'CHAP',
                      'auth_username', 'auth_password', 'discard': True,
                      'qos_specs': None, 'access_mode': 'rw', 'encrypted'}}

        (the three auth keys only with CHAP).
        """
        initiator = connector_initiator(connector)
        with self._lock(volume):
            existing = self.load_record(volume)
            current = set(existing.initiators) if existing else set()
            wanted = sorted(current | {initiator}) if initiator else sorted(current)
            if not initiator and existing is not None and current:
                # A connector without an initiator name can only get in via ALL.
                wanted = []
            record = self._new_record(volume, volume_path, existing, wanted)
            self._store_and_apply(volume, record)
        return self.connection_info(volume, record)

    def connection_info(self, volume, record):
        """Cinder's iSCSI connection_info for ``record``."""
        portals = self.portals()
        data = {
            'target_discovered': False,
            'target_iqn': record.iqn,
            'target_portal': portals[0],
            'target_lun': record.lun,
            'target_iqns': [record.iqn] * len(portals),
            'target_portals': portals,
            'target_luns': [record.lun] * len(portals),
            'volume_id': volume.id,
            'discard': True,
            'qos_specs': None,
            'access_mode': 'rw',
            'encrypted': bool(getattr(volume, 'encryption_key_id', None)),
        }
        if record.chap:
            data.update(auth_method='CHAP', auth_username=record.user,
                        auth_password=record.password)
        return {'driver_volume_type': 'iscsi', 'data': data}

    def terminate_connection(self, volume, connector, remaining_attachments=None):
        """Revoke ``connector``'s access; remove the export when nobody is left.

        :param connector: the detaching connector, or None to revoke every
            connector and remove the export (force detach).
        :param remaining_attachments: the volume's attachments that stay after
            this one is gone: a list of their connector dicts (preferred: the
            ACL keeps exactly their initiators), or just their number (the
            connector's ACL entry is then kept, since another attachment may
            share it), or None meaning none remain.
        :returns: True when the export was removed, False when it was kept.
        """
        count, initiators = _remaining(remaining_attachments)
        if connector is None or count == 0:
            self.remove_export(None, volume)
            return True
        initiator = connector_initiator(connector)
        with self._lock(volume):
            record = self.load_record(volume)
            if record is None:
                return True
            if initiator and initiators is not None and initiator not in initiators:
                keep = set(record.initiators) - {initiator}
                if ACL_ALL in initiators:  # a remaining connector has no name
                    keep = set()
                record.initiators = sorted(keep - {ACL_ALL})
                self._store_and_apply(volume, record)
        return False


def get_target_helper(conf, host, execute=processutils.execute):
    """The target helper ``conf.target_helper`` names (tgtadm or lioadm)."""
    if conf.target_protocol != 'iscsi':
        raise exception.VolumeBackendAPIException(
            data='unsupported target_protocol %r' % conf.target_protocol)
    if conf.target_helper == 'tgtadm':
        from blockstore.volume.targets import tgt
        return tgt.TgtAdm(conf, host, execute)
    if conf.target_helper == 'lioadm':
        from blockstore.volume.targets import lio
        return lio.LioAdm(conf, host, execute)
    raise exception.VolumeBackendAPIException(
        data='unknown target_helper %r' % conf.target_helper)
