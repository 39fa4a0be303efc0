"""Backup service layer: decides whether a backup operation may start, claims it, casts it.

Handlers call this module (through ``api.common.backup_api``); it is the only
place that checks the preconditions of backups. Each operation claims what it
uses with conditional updates through the transition tables (the backup and
its volume or snapshot in one transaction), records the work row the backup
service clears when done, then casts to that service. Nothing here waits for
the backup store.

Which backup service does the work: the backup's own (``backups.host``) while
it is up and enabled, else the live enabled ``blockstore-backup`` service with
the fewest backups running, in the backup's availability zone if one is there
(a zone named by the user must have one). None at all is a 503.
"""

import base64
import binascii
import random

from oslo_config import cfg
from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from blockstore.backup.drivers import base as store_base
from blockstore.common import exception
from blockstore.common import idempotency
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db import backups as db_backups
from blockstore.db.models import utcnow
from blockstore import objects
from blockstore.objects import states

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

objects.register_all()

BINARY = 'blockstore-backup'
# No live backup service, but one seen within this many service-down times: it is
# probably restarting, so the 503 says when to try again.
RECENTLY_SEEN = 5
RETRY_AFTER = 5

# What a user may change of a backup (PUT /backups/{id}, 3.9; metadata 3.43).
UPDATABLE = ('display_name', 'display_description', 'metadata')

_INVALID = {'volume': exception.InvalidVolume, 'snapshot': exception.InvalidSnapshot,
            'backup': exception.InvalidBackup}

# Fields of a backup row an imported record may set (the rest are this deployment's).
_RECORD_FIELDS = ('volume_id', 'display_name', 'display_description', 'container',
                  'service_metadata', 'size', 'object_count', 'parent_id', 'snapshot_id',
                  'data_timestamp', 'encryption_key_id')
# A backup imported without the volume it was taken of (the column is NOT NULL).
_NO_VOLUME = '00000000-0000-0000-0000-000000000000'


class _Refused(Exception):
    """Rolls a claim of several rows back: this one (resource, id, event) lost."""

    def __init__(self, resource, resource_id, event):
        super().__init__(resource, resource_id, event)
        self.lost = (resource, resource_id, event)


def _refusal(ctx, resource, resource_id, event):
    """The 400 naming every precondition of ``event`` the row does not meet now."""
    reasons = states.explain(ctx, resource, resource_id, event)
    return _INVALID[resource](reason='; '.join(reasons))


def _scope(ctx, all_tenants=False):
    if ctx.is_admin and (all_tenants or ctx.project_id is None):
        return None
    return ctx.project_id


def decode_record(backup_url):
    """The dict an exported backup_url holds (base64 of JSON); 400 when it is not one."""
    try:
        values = jsonutils.loads(base64.b64decode(backup_url, validate=True))
    except (TypeError, ValueError, binascii.Error) as e:
        raise exception.InvalidBackup(reason='the backup record cannot be decoded: %s' % e)
    if not isinstance(values, dict):
        raise exception.InvalidBackup(reason='the backup record is not an object')
    return values


class API:
    """Backups: create, read, update, delete, reset, restore, export, import.

    ``volume_api``: the volume service layer (reads a volume or snapshot the
    way its owner may; creates the volume of a restore to a new volume).
    ``backup_rpcapi``: the backup service's client (tests hand in a fake).
    ``volume_rpcapi`` is accepted for the contract's signature (unused here).
    """

    def __init__(self, volume_api=None, backup_rpcapi=None, volume_rpcapi=None):
        if volume_api is None:
            from blockstore.volume import api as volume_api_mod
            volume_api = volume_api_mod.API()
        if backup_rpcapi is None:
            from blockstore.backup import rpcapi as backup_rpcapi_mod
            backup_rpcapi = backup_rpcapi_mod.BackupAPI()
        self.volume_api = volume_api
        self.backup_rpcapi = backup_rpcapi
        self.volume_rpcapi = volume_rpcapi

    # -- reads ------------------------------------------------------------------------

    def get(self, ctx, backup_id):
        """A backup of ctx's project (any project's for admins); 404 BackupNotFound."""
        project = None if ctx.is_admin else ctx.project_id
        return objects.Backup.get_by_id(ctx, backup_id, project_id=project)

    def get_all(self, ctx, filters=None, marker=None, limit=None, sort_keys=None,
                sort_dirs=None, all_tenants=False, offset=None):
        """(BackupList of a page, how many match in all) of the caller's backups.

        Admins see every project's with ``all_tenants`` (and may filter on
        project_id); ``filters`` are column names (name -> display_name is the
        handler's), values as db.filters takes them.
        """
        filters = dict(filters or {})
        if 'project_id' in filters and not ctx.is_admin:
            filters.pop('project_id')
        project = _scope(ctx, all_tenants)
        backups = objects.BackupList.get_all(ctx, filters=filters, marker=marker, limit=limit,
                                             sort_keys=sort_keys, sort_dirs=sort_dirs,
                                             project_id=project, offset=offset)
        return backups, db_backups.backup_count(ctx, filters, project_id=project)

    # -- choosing a backup service ------------------------------------------------------

    @staticmethod
    def _restarting(ctx):
        """Whether an enabled backup service was seen lately (it may be restarting)."""
        return any(not s.disabled and s.is_up(RECENTLY_SEEN * CONF.service_down_time)
                   for s in objects.ServiceList.get_all(ctx, binary=BINARY))

    def _live_services(self, ctx):
        return [s for s in objects.ServiceList.get_all(ctx, binary=BINARY)
                if not s.disabled and s.is_up(CONF.service_down_time)]

    def _choose_service(self, ctx, availability_zone=None, strict=False, prefer=None):
        """The service a backup's work goes to (see the module); 503 when there is none.

        ``prefer``: a host to keep while it is live. ``strict``: only services
        in ``availability_zone``.
        """
        live = self._live_services(ctx)
        for svc in live:
            if prefer is not None and svc.host == prefer:
                return svc
        candidates = [s for s in live if s.availability_zone == availability_zone]
        if not candidates and not strict:
            candidates = live
        if not candidates:
            where = (' in availability zone %s' % availability_zone
                     if strict and availability_zone else '')
            raise exception.BackupServiceUnavailable(
                service=BINARY, reason='no live, enabled backup service%s' % where,
                retry_after=RETRY_AFTER if self._restarting(ctx) else None)
        running = db_backups.running_count_by_host(ctx)
        fewest = min(running.get(s.host, 0) for s in candidates)
        return random.choice([s for s in candidates if running.get(s.host, 0) == fewest])

    # -- create -----------------------------------------------------------------------

    @idempotency.idempotent('backup', load=lambda api, ctx, backup_id: api.get(ctx, backup_id))
    def create(self, ctx, volume_id, name=None, description=None, incremental=False,
               force=False, snapshot_id=None, container=None, metadata=None,
               availability_zone=None):
        """Claim the volume (or snapshot), insert the backup in creating, cast.

        The claim, the insert and its work record are one transaction; the
        quota check follows the insert (insert-then-verify: over quota, the
        backup is removed and its volume given back in the locked check).
        An in-use volume needs ``force`` and keeps its status (the backup
        service reads a temporary snapshot of it). ``incremental``: the
        parent is the newest available backup of the volume.
        """
        volume = self.volume_api.get(ctx, volume_id)
        snapshot = None
        if snapshot_id:
            snapshot = self.volume_api.get_snapshot(ctx, snapshot_id)
            if snapshot.volume_id != volume.id:
                raise exception.InvalidVolume(
                    reason='Volume %s does not match with snapshot.volume_id %s.'
                           % (volume.id, snapshot.volume_id))
            if snapshot.status != states.AVAILABLE:
                raise exception.InvalidSnapshot(
                    reason='Snapshot to be backed up must be available, but the current '
                           'status is "%s".' % snapshot.status)
        elif volume.status not in (states.AVAILABLE, states.IN_USE):
            raise exception.InvalidVolume(
                reason='Volume to be backed up must be available or in-use, but the '
                       'current status is "%s".' % volume.status)
        elif volume.status == states.IN_USE and not force:
            raise exception.InvalidVolume(
                reason='Backing up an in-use volume must use the force flag.')

        parent = None
        if incremental:
            parent = db_backups.latest_available(ctx, volume.id)
            if parent is None:
                raise exception.InvalidBackup(
                    reason='No backups available to do an incremental backup.')

        svc = self._choose_service(ctx, availability_zone or volume.availability_zone,
                                   strict=availability_zone is not None)

        if snapshot is not None:
            claims = [('snapshot', snapshot.id, 'backup')]
            undo_claims = [('snapshot', snapshot.id, 'backup_done')]
        elif volume.status == states.IN_USE:
            claims, undo_claims = [('volume', volume.id, 'backup_attached')], []
        else:
            claims = [('volume', volume.id, 'backup')]
            undo_claims = [('volume', volume.id, 'backup_done')]
        if parent is not None:
            claims.append(('backup', parent.id, 'use_as_source'))
        lost = []

        def claim():
            for resource, rid, event in claims:
                if not states.transition(ctx, resource, rid, event):
                    lost.append((resource, rid, event))
                    return False
            return True

        values = {
            'volume_id': volume.id, 'user_id': ctx.user_id,
            'project_id': ctx.project_id or volume.project_id,
            'host': svc.host, 'availability_zone': svc.availability_zone,
            'display_name': name, 'display_description': description,
            'container': container, 'status': states.BACKUP.initial, 'size': volume.size,
            'object_count': 0, 'parent_id': parent.id if parent is not None else None,
            'snapshot_id': snapshot.id if snapshot is not None else None,
            'data_timestamp': snapshot.created_at if snapshot is not None else utcnow(),
            'encryption_key_id': volume.encryption_key_id, 'deleted': False,
        }
        row = db_backups.backup_create(
            ctx, values, metadata or {},
            work={'operation': 'create', 'status': states.BACKUP.initial,
                  'service_id': svc.id},
            claim=claim)
        if row is None:
            raise _refusal(ctx, *lost[0])
        backup = objects.Backup.from_db(ctx, row)

        def undo():
            db_backups.backup_destroy(ctx, backup.id)
            for resource, rid, event in undo_claims:
                states.transition(ctx, resource, rid, event)
        quota.verify_backup(ctx, backup, undo)   # 413 (and undone) when over quota

        LOG.info('Backup %s of volume %s%s goes to backup service %s', backup.id, volume.id,
                 ' (incremental of %s)' % parent.id if parent is not None else '', svc.host)
        self.backup_rpcapi.create_backup(ctx, backup)
        return backup

    # -- update -----------------------------------------------------------------------

    def update(self, ctx, backup_id, values):
        """Change name, description or metadata (the whole dict); returns the backup."""
        bad = set(values) - set(UPDATABLE)
        if bad:
            raise exception.InvalidInput(reason='cannot update %s' % ', '.join(sorted(bad)))
        backup = self.get(ctx, backup_id)
        for key, value in values.items():
            setattr(backup, key, value if key != 'metadata' else dict(value or {}))
        backup.save()
        return backup

    # -- delete -----------------------------------------------------------------------

    def delete(self, ctx, backup_id, force=False):
        """Claim the backup for deletion and cast; ``force`` (admins) also cancels.

        A backup being made or restored from is cancelled: the operation
        running it sees ``deleting``, stops and ends the backup. A backup that
        stored nothing (no store, no object prefix recorded) is finished here.
        """
        backup = self.get(ctx, backup_id)
        project = None if ctx.is_admin else ctx.project_id
        if force and states.transition(ctx, 'backup', backup.id, 'cancel', project_id=project):
            if not backup.host:      # no service ever took it: nothing runs, nothing stored
                states.transition(ctx, 'backup', backup.id, 'delete_done')
                return
            LOG.info('Backup %s force-deleted while running: its operation stops it',
                     backup.id)
            return
        event = 'force_delete' if force else 'delete'
        if not backup.service_metadata and not backup.service:
            # Nothing was ever stored (the backup service records where before it
            # writes): no service is needed to delete it.
            states.transition_or_raise(ctx, 'backup', backup.id, event, project_id=project)
            states.transition(ctx, 'backup', backup.id, 'delete_done')
            return
        if backup.status not in states.BACKUP.table[event].sources:
            raise _refusal(ctx, 'backup', backup.id, event)    # before looking for a service
        svc = self._choose_service(ctx, backup.availability_zone, prefer=backup.host)
        states.transition_or_raise(ctx, 'backup', backup.id, event, {'host': svc.host},
                                   project_id=project,
                                   work={'operation': 'delete', 'service_id': svc.id})
        backup.refresh()
        self.backup_rpcapi.delete_backup(ctx, backup)

    # -- os-reset_status --------------------------------------------------------------

    def reset_status(self, ctx, backup_id, status):
        """Administrators: set the backup's status to available or error (as Cinder)."""
        if status not in states.BACKUP_RESET_STATES:
            raise exception.InvalidBackup(
                reason='status must be %s, not %s' % (' or '.join(states.BACKUP_RESET_STATES),
                                                      status))
        backup = self.get(ctx, backup_id)
        states.transition_or_raise(ctx, 'backup', backup.id, 'reset', target=status)
        LOG.info('Backup %s reset to %s', backup.id, status)

    # -- restore ----------------------------------------------------------------------

    def restore(self, ctx, backup_id, volume_id=None, name=None):
        """Restore onto an existing volume, or a new one; {'backup_id', 'volume_id', 'volume_name'}.

        A new volume is created by the volume service layer with ``backup_id``:
        it claims the backup, the volume service makes the volume and hands it
        to the backup service. An existing volume must be the caller's,
        available, detached and at least the backup's size; it and the backup
        are claimed in one transaction.
        """
        backup = self.get(ctx, backup_id)
        if backup.status != states.AVAILABLE:
            raise exception.InvalidBackup(reason='Backup status must be available')
        if volume_id is None:
            volume = self.volume_api.create(
                ctx, backup.size, name=name or 'restore_backup_%s' % backup.id,
                description='auto-created_from_restore_from_backup', backup_id=backup.id)
            return {'backup_id': backup.id, 'volume_id': volume.id,
                    'volume_name': volume.display_name}

        volume = self.volume_api.get(ctx, volume_id)
        if volume.size < backup.size:
            raise exception.InvalidVolume(
                reason='volume size %d is too small to restore backup of size %d.'
                       % (volume.size, backup.size))
        if volume.status != states.AVAILABLE:
            raise exception.InvalidVolume(
                reason='Volume to be restored to must be available, but the current status '
                       'is "%s".' % volume.status)
        svc = self._choose_service(ctx, backup.availability_zone, prefer=backup.host)
        project = None if ctx.is_admin else ctx.project_id

        def claim_backup(session):
            if not states.transition_in(
                    session, 'backup', backup.id, 'restore',
                    {'host': svc.host, 'restore_volume_id': volume.id},
                    work={'operation': 'restore', 'service_id': svc.id,
                          'payload': {'volume_id': volume.id}}):
                raise _Refused('backup', backup.id, 'restore')
            return True

        try:
            won = states.transition(ctx, 'volume', volume.id, 'restore_backup',
                                    project_id=project, then=claim_backup)
        except _Refused as refused:
            raise _refusal(ctx, *refused.lost)
        if not won:
            raise _refusal(ctx, 'volume', volume.id, 'restore_backup')
        backup.refresh()
        LOG.info('Restore of backup %s onto volume %s goes to backup service %s',
                 backup.id, volume.id, svc.host)
        self.backup_rpcapi.restore_backup(ctx, backup, volume.id)
        return {'backup_id': backup.id, 'volume_id': volume.id,
                'volume_name': volume.display_name}

    # -- export and import --------------------------------------------------------------

    def export_record(self, ctx, backup_id):
        """Administrators: {'backup_service', 'backup_url'} to import the backup elsewhere.

        The backup must be available (a guarded touch proves it); its backup
        service writes the record.
        """
        backup = self.get(ctx, backup_id)
        if not states.transition(ctx, 'backup', backup.id, 'use_as_source'):
            raise _refusal(ctx, 'backup', backup.id, 'use_as_source')
        svc = self._choose_service(ctx, backup.availability_zone, prefer=backup.host)
        if svc.host != backup.host:      # its own service is down: ask another (not saved)
            backup.host = svc.host
            backup.obj_reset_changes(['host'])
        return self.backup_rpcapi.export_record(ctx, backup)

    def import_record(self, ctx, backup_service, backup_url):
        """Administrators: a backup row (in creating) for an exported record, then cast.

        The backup keeps its id (incremental chains refer to their parents by
        id) unless a deleted backup of this deployment had it; a live one with
        it is a 400. The backup service checks the objects are there and
        finishes it (available, or error with the reason).
        """
        if backup_service not in store_base._STORES:
            raise exception.InvalidBackup(
                reason='unknown backup service %r (known: %s)'
                       % (backup_service, ', '.join(sorted(store_base._STORES))))
        record = decode_record(backup_url)
        backup_id = record.get('id') or db.new_uuid()
        if not isinstance(backup_id, str) or len(backup_id) > 36:
            raise exception.InvalidBackup(reason='the backup record has a bad id')
        try:
            existing = db_backups.backup_get(ctx, backup_id, read_deleted=True)
        except exception.BackupNotFound:
            existing = None
        if existing is not None and not existing.deleted:
            raise exception.InvalidBackup(reason='Backup %s already exists in the database.'
                                                 % backup_id)
        if existing is not None:
            backup_id = db.new_uuid()
        svc = self._choose_service(ctx, record.get('availability_zone'))
        values = {k: record[k] for k in _RECORD_FIELDS if record.get(k) is not None}
        if isinstance(values.get('data_timestamp'), str):
            values['data_timestamp'] = timeutils.normalize_time(
                timeutils.parse_isotime(values['data_timestamp']))
        for key in ('size', 'object_count'):
            try:
                values[key] = int(values.get(key) or 0)
            except (TypeError, ValueError):
                raise exception.InvalidBackup(reason='the record has a bad %s' % key)
        values.setdefault('volume_id', _NO_VOLUME)
        # The importer's project (as Cinder); an admin context without one: the record's.
        project_id = ctx.project_id or record.get('project_id')
        if not project_id:
            raise exception.InvalidBackup(reason='the backup record names no project and '
                                                 'the request has none')
        values.update(id=backup_id, user_id=ctx.user_id, project_id=project_id,
                      host=svc.host, availability_zone=svc.availability_zone,
                      service=backup_service, status=states.BACKUP.initial, deleted=False)
        metadata = record.get('metadata') if isinstance(record.get('metadata'), dict) else {}
        row = db_backups.backup_create(
            ctx, values, metadata,
            work={'operation': 'import', 'status': states.BACKUP.initial, 'service_id': svc.id})
        backup = objects.Backup.from_db(ctx, row)
        self.backup_rpcapi.import_record(ctx, backup, backup_service, backup_url)
        return backup
