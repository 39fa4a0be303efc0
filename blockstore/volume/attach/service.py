"""Attachments: how hosts attach, connect to and detach from volumes (service layer).

``AttachmentService`` is the one entry point (``volume.api.API().attachments``):

* the attachments API (3.27+: create, update with a connector, complete, delete);
* the legacy actions Nova still uses (os-reserve, os-unreserve, os-attach,
  os-detach, os-begin_detaching, os-roll_detaching, os-force_detach);
* the legacy connection actions (os-initialize_connection,
  os-terminate_connection): the volume's state does not change, but it must be
  usable by a host, proved by a guarded touch (``use_for_export``);
* reclaiming a dead host's attachments (not in Cinder, see ``reclaim_host``).

Every change is one transaction: claim the volume row through the transition
table, change the attachment with a conditional update, settle the volume's
status from its live attachments (``objects.states.settle``). Work on the
backend (exporting, connecting, disconnecting) is an RPC call to the volume
service (``attach.connections._call``), recorded as a work row on the
attachment so a crash in the middle is finished at restart.
"""

from oslo_config import cfg
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.common import idempotency
from blockstore.common import utils
from blockstore.db import attachments as db_att
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states
from blockstore.volume.attach import connections as connections

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

ATTACH_MODES = ('rw', 'ro')


class _Lost(Exception):
    """A conditional update inside a claim lost: roll the claim back."""


def _project(ctx):
    return None if ctx.is_admin else ctx.project_id


def change(ctx, volume_id, attachment_id, event, values=None, work=None,
           hold_detaching=True, project_id=None):
    """Apply ``event`` to an attachment of ``volume_id`` and settle the volume, atomically.

    Raises a 400 (InvalidVolume) that names why when the attachment is not in
    a state the event starts from, a 404 (AttachmentNotFound) when it is gone
    (deleted meanwhile: by a retried delete, or its volume service finishing
    the detach).
    """
    def then(session):
        if not states.transition_in(session, 'attachment', attachment_id, event, values,
                                    work=work):
            raise _Lost()
        return states.settle(session, volume_id, hold_detaching) or True
    try:
        if states.transition(ctx, 'volume', volume_id, 'attachment_change',
                             project_id=project_id, then=then):
            return
    except _Lost:
        pass
    db_att.attachment_get(ctx, attachment_id)   # AttachmentNotFound (404) if gone
    reasons = states.explain(ctx, 'attachment', attachment_id, event)
    raise exception.InvalidVolume(reason='attachment %s: %s'
                                  % (attachment_id, '; '.join(reasons)))


def finish_detach(ctx, volume_id, attachment_id, hold_detaching=True):
    """detaching -> detached (soft-deleted), settle the volume, clear the work record."""
    from blockstore.db import api as db
    change(ctx, volume_id, attachment_id, 'detach_done', {'detach_time': utcnow()},
           hold_detaching=hold_detaching)
    db.worker_destroy(ctx, 'attachment', attachment_id)


class _Pending(Exception):
    """Claimed; the volume service that must revoke the host is down."""


class AttachmentService:
    """Attach, connect, detach and reclaim; ``api.attachments`` of ``volume.api.API``.

    ``volumes``: the core volume API (``get``); ``volume_rpcapi``: the volume
    service's RPC client, which does the backend's part.
    """

    def __init__(self, volumes, volume_rpcapi):
        self.volumes = volumes
        self.volume_rpcapi = volume_rpcapi

    # -- reads -------------------------------------------------------------------

    def get_attachment(self, ctx, attachment_id):
        return db_att.attachment_get(ctx, attachment_id, project_id=_project(ctx))

    def get_all_attachments(self, ctx, filters=None, marker=None, limit=None, sort_keys=None,
                            sort_dirs=None, offset=None, all_tenants=False):
        project = None if (ctx.is_admin and (all_tenants or ctx.project_id is None)) \
            else ctx.project_id
        return db_att.attachment_get_all(ctx, filters=filters, project_id=project,
                                         marker=marker, limit=limit, sort_keys=sort_keys,
                                         sort_dirs=sort_dirs, offset=offset)

    def _reserve(self, ctx, volume, values, events, instance_uuid=None):
        """Insert an attachment with the first of ``events`` (volume claims) that wins."""
        values = dict(values, volume_id=volume.id, project_id=volume.project_id,
                      user_id=ctx.user_id)

        def then(session):
            attachment_id = db_att.insert(session, values)
            states.settle(session, volume.id)
            return attachment_id

        project = _project(ctx)
        for event in events:
            guard_args = None
            if event == 'reserve_same_instance':
                if not instance_uuid:
                    continue
                guard_args = {'instance_attached': instance_uuid}
            attachment_id = states.transition(ctx, 'volume', volume.id, event,
                                              project_id=project, guard_args=guard_args,
                                              then=then)
            if attachment_id:
                return attachment_id
        reasons = states.explain(ctx, 'volume', volume.id, events[0])
        volume.refresh()
        if volume.status in (states.RESERVED, states.ATTACHING, states.IN_USE):
            reasons = ['volume %s is already attached and is not multiattach' % volume.id
                       if not volume.multiattach else
                       'volume %s cannot take another attachment now' % volume.id]
        raise exception.InvalidVolume(reason='; '.join(reasons))

    # -- attachments API (3.27, 3.44, 3.54) -----------------------------------------

    def _resume_create(self, ctx, attachment, volume, instance_uuid=None, connector=None,
                       mode=None, service=False):
        """A repeated keyed create: connect the attachment if its first request could not.

        That request died (its API process was killed) after the reservation,
        or failed and could not delete its attachment: the attachment is
        reserved, still connecting without an answer, or failed to connect when
        the volume service gave up on the call. (Connecting again is safe: the
        volume service serialises connects of a volume.) A completed create is
        connected, and one that failed otherwise deleted its attachment and
        freed its key.
        """
        if (connector is not None and not attachment.connection_info
                and attachment.attach_status in (states.RESERVED, states.ATTACHING,
                                                 states.ERROR_ATTACHING)):
            LOG.info('Connecting attachment %s for a repeat of the create that made it',
                     attachment.id)
            return self.attachment_update(ctx, attachment, connector)
        return attachment

    @idempotency.idempotent('attachment', load=lambda svc, ctx, attachment_id:
                            svc.get_attachment(ctx, attachment_id),
                            resume=lambda svc, *args, **kwargs: svc._resume_create(*args,
                                                                                   **kwargs))
    def attachment_create(self, ctx, volume, instance_uuid=None, connector=None, mode=None,
                          service=False):
        """Reserve ``volume`` for an instance; with a connector, connect it too."""
        if connector is not None:
            connections.validate_connector(connector)
        if mode is not None and mode not in ATTACH_MODES:
            raise exception.InvalidInput(reason="Invalid attach mode '%s': must be rw or ro"
                                         % mode)
        attachment_id = self._reserve(
            ctx, volume,
            {'instance_uuid': instance_uuid, 'attach_status': states.RESERVED,
             'attach_mode': mode or 'null', 'service_created': bool(service)},
            ('reserve', 'reserve_shared', 'reserve_same_instance'), instance_uuid)
        if connector is not None:
            try:
                self.attachment_update(ctx, self.get_attachment(ctx, attachment_id), connector)
            except exception.InvalidInput:
                self._drop_unconnected(ctx, volume.id, attachment_id)
                raise
            except Exception as e:
                # An error answer must not leave a reservation the client cannot
                # name (it never learns this attachment's id): deleted, or (if that
                # fails too) kept under the request's idempotency key, so the
                # client's retry gets this attachment and connects it.
                if not self._roll_back_create(ctx, attachment_id):
                    idempotency.keep_key(e)
                raise
        return self.get_attachment(ctx, attachment_id)

    def _roll_back_create(self, ctx, attachment_id):
        """Delete the attachment of a create whose connect failed (or got no answer).

        As a DELETE would: the volume service revokes whatever the connect may
        have granted. If it does not answer either, the detach stays claimed
        with its work record, which the volume service finishes when it is
        back.
        True once it is deleted or claimed for deleting (then the volume service
        finishes it); False if even the claim failed (e.g. the database is down).
        """
        try:
            self.attachment_delete(ctx, self.get_attachment(ctx, attachment_id))
        except exception.BlockstoreException as e:
            LOG.warning('Attachment %s of a failed create is not deleted yet: %s',
                        attachment_id, e.msg)
            return _claimed_for_detach(ctx, attachment_id)
        except Exception:
            LOG.exception('Could not roll back attachment %s of a failed create',
                          attachment_id)
            return _claimed_for_detach(ctx, attachment_id)
        return True

    def attachment_update(self, ctx, attachment, connector):
        """Connect the attachment's host (``connector``): export and initialize."""
        connections.validate_connector(connector)
        volume = self.volumes.get(ctx, attachment.volume_id)
        if not volume.host:
            raise exception.InvalidVolume(reason='volume %s has no host' % volume.id)
        mode = attachment.attach_mode
        if mode in (None, 'null'):
            mode = 'ro' if volume.admin_metadata.get('readonly') == 'True' else 'rw'
        change(ctx, volume.id, attachment.id, 'connect',
                     {'connector': db_att.encode({'connector': connector})['connector'],
                      'attached_host': connector.get('host'), 'attach_mode': mode,
                      'mountpoint': connector.get('mountpoint')},
                     work={'operation': 'connect'}, project_id=_project(ctx))
        try:
            connections._call('update attachment', self.volume_rpcapi.attachment_update, ctx,
                              volume, attachment.id, connector)
        except exception.ServiceTooOld:
            # Nothing reached the backend: the attachment may be connected again later.
            change(ctx, volume.id, attachment.id, 'connect_failed')
            from blockstore.db import api as db
            db.worker_destroy(ctx, 'attachment', attachment.id)
            raise
        return self.get_attachment(ctx, attachment.id)

    def attachment_complete(self, ctx, attachment):
        """The host has connected (3.44 os-complete): the volume is in-use."""
        change(ctx, attachment.volume_id, attachment.id, 'complete',
                     {'attach_time': utcnow()}, project_id=_project(ctx))

    def attachment_delete(self, ctx, attachment):
        """Disconnect (if connected) and remove the attachment; the volume's others remain.

        An attachment already gone is a 404; one deleted after this delete
        claimed it (a retried delete claims a detaching attachment again, and
        either request, or the volume service redoing the detach at its
        restart, may finish it first) is this delete's success too.
        """
        change(ctx, attachment.volume_id, attachment.id, 'detach',
                     work={'operation': 'detach'}, project_id=_project(ctx))
        try:
            if attachment.connector or attachment.connection_info:
                volume = self.volumes.get(ctx, attachment.volume_id)
                connections._call('delete attachment', self.volume_rpcapi.attachment_delete,
                                  ctx, volume, attachment.id)
            else:
                finish_detach(ctx, attachment.volume_id, attachment.id)
        except db_att.AttachmentNotFound:
            LOG.info('Attachment %s was deleted while this delete of it ran', attachment.id)
        return db_att.live_attachments(ctx, attachment.volume_id)

    def _drop_unconnected(self, ctx, volume_id, attachment_id):
        """Undo a reservation whose connect was refused as bad input."""
        try:
            change(ctx, volume_id, attachment_id, 'detach')
            finish_detach(ctx, volume_id, attachment_id)
        except exception.BlockstoreException:
            LOG.warning('Could not drop attachment %s after a failed connect', attachment_id)

    # -- legacy actions (v3.0) -------------------------------------------------------

    def reserve(self, ctx, volume, service=False):
        """os-reserve: a legacy attachment in 'attaching'; the volume too."""
        self._reserve(ctx, volume, {'attach_status': states.ATTACHING, 'attach_mode': 'null',
                                    'service_created': bool(service)},
                      ('reserve_legacy', 'reserve_shared'))

    def _legacy_pending(self, ctx, volume, instance_uuid=None):
        for a in db_att.live_attachments(ctx, volume.id):
            if a.attach_status == states.ATTACHING and a.instance_uuid in (None, instance_uuid):
                return a
        return None

    def unreserve(self, ctx, volume):
        """os-unreserve: drop the pending legacy reservation."""
        pending = self._legacy_pending(ctx, volume)
        if pending is None:
            raise exception.InvalidVolume(reason='volume %s has no reservation to undo'
                                          % volume.id)
        if pending.connector or pending.connection_info:
            raise exception.InvalidVolume(
                reason='volume %s is connected; terminate the connection first' % volume.id)
        change(ctx, volume.id, pending.id, 'detach', project_id=_project(ctx))
        finish_detach(ctx, volume.id, pending.id)

    def attach(self, ctx, volume, instance_uuid=None, host_name=None, mountpoint=None,
               mode='rw'):
        """os-attach: complete the pending legacy attachment."""
        if mode not in ATTACH_MODES:
            raise exception.InvalidInput(reason="Invalid attach mode '%s': must be rw or ro"
                                         % mode)
        if instance_uuid and host_name:
            raise exception.InvalidInput(reason='give instance_uuid or host_name, not both')
        if volume.admin_metadata.get('readonly') == 'True' and mode == 'rw':
            raise exception.InvalidVolume(
                reason='volume %s is read-only; attach it with mode ro' % volume.id)
        pending = self._legacy_pending(ctx, volume, instance_uuid)
        if pending is None:
            raise exception.InvalidVolume(
                reason='volume %s must be reserved (os-reserve) before os-attach' % volume.id)
        change(ctx, volume.id, pending.id, 'complete',
                     {'instance_uuid': instance_uuid, 'attached_host': host_name,
                      'mountpoint': mountpoint, 'attach_mode': mode, 'attach_time': utcnow()},
                     project_id=_project(ctx))

    def begin_detaching(self, ctx, volume):
        states.transition_or_raise(ctx, 'volume', volume.id, 'begin_detaching',
                                   project_id=_project(ctx))

    def roll_detaching(self, ctx, volume):
        def then(session):
            return states.settle(session, volume.id, hold_detaching=False) or True
        if not states.transition(ctx, 'volume', volume.id, 'roll_detaching',
                                 project_id=_project(ctx), then=then):
            # Cinder answers 202 whatever the state; nothing to roll back.
            LOG.info('os-roll_detaching of volume %s: it is not detaching', volume.id)

    def attachment_to_detach(self, ctx, volume, attachment_id):
        """The live attachment os-detach means: the one named, or the only one."""
        live = db_att.live_attachments(ctx, volume.id)
        if attachment_id:
            for a in live:
                if a.id == attachment_id:
                    return a
            raise db_att.AttachmentNotFound(attachment_id=attachment_id)
        if len(live) == 1:
            return live[0]
        if not live:
            raise exception.InvalidVolume(reason='volume %s is not attached' % volume.id)
        raise exception.InvalidVolume(
            reason='volume %s has %d attachments: name the attachment_id to detach'
            % (volume.id, len(live)))

    def detach(self, ctx, volume, attachment_id=None):
        """os-detach: the host has disconnected (after os-terminate_connection)."""
        attachment = self.attachment_to_detach(ctx, volume, attachment_id)
        change(ctx, volume.id, attachment.id, 'detach', project_id=_project(ctx))
        finish_detach(ctx, volume.id, attachment.id, hold_detaching=False)

    def force_detach(self, ctx, volume, attachment_id=None, connector=None):
        """os-force_detach (admin): terminate the connection(s), drop the attachment(s)."""
        if connector is not None:
            connections.validate_connector(connector)
        live = db_att.live_attachments(ctx, volume.id)
        chosen = [a for a in live if a.id == attachment_id] if attachment_id else live
        if attachment_id and not chosen:
            raise db_att.AttachmentNotFound(attachment_id=attachment_id)
        if volume.host and volume.provider_location:
            self.terminate_connection(ctx, volume, connector, force=connector is None,
                                      allow_any_state=True)
        for a in chosen:
            change(ctx, volume.id, a.id, 'detach')
            finish_detach(ctx, volume.id, a.id, hold_detaching=False)

    # -- legacy connection actions (v3.0) ---------------------------------------------

    def _claim_for_export(self, ctx, volume):
        project = None if ctx.is_admin else ctx.project_id
        states.transition_or_raise(ctx, 'volume', volume.id, 'use_for_export',
                                   project_id=project)
        if not volume.host:
            raise exception.InvalidVolume(reason='volume %s has no host' % volume.id)

    def initialize_connection(self, ctx, volume, connector):
        """Export ``volume`` for ``connector``; Cinder's connection_info."""
        connections.validate_connector(connector)
        self._claim_for_export(ctx, volume)
        return connections._call('fetch connection information from backend',
                                 self.volume_rpcapi.initialize_connection, ctx, volume,
                                 connector)

    def terminate_connection(self, ctx, volume, connector, force=False,
                             allow_any_state=False):
        """Revoke ``connector`` (every connector with ``force``).

        The export stays while other attachments of the volume keep their
        connections. ``allow_any_state``: an administrator's os-force_detach,
        which must work whatever state the volume is stuck in.
        """
        if not force:
            connections.validate_connector(connector)
        if allow_any_state:
            if not volume.host:
                raise exception.InvalidVolume(reason='volume %s has no host' % volume.id)
        else:
            self._claim_for_export(ctx, volume)
        connections._call('terminate volume connection',
                          self.volume_rpcapi.terminate_connection, ctx, volume, connector,
                          force=force)

    # -- reclaiming a dead host's attachments (not in Cinder) ---------------------------
    #
    # When a compute host (a Kubernetes node, a hypervisor) is gone for good, its
    # attachments keep volumes in-use and keep its initiator in the backends'
    # access lists, and nobody is left to detach them. An administrator asserts
    # the host is dead (``POST /v3/attachments/reclaim`` with ``confirm_dead``,
    # or ``blockstore-manage attachment reclaim``): every live attachment whose
    # ``attached_host`` is that host is claimed for detaching with its work
    # record, the backend revokes the host's access (``attachment_delete`` on
    # the volume service: terminate_connection, and remove_export when no other
    # attachment remains), and the attachment is deleted. Each volume settles to
    # available, or stays in-use while other hosts' attachments remain.
    #
    # A failure on one attachment does not stop the others: it is reported. When
    # the volume's service is down the attachment is claimed but not waited for:
    # it stays ``detaching`` with its work record, which that service completes
    # when it starts again (reported as pending). An attachment whose service did
    # not answer in time is left the same way; reclaiming again retries it.

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
        change(ctx, attachment.volume_id, attachment.id, 'detach',
               work={'operation': 'detach'}, hold_detaching=False)
        if attachment.connector or attachment.connection_info:
            volume = self.volumes.get(ctx, attachment.volume_id)
            backend = utils.backend_of(volume.host)
            if backend not in up:
                up[backend] = _service_up(ctx, backend)
            if not up[backend]:
                raise _Pending('the volume service %s is down; it revokes the host and '
                               'deletes the attachment when it starts again' % backend)
            connections._call('reclaim attachment', self.volume_rpcapi.attachment_delete, ctx,
                              volume, attachment.id)
        else:
            finish_detach(ctx, attachment.volume_id, attachment.id, hold_detaching=False)


def _claimed_for_detach(ctx, attachment_id):
    """Whether the attachment is gone or detaching (its delete is under way)."""
    try:
        return db_att.attachment_get(ctx, attachment_id).attach_status == states.DETACHING
    except db_att.AttachmentNotFound:
        return True
    except Exception:
        return False   # cannot tell (the database is down): keep it findable


def _service_up(ctx, backend):
    try:
        service = objects.Service.get_by_args(ctx, backend, 'blockstore-volume')
    except exception.NotFound:
        return False
    return service.is_up(CONF.service_down_time)
