"""The volume manager's part of the attach flow (``VolumeManager.attachments``; RPC 1.3, 1.4).

``attachment_update`` exports the volume for a host and returns the
attachment's connection_info; ``attachment_delete`` revokes that host's
access, removes the export once no other attachment keeps a connection, and
deletes the attachment. Both run under the volume's lock, record that this
service does the work (the API wrote the attachment's work row in the same
transaction as its claim), and on restart ``redo_attachment`` finishes what
a crash interrupted: a detach is completed; a connect is left a few seconds
to its call, if that is still queued, and otherwise rolled back to
``error_attaching`` (the host never got its connection_info and will retry
or delete).
"""

import time

from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import operation
from blockstore.db import api as db
from blockstore.db import attachments as db_att
from blockstore.objects import states
from blockstore.volume.attach import service as attach_flow
from blockstore.volume.drivers import base as driver_base

LOG = logging.getLogger(__name__)

# Seconds a restarted service leaves an interrupted connect to a call that may
# still be queued for it (delivered as soon as its RPC server consumes).
CONNECT_REDO_GRACE = 5.0


def flatten(info, attachment):
    """Cinder's attachment connection_info: the driver's data, flattened, plus ids."""
    data = dict(info.get('data') or {})
    flat = dict(data)
    flat['driver_volume_type'] = info.get('driver_volume_type')
    flat['attachment_id'] = attachment.id
    if attachment.attach_mode in ('rw', 'ro'):
        flat['access_mode'] = attachment.attach_mode
    return flat


def settled_end(context, volume_id, event, values=None):
    """Apply an end of an operation, settling the volume from its attachments in the same
    transaction (an attached volume returns to in-use); True if won."""
    return states.transition(context, 'volume', volume_id, event, values,
                             then=states.settler(volume_id))


def _gone(context, attachment_id):
    """True if the attachment has been deleted (detached, or removed altogether)."""
    try:
        db_att.attachment_get(context, attachment_id)
    except db_att.AttachmentNotFound:
        return True
    return False


def _initiator(connector):
    return (connector or {}).get('initiator')


class AttachWorker(operation.Worker):
    """The attach flow of one backend (``backend``: its driver and host).

    Not on :meth:`operation.Runner.run`: ``attachment_update`` and
    ``initialize_connection`` are synchronous RPC calls that return the
    connection info (or raise to the caller), the attachment's state lives in
    ``attach_status`` and is changed through ``attach.service.change`` (which
    settles the volume), and the lock is the volume's, not the attachment's.
    They share the runner's ready check (``operations.ensure_ready``), its
    claim of the work record and the lock helper.
    """

    @property
    def driver(self):
        return self.backend.driver

    def _require_export(self, context):
        self.operations.ensure_ready(context)
        self.backend.require(driver_base.ExportOps, 'exporting volumes')

    def _export(self, context, volume, connector):
        """create_export, saved with a guarded touch (not for a deleted volume)."""
        update = self.driver.create_export(context, volume, connector) or {}
        values = {k: update[k] for k in ('provider_location', 'provider_auth') if k in update}
        if not states.transition(context, 'volume', volume.id, 'use_for_export', values):
            self._unexport_if_unused(context, volume)
            states.transition_or_raise(context, 'volume', volume.id, 'use_for_export')
        for k, v in values.items():
            setattr(volume, k, v)

    def _remaining(self, context, volume_id, leaving_id=None, leaving_initiator=None):
        """Connectors of the volume's other connected attachments."""
        remaining, skipped = [], False
        for a in db_att.live_attachments(context, volume_id):
            if a.id == leaving_id:
                continue
            for connector in ([a.connector] if a.connector else []) + a.extra_connectors:
                if (leaving_initiator and not skipped and leaving_id is None
                        and _initiator(connector) == leaving_initiator):
                    skipped = True   # the legacy connection being terminated
                    continue
                remaining.append(connector)
        return remaining

    def _unexport_if_unused(self, context, volume, leaving_id=None):
        if not self._remaining(context, volume.id, leaving_id):
            self.driver.remove_export(context, volume)

    def _claim(self, context, attachment_id, expected):
        """The attachment, its work record now ours, if its status is ``expected``."""
        attachment = db_att.attachment_get(context, attachment_id)
        if attachment.attach_status != expected:
            raise exception.InvalidVolume(reason='attachment %s is %s, not %s' % (
                attachment_id, attachment.attach_status, expected))
        self.operations.claim(context, 'attachment', attachment_id)
        return attachment

    # -- RPC 1.4 -------------------------------------------------------------------

    def attachment_update(self, context, volume, attachment_id, connector):
        self._require_export(context)
        with operation.locked('volume', volume.id):
            volume.refresh()
            attachment = self._claim(context, attachment_id, states.ATTACHING)
            try:
                self._export(context, volume, connector)
                info = self.driver.initialize_connection(volume, connector)
                flat = flatten(info, attachment)
                # Saved only if the attachment is still connecting (not deleted meanwhile).
                attach_flow.change(context, volume.id, attachment_id, 'connect',
                                   {'connection_info': db_att.encode(
                                       {'connection_info': flat})['connection_info']})
            except Exception as e:
                LOG.exception('Connecting attachment %s of volume %s failed', attachment_id,
                              volume.id)
                self._connect_failed(context, volume, attachment_id, e)
                raise
            db.worker_destroy(context, 'attachment', attachment_id, 'connect')
        LOG.info('Attachment %s of volume %s connected for %s', attachment_id, volume.id,
                 _initiator(connector) or connector.get('host'))
        return flat

    def _connect_failed(self, context, volume, attachment_id, error):
        try:
            attach_flow.change(context, volume.id, attachment_id, 'connect_failed')
        except exception.BlockstoreException:
            pass   # deleted meanwhile: its delete owns it now
        db.worker_destroy(context, 'attachment', attachment_id, 'connect')
        operation.record_failure(volume.project_id, 'volume', volume.id, 'ATTACH_VOLUME',
                                 error)

    def attachment_delete(self, context, volume, attachment_id):
        """Revoke the host and delete the attachment; done already is done.

        A delete can reach this service after the detach it asks for is
        finished: the detach was redone when this service restarted, or a
        retried delete claimed it again while the first one was running.
        Both come here under the volume's lock, and the later one finds the
        attachment gone: that is success, not an error.
        """
        self._require_export(context)
        with operation.locked('volume', volume.id):
            volume.refresh()
            if _gone(context, attachment_id):
                LOG.info('Attachment %s of volume %s is already deleted', attachment_id,
                         volume.id)
                return
            attachment = self._claim(context, attachment_id, states.DETACHING)
            try:
                self._disconnect(context, volume, attachment)
            except Exception as e:
                LOG.exception('Disconnecting attachment %s of volume %s failed',
                              attachment_id, volume.id)
                try:
                    # Still connected: the volume is in-use again, not held in 'detaching'
                    # (the hold is for a legacy os-begin_detaching, not this detach).
                    attach_flow.change(context, volume.id, attachment_id, 'detach_failed',
                                       hold_detaching=False)
                finally:
                    db.worker_destroy(context, 'attachment', attachment_id, 'detach')
                operation.record_failure(volume.project_id, 'volume', volume.id,
                                         'DETACH_VOLUME', e)
                raise
            attach_flow.finish_detach(context, volume.id, attachment_id)
        LOG.info('Attachment %s of volume %s deleted', attachment_id, volume.id)

    def _disconnect(self, context, volume, attachment):
        remaining = self._remaining(context, volume.id, leaving_id=attachment.id)
        if attachment.connector is not None:
            keep = any(_initiator(c) == _initiator(attachment.connector) for c in remaining)
            if not keep:
                self.driver.terminate_connection(volume, attachment.connector,
                                                 remaining_attachments=remaining)
        if not remaining:
            self.driver.remove_export(context, volume)

    # -- restart --------------------------------------------------------------------

    def redo_attachment(self, context, worker, volume, attachment_id):
        if worker.operation == 'connect':
            self._end_interrupted_connect(context, volume, attachment_id)
        elif worker.operation == 'detach':
            self.attachment_delete(context, volume, attachment_id)

    def _end_interrupted_connect(self, context, volume, attachment_id, grace=None):
        """Fail a connect no call finishes: the host never got its connection_info.

        The record may belong to a call still queued for this service (the API
        waits for it; it was sent while this service was down): such a call
        is delivered once the RPC server consumes, and connects. So first give
        queued calls ``grace`` seconds, then, under the volume's lock (a call
        running holds it), fail the connect only if its record is still there
        and the attachment still connecting.
        """
        time.sleep(CONNECT_REDO_GRACE if grace is None else grace)
        with operation.locked('volume', volume.id):
            if not db.worker_get_all(context, resource_type='attachment',
                                     resource_id=attachment_id, operation='connect'):
                return   # a queued call finished it
            try:
                attachment = db_att.attachment_get(context, attachment_id)
            except db_att.AttachmentNotFound:
                attachment = None
            if attachment is None or attachment.attach_status != states.ATTACHING:
                db.worker_destroy(context, 'attachment', attachment_id, 'connect')
                return
            LOG.info('Attachment %s was connecting when the service stopped and no call '
                     'finished it: it failed', attachment_id)
            self._connect_failed(context, volume, attachment_id, exception.BlockstoreException(
                'the volume service restarted while connecting'))

    # -- legacy connections (RPC 1.3), now aware of attachments ---------------------

    def initialize_connection(self, context, volume, connector):
        """Export the volume for ``connector`` and return Cinder's connection_info.

        The export's ``provider_location``/``provider_auth`` are saved with a
        guarded touch, so a volume deleted meanwhile is not exported: the
        export is removed again and the caller told why. connection_info holds
        the CHAP secret: it is returned, never logged.
        """
        self._require_export(context)
        with operation.locked('volume', volume.id):
            volume.refresh()
            self._export(context, volume, connector)
            info = self.driver.initialize_connection(volume, connector)
            self.legacy_record_connector(context, volume, connector, info)
        LOG.info('Initialized a connection to volume %s for %s', volume.id,
                 (connector or {}).get('initiator') or (connector or {}).get('host'))
        return info

    def terminate_connection(self, context, volume, connector, force=False):
        """Revoke ``connector`` (every host with ``force``); the export stays while
        other attachments keep connections."""
        self._require_export(context)
        with operation.locked('volume', volume.id):
            volume.refresh()
            self.legacy_terminate(context, volume, None if force else connector)
        LOG.info('Terminated the connection to volume %s', volume.id)

    def legacy_record_connector(self, context, volume, connector, info):
        """Record a legacy connection where the attach flow will find it.

        The pending legacy attachment (os-reserve) gets the connector. With
        none pending, a new host of an already connected volume (Nova's
        legacy live migration: os-initialize_connection for the destination)
        is kept in the connected attachment's ``extra_connectors``, so
        terminating the source's connection leaves the export to it.
        """
        live = db_att.live_attachments(context, volume.id)
        pending = [a for a in live
                   if a.attach_status == states.ATTACHING and not a.connector]
        if len(pending) != 1:
            self._record_extra_connection(context, volume, live, connector)
            return
        try:
            attach_flow.change(context, volume.id, pending[0].id, 'connect', {
                'connector': db_att.encode({'connector': connector})['connector'],
                'attached_host': connector.get('host'),
                'connection_info': db_att.encode(
                    {'connection_info': flatten(info, pending[0])})['connection_info']})
        except exception.BlockstoreException:
            LOG.info('Pending attachment %s of volume %s changed meanwhile', pending[0].id,
                     volume.id)

    def _record_extra_connection(self, context, volume, live, connector):
        connected = [a for a in live if a.connector
                     and a.attach_status in (states.ATTACHING, states.ATTACHED)]
        known = {_initiator(c) for a in live
                 for c in ([a.connector] if a.connector else []) + a.extra_connectors}
        if not connected or _initiator(connector) in known:
            return
        holder = connected[0]
        self._set_connectors(context, volume, holder, holder.connector,
                             holder.extra_connectors + [connector])

    def _set_connectors(self, context, volume, attachment, main, extra):
        try:
            attach_flow.change(context, volume.id, attachment.id, 'record_connection', {
                'connector': db_att.encode({'connector': main})['connector'],
                'extra_connectors': db_att.encode(
                    {'extra_connectors': extra})['extra_connectors'] if extra else None})
        except exception.BlockstoreException:
            LOG.info('Attachment %s of volume %s changed meanwhile', attachment.id, volume.id)

    def _forget_legacy_connection(self, context, volume, connector):
        """Drop ``connector`` from the extra connections (promoting one if it was main)."""
        initiator = _initiator(connector)
        for a in db_att.live_attachments(context, volume.id):
            extra = [c for c in a.extra_connectors if _initiator(c) != initiator]
            if len(extra) != len(a.extra_connectors):
                self._set_connectors(context, volume, a, a.connector, extra)
                return
            if a.extra_connectors and a.connector and _initiator(a.connector) == initiator:
                # The source of a legacy live migration: the destination takes its place.
                self._set_connectors(context, volume, a, a.extra_connectors[0],
                                     a.extra_connectors[1:])
                return

    def legacy_terminate(self, context, volume, connector):
        """Revoke ``connector`` (all hosts when None); keep what other attachments use."""
        if connector is None:
            remaining = []
        else:
            self._forget_legacy_connection(context, volume, connector)
            remaining = self._remaining(context, volume.id,
                                        leaving_initiator=_initiator(connector))
            if any(_initiator(c) == _initiator(connector) for c in remaining):
                return   # another attachment of the same host still uses the connection
        self.driver.terminate_connection(volume, connector, remaining_attachments=remaining)
        if not remaining:
            self.driver.remove_export(context, volume)

