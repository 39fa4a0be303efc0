"""Transition tables: the only place a status change is decided.

Each resource has a table ``event -> Transition(sources, target, guards)``.
``transition()`` performs one as a single conditional UPDATE and reports
whether it won; ``transition_or_raise()`` turns a loss into a 400 that names
every precondition that does not hold. Resources are inserted in their
``INITIAL`` state, which is how they enter a table.
"""

import collections

from blockstore.common import exception
# Every status string lives in the leaf module blockstore.common.status; the
# tables below use them, and callers keep writing ``states.AVAILABLE``.
from blockstore.common.status import (  # noqa: F401  (re-exported)
    ATTACHED, ATTACHING, AVAILABLE, AWAITING_TRANSFER, BACKING_UP, CREATING, DELETED, DELETING,
    DETACHED, DETACHING, DOWNLOADING, ERROR, ERROR_ATTACHING, ERROR_DELETING, ERROR_DETACHING,
    ERROR_EXTENDING, ERROR_MANAGING, ERROR_RESTORING, ERROR_UNMANAGING, EXTENDING, IN_USE,
    MAINTENANCE, MANAGING, MIGRATING, MIGRATION_COMPLETING, MIGRATION_ENDED, MIGRATION_ERROR,
    MIGRATION_NONE, MIGRATION_STARTING, MIGRATION_SUCCESS, MIGRATION_TARGET_PREFIX, RESERVED,
    RESTORING, RESTORING_BACKUP, RETYPING, REVERTING, UNMANAGING, UPDATING, UPLOADING)
from blockstore.db import api as db
from blockstore.db import attachments as db_attachments
from blockstore.db import backups as db_backups
from blockstore.db.models import utcnow

Transition = collections.namedtuple('Transition', 'sources target guards')


def T(sources, target, guards=()):
    return Transition(tuple(sources), target, tuple(guards))


class Choice(tuple):
    """A target the caller picks, from these states, when it applies the event."""


# Sources of an event that may start from any state but the deleted one.
ANY_STATE = ('*',)


class Machine:
    """``entries``: states other than ``initial`` a resource may be inserted in."""

    def __init__(self, resource, initial, table, deleted_state=None, entries=()):
        self.resource = resource
        self.initial = initial
        self.table = table
        self.deleted_state = deleted_state
        self.entries = (initial,) + tuple(entries)
        everything = sorted(s for s in self.states
                            if s != self.deleted_state and s not in ANY_STATE)
        for event, t in list(table.items()):
            if t.sources == ANY_STATE:
                table[event] = Transition(tuple(everything), t.target, t.guards)

    @property
    def states(self):
        found = set(self.entries)
        for t in self.table.values():
            found.update(s for s in t.sources if s not in ANY_STATE)
            if isinstance(t.target, Choice):
                found.update(t.target)
            elif t.target is not None:
                found.add(t.target)
        return found


# What an administrator may reset a volume or snapshot to (os-reset_status), as Cinder.
VOLUME_RESET_STATES = Choice((CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING,
                              ERROR_MANAGING, MANAGING, ATTACHING, IN_USE, DETACHING,
                              MAINTENANCE, RESERVED))
SNAPSHOT_RESET_STATES = Choice((ERROR, AVAILABLE, CREATING, DELETING, UPDATING,
                                ERROR_DELETING, UNMANAGING, BACKING_UP, RESTORING))
VOLUME_ATTACH_STATES = (ATTACHED, DETACHED)
VOLUME_MIGRATION_STATES = (MIGRATING, MIGRATION_ERROR, MIGRATION_SUCCESS, MIGRATION_COMPLETING,
                           MIGRATION_NONE, MIGRATION_STARTING)

# States from which a volume may be deleted by its owner.
_VOLUME_DELETABLE = (AVAILABLE, ERROR, ERROR_RESTORING, ERROR_EXTENDING, ERROR_MANAGING)
_DELETE_GUARDS = ['no_snapshots', 'not_attached', 'no_attachments', 'not_migrating',
                  'no_creating_clones', 'no_active_backups']
_FORCE_DELETABLE = _VOLUME_DELETABLE + (CREATING, ERROR_DELETING, EXTENDING, DELETING)
# Cascade delete (?cascade=true): the volume's snapshots are claimed with it (see
# transition_cascade) instead of having to be gone.
_CASCADE_GUARDS = [g for g in _DELETE_GUARDS if g != 'no_snapshots']
# The states a volume's attachments decide (see settle_target).
_ATTACH_FAMILY = (AVAILABLE, RESERVED, ATTACHING, IN_USE, DETACHING)

VOLUME = Machine('volume', CREATING, {
    'create_done': T([CREATING], AVAILABLE),
    'create_failed': T([CREATING], ERROR),
    'delete': T(_VOLUME_DELETABLE, DELETING, guards=_DELETE_GUARDS),
    # Admin cleanup: also from states where work was lost (not while attached).
    'force_delete': T(_FORCE_DELETABLE, DELETING,
                      guards=['no_snapshots', 'not_attached', 'no_attachments',
                              'no_active_backups']),
    # The same with the volume's snapshots (CASCADE names the event each one takes).
    'delete_cascade': T(_VOLUME_DELETABLE, DELETING, guards=_CASCADE_GUARDS),
    'force_delete_cascade': T(_FORCE_DELETABLE, DELETING,
                              guards=['not_attached', 'no_attachments', 'no_active_backups']),
    'delete_failed': T([DELETING], ERROR_DELETING),
    'delete_done': T([DELETING], DELETED),
    'extend': T([AVAILABLE], EXTENDING, guards=['not_migrating']),
    # 3.42: an attached volume grows too. Every end of an extend is applied with a
    # settle in its transaction (volume.extend), so an attached volume returns to in-use.
    'extend_attached': T([IN_USE], EXTENDING, guards=['not_migrating']),
    'extend_done': T([EXTENDING], AVAILABLE),
    'extend_failed': T([EXTENDING], ERROR_EXTENDING),
    # 3.71 os-extend_volume_completion: the compute host reports how its part of
    # an attached extend went (ComputeExtendOps backends only).
    'extend_completed': T([EXTENDING], AVAILABLE, guards=['awaiting_extend_completion']),
    'extend_completion_failed': T([EXTENDING], ERROR_EXTENDING,
                                  guards=['awaiting_extend_completion']),
    # Source of a clone or snapshot: proves it is usable without changing it.
    # Not while it migrates: a snapshot or clone would be taken of data about to move.
    'use_as_source': T([AVAILABLE, IN_USE], None, guards=['not_migrating']),
    # -- types, qos, actions, transfers
    # Administrators only (the API checks): whatever the state, to the one they name.
    'reset': T(ANY_STATE, VOLUME_RESET_STATES),
    # The same, when they name only the attach or migration status: the status stays.
    'reset_keep_status': T(ANY_STATE, None),
    # Back to available or in-use, whichever the volume was (by its attach status).
    'retype': T([AVAILABLE, IN_USE], RETYPING, guards=['not_migrating']),
    'retype_done': T([RETYPING], Choice((AVAILABLE, IN_USE))),
    'retype_failed': T([RETYPING], Choice((AVAILABLE, IN_USE))),
    'revert': T([AVAILABLE], REVERTING, guards=['not_attached', 'not_migrating']),
    'revert_done': T([REVERTING], AVAILABLE),
    'revert_failed': T([REVERTING], ERROR),
    # Managed volumes are inserted in MANAGING (an entry state).
    'manage_done': T([MANAGING], AVAILABLE),
    'manage_failed': T([MANAGING], ERROR_MANAGING),
    'unmanage': T(_VOLUME_DELETABLE, UNMANAGING, guards=_DELETE_GUARDS),
    'unmanage_done': T([UNMANAGING], DELETED),
    'unmanage_failed': T([UNMANAGING], ERROR_UNMANAGING),
    'transfer': T([AVAILABLE], AWAITING_TRANSFER,
                  guards=['not_attached', 'no_attachments', 'not_migrating']),
    'transfer_accept': T([AWAITING_TRANSFER], AVAILABLE),
    'transfer_cancel': T([AWAITING_TRANSFER], AVAILABLE),
    # A guarded touch: the readonly flag changes only on an available volume.
    'update_readonly': T([AVAILABLE], None),
    # -- legacy attach actions: a guarded touch; a connection is made or torn down
    # only while the volume is usable by a host (os-initialize/terminate_connection).
    'use_for_export': T([AVAILABLE, IN_USE, RESERVED, ATTACHING, DETACHING], None),
    # -- attach flow. A new attachment: the first one of an available volume,
    # another one of a multiattach volume, or a second one of the same
    # instance (live migration) -- never two instances on a plain volume.
    'reserve': T([AVAILABLE], RESERVED, guards=['no_attachments', 'not_migrating']),
    'reserve_legacy': T([AVAILABLE], ATTACHING, guards=['no_attachments', 'not_migrating']),
    'reserve_shared': T([RESERVED, ATTACHING, IN_USE], None, guards=['multiattach']),
    'reserve_same_instance': T([RESERVED, ATTACHING, IN_USE], None,
                               guards=['instance_attached']),
    # Locks the volume while one of its attachments changes (then it settles).
    'attachment_change': T(ANY_STATE, None),
    # The status its live attachments give the volume (settle_target).
    'settle': T(_ATTACH_FAMILY, Choice(_ATTACH_FAMILY)),
    # Legacy os-begin_detaching / os-roll_detaching.
    'begin_detaching': T([IN_USE], DETACHING, guards=['attached']),
    'roll_detaching': T([DETACHING], None),
    # -- image data. os-volume_upload_image: an available volume, or an in-use one
    # with force. Both ends land on available and are applied with a settle (see
    # volume/image_manager.py), so an attached volume returns to in-use.
    'upload': T([AVAILABLE], UPLOADING, guards=['not_migrating']),
    'upload_attached': T([IN_USE], UPLOADING, guards=['not_migrating']),
    'upload_done': T([UPLOADING], AVAILABLE),
    'upload_failed': T([UPLOADING], AVAILABLE),
    # os-reimage (3.68): from reserved only with reimage_reserved (Nova's rebuild
    # of a volume-backed server). Done settles back to reserved when it was.
    'reimage': T([AVAILABLE, ERROR], DOWNLOADING, guards=['not_migrating']),
    'reimage_reserved': T([AVAILABLE, ERROR, RESERVED], DOWNLOADING, guards=['not_migrating']),
    'reimage_done': T([DOWNLOADING], AVAILABLE),
    'reimage_failed': T([DOWNLOADING], ERROR),
    # -- backups. The volume is read by a backup (an in-use one with force keeps its
    # status: the backup reads a temporary snapshot of it) and back to available
    # whether the backup worked or not (the backup says how it went).
    'backup': T([AVAILABLE], BACKING_UP, guards=['not_migrating']),
    'backup_attached': T([IN_USE], None, guards=['not_migrating']),
    'backup_done': T([BACKING_UP], AVAILABLE),
    # A restore writes a detached volume; a failed one leaves it error_restoring.
    'restore_backup': T([AVAILABLE], RESTORING_BACKUP,
                        guards=['not_attached', 'no_attachments', 'not_migrating']),
    'restore_backup_done': T([RESTORING_BACKUP], AVAILABLE),
    'restore_backup_failed': T([RESTORING_BACKUP], ERROR_RESTORING),
    # 3.47 create from a backup (and restore to a new volume): the volume service
    # made the empty volume and hands it to the backup service.
    'create_restore': T([CREATING], RESTORING_BACKUP),
}, deleted_state=DELETED, entries=(MANAGING,))

SNAPSHOT = Machine('snapshot', CREATING, {
    'create_done': T([CREATING], AVAILABLE),
    'create_failed': T([CREATING], ERROR),
    # Not while a volume is being created from it: the create proves the snapshot
    # usable ('use_as_source') after inserting the volume, so one of the two is
    # refused (as a volume's delete and its clones' creates). os-force_delete stays
    # the administrator's override, as it is for a volume with a clone in creation.
    'delete': T([AVAILABLE, ERROR], DELETING,
                guards=['no_active_snapshot_backups', 'no_creating_volumes']),
    'force_delete': T([AVAILABLE, ERROR, CREATING, DELETING, ERROR_DELETING], DELETING,
                      guards=['no_active_snapshot_backups']),
    'delete_failed': T([DELETING], ERROR_DELETING),
    'delete_done': T([DELETING], DELETED),
    'use_as_source': T([AVAILABLE], None),
    # A backup of the snapshot reads it; back to available however it went.
    'backup': T([AVAILABLE], BACKING_UP),
    'backup_done': T([BACKING_UP], AVAILABLE),
    # -- types, qos, actions, transfers
    'reset': T(ANY_STATE, SNAPSHOT_RESET_STATES),
    # The snapshot a volume reverts to; back to available whether the revert worked or not.
    'revert': T([AVAILABLE], RESTORING),
    'revert_done': T([RESTORING], AVAILABLE),
    'unmanage': T([AVAILABLE, ERROR], UNMANAGING),
    'unmanage_done': T([UNMANAGING], DELETED),
    'unmanage_failed': T([UNMANAGING], ERROR),
    # os-update_snapshot_status: a compute host that takes the snapshot itself
    # (Nova's assisted snapshots) reports how it went.
    'report_creating': T([CREATING], Choice((CREATING, AVAILABLE, ERROR))),
    'report_deleting': T([DELETING], Choice((DELETING, ERROR_DELETING))),
}, deleted_state=DELETED)

# An attachment: reserved (no host yet) -> attaching (connected, the host is
# logging in) -> attached (complete); deleting it goes through detaching
# (the connection is torn down) to detached (soft-deleted). Legacy os-reserve
# inserts it in attaching (an entry state).
ATTACHMENT = Machine('attachment', RESERVED, {
    'connect': T([RESERVED, ATTACHING, ERROR_ATTACHING], ATTACHING),
    'connect_failed': T([ATTACHING], ERROR_ATTACHING),
    'complete': T([ATTACHING, ATTACHED], ATTACHED),
    # Legacy connections recorded on a connected attachment (extra_connectors).
    'record_connection': T([ATTACHING, ATTACHED], None),
    'detach': T(ANY_STATE, DETACHING),
    'detach_done': T([DETACHING], DETACHED),
    'detach_failed': T([DETACHING], ERROR_DETACHING),
}, deleted_state=DETACHED, entries=(ATTACHING,))

# A backup: creating (the backup service reads the volume) -> available; a restore
# holds it in restoring (it cannot be deleted meanwhile) and gives it back
# available however the restore went (the volume restored onto says how).
# os-force_delete also takes a running backup: the backup service sees
# ``deleting`` between chunks, stops and removes what it stored.
BACKUP_RESET_STATES = Choice((AVAILABLE, ERROR))

BACKUP = Machine('backup', CREATING, {
    'create_done': T([CREATING], AVAILABLE),
    'create_failed': T([CREATING], ERROR),
    'delete': T([AVAILABLE, ERROR], DELETING, guards=['no_dependent_backups']),
    'force_delete': T([AVAILABLE, ERROR, CREATING, RESTORING, DELETING, ERROR_DELETING],
                      DELETING, guards=['no_dependent_backups']),
    # os-force_delete of a running backup or restore: the operation running it sees
    # ``deleting``, stops and ends the backup (its work record covers the delete).
    'cancel': T([CREATING, RESTORING], DELETING, guards=['no_dependent_backups']),
    'delete_done': T([DELETING], DELETED),
    'delete_failed': T([DELETING], ERROR_DELETING),
    'restore': T([AVAILABLE], RESTORING),
    'restore_done': T([RESTORING], AVAILABLE),
    # The parent of an incremental, or the backup an export reads: proves it usable.
    'use_as_source': T([AVAILABLE], None),
    # os-reset_status (administrators), as Cinder: available or error only.
    'reset': T(ANY_STATE, BACKUP_RESET_STATES),
}, deleted_state=DELETED)

MACHINES = {m.resource: m for m in (VOLUME, SNAPSHOT, ATTACHMENT, BACKUP)}

# Cascade delete: volume event -> the snapshot event each of its live snapshots
# takes in the same transaction (transition_cascade).
CASCADE = {'delete_cascade': 'delete', 'force_delete_cascade': 'force_delete'}

# -- volume migration: a volume's migration_status (Cinder's column), beside its status.
# A migrating volume keeps its status (available, or retyping for an on-demand
# retype); the not_migrating guard keeps every other operation off it.
MigrationStep = collections.namedtuple('MigrationStep', 'statuses sources target guards')
_MIGRATION_GUARDS = ('not_attached', 'no_attachments', 'no_snapshots', 'not_migrating')

VOLUME_MIGRATION = {
    # Claimed by the service layer: a detached volume without snapshots
    # (os-migrate_volume), or one whose on-demand retype needs to move it.
    'migrate': MigrationStep((AVAILABLE,), None, MIGRATION_STARTING, _MIGRATION_GUARDS),
    'migrate_retype': MigrationStep((RETYPING,), None, MIGRATION_STARTING, _MIGRATION_GUARDS),
    # The manager starts moving data.
    'migrate_copy': MigrationStep(None, (MIGRATION_STARTING,), MIGRATING, ()),
    'migrate_done': MigrationStep(None, (MIGRATION_STARTING, MIGRATING), MIGRATION_SUCCESS, ()),
    'migrate_failed': MigrationStep(None, (MIGRATION_STARTING, MIGRATING), MIGRATION_ERROR, ()),
    # The cast never left: as if nothing had been claimed.
    'migrate_abort': MigrationStep(None, (MIGRATION_STARTING,), None, ()),
}


def _migration_stmt_args(event, values, status):
    step = VOLUME_MIGRATION[event]
    values = dict(values or {}, migration_status=step.target)
    expected = {}
    if step.statuses is not None:
        expected['status'] = step.statuses
    if step.sources is not None:
        expected['migration_status'] = step.sources
    if status is not None:
        # Ending an on-demand retype too: retyping -> available/in-use.
        values['status'] = target_of('volume', 'retype_done', status)
    return step, values, expected


def migration_transition(context, volume_id, event, values=None, work=None, status=None,
                         then=None):
    """Apply a VOLUME_MIGRATION event as one conditional UPDATE; True if won.

    ``status``: also end the volume's retype in that state (retype_done's choice).
    ``work``: {'operation', 'payload', 'status'} recorded with the win.
    """
    step, values, expected = _migration_stmt_args(event, values, status)
    return db.conditional_update(context, 'volume', volume_id, values, expected=expected,
                                 guards=step.guards, work=work, then=then)


def migration_transition_in(session, volume_id, event, values=None, status=None):
    step, values, expected = _migration_stmt_args(event, values, status)
    return db.conditional_update_in(session, 'volume', volume_id, values, expected=expected,
                                    guards=step.guards)


def migration_explain(context, volume_id, event):
    """Every precondition of a VOLUME_MIGRATION event the volume does not meet now."""
    step = VOLUME_MIGRATION[event]
    try:
        row = db.volume_get(context, volume_id)
    except exception.NotFound:
        return ['volume %s no longer exists' % volume_id]
    reasons = []
    if step.statuses is not None and row.status not in step.statuses:
        reasons.append('status must be %s, but is %s' % (' or '.join(step.statuses),
                                                         row.status))
    if step.sources is not None and row.migration_status not in step.sources:
        reasons.append('migration status must be %s, but is %s'
                       % (' or '.join(step.sources), row.migration_status))
    reasons.extend(db.unmet_guards(context, 'volume', volume_id, step.guards))
    return reasons or ['volume %s changed during the request; try again' % volume_id]


def settle_target(current, attachment_statuses, hold_detaching=True):
    """(status, attach_status) a volume's live attachments give it.

    Connected attachments (attached, or failed to detach) make it in-use,
    which wins over any other attachment changing, so a live migration (a
    second attachment while the first is attached) never flaps the status.
    A legacy os-begin_detaching holds ``detaching`` while connected.
    """
    found = set(attachment_statuses)
    connected = found & {ATTACHED, ERROR_DETACHING}
    attach_status = ATTACHED if found & {ATTACHED, DETACHING, ERROR_DETACHING} else DETACHED
    if not found:
        return AVAILABLE, DETACHED
    if connected:
        if hold_detaching and current == DETACHING:
            return DETACHING, attach_status
        return IN_USE, attach_status
    if ATTACHING in found:
        return ATTACHING, attach_status
    if DETACHING in found:
        return DETACHING, attach_status
    return RESERVED, attach_status


def settle(session, volume_id, hold_detaching=True):
    """Recompute the volume's status and attach_status from its live attachments.

    Runs inside the transaction that changed them (the volume row is already
    claimed by it). The status changes only from the states attachments
    decide (the ``settle`` event); a volume being extended or retyped keeps
    its status and gets only its attach_status. Returns the settled status.
    """
    current, statuses = db_attachments.settle_facts_in(session, volume_id)
    status, attach_status = settle_target(current, statuses, hold_detaching)
    if current is not None and current != status:
        transition_in(session, 'volume', volume_id, 'settle', target=status)
    db_attachments.set_attach_status_in(session, volume_id, attach_status)
    return status


def settler(volume_id):
    """A ``then`` callback settling the volume in the transaction of a transition.

    For events that end work begun on an attached volume (an extend): they
    land on ``available`` and the volume's attachments make it in-use again.
    """
    def then(session):
        settle(session, volume_id)
        return True
    return then


def unclaim_extend(context, volume_id):
    """Undo a claimed extend: back as it was, its work record gone (a quota refusal).

    'extend_done' without a size leaves the size as it was: the extend ends
    unapplied (and an attached volume settles back to in-use).
    """
    transition(context, 'volume', volume_id, 'extend_done', then=settler(volume_id))
    db.worker_destroy(context, 'volume', volume_id, 'extend')


def target_of(resource, event, target=None):
    """The state ``event`` leads to: its target, or ``target`` when it is a Choice."""
    t = MACHINES[resource].table[event]
    if isinstance(t.target, Choice):
        if target not in t.target:
            raise ValueError('%s %s needs a target among %s, not %r'
                             % (resource, event, tuple(t.target), target))
        return target
    if target is not None and target != t.target:
        raise ValueError('%s %s leads to %s, not %s' % (resource, event, t.target, target))
    return t.target


def transition(context, resource, resource_id, event, values=None, project_id=None,
               work=None, target=None, guard_args=None, then=None):
    """Apply ``event`` to one resource atomically; True if this caller won.

    A target of None leaves the status as it is (a guarded touch, used to
    prove a source resource is usable inside someone else's operation).
    ``target`` picks the state of an event whose target is a Choice.
    ``guard_args`` and ``then``: see ``db.api.conditional_update``.
    """
    t, values = _prepare(resource, event, values, target)
    return db.conditional_update(context, resource, resource_id, values,
                                 expected={_STATUS[resource]: t.sources}, guards=t.guards,
                                 project_id=project_id, work=work, guard_args=guard_args,
                                 then=then)


# Attachments keep their state in attach_status (Cinder's column name).
_STATUS = {'volume': 'status', 'snapshot': 'status', 'attachment': 'attach_status',
           'backup': 'status'}


def _prepare(resource, event, values, target):
    machine = MACHINES[resource]
    t = machine.table[event]
    values = dict(values or {})
    final = target_of(resource, event, target)
    if final is not None:
        values[_STATUS[resource]] = final
        if final == machine.deleted_state:
            values.setdefault('deleted', True)
            values.setdefault('deleted_at', utcnow())
    return t, values


def transition_in(session, resource, resource_id, event, values=None, project_id=None,
                  target=None, guard_args=None, work=None):
    """transition() inside the caller's transaction (e.g. from a ``then`` callback)."""
    if work is not None:
        work = dict(work, status=target_of(resource, event, target))
    t, values = _prepare(resource, event, values, target)
    return db.conditional_update_in(session, resource, resource_id, values,
                                    expected={_STATUS[resource]: t.sources}, guards=t.guards,
                                    project_id=project_id, guard_args=guard_args, work=work)


def _getter(resource):
    if resource == 'attachment':
        return db_attachments.attachment_get
    if resource == 'backup':
        return db_backups.backup_get
    return db.volume_get if resource == 'volume' else db.snapshot_get


def explain(context, resource, resource_id, event, guard_args=None):
    """Every precondition of ``event`` that the resource does not meet now."""
    machine = MACHINES[resource]
    t = machine.table[event]
    try:
        row = _getter(resource)(context, resource_id)
    except exception.NotFound:
        return ['%s %s no longer exists' % (resource, resource_id)]
    reasons = []
    status = getattr(row, _STATUS[resource])
    if status not in t.sources:
        reasons.append('status must be %s, but is %s' % (
            ' or '.join(s for s in t.sources), status))
    reasons.extend(db.unmet_guards(context, resource, resource_id, t.guards, guard_args))
    return reasons or ['%s %s changed during the request; try again' % (resource, resource_id)]


_INVALID = {'volume': exception.InvalidVolume, 'snapshot': exception.InvalidSnapshot,
            'attachment': exception.InvalidVolume, 'backup': exception.InvalidBackup}


def transition_or_raise(context, resource, resource_id, event, values=None, project_id=None,
                        work=None, target=None, guard_args=None):
    """transition(), raising a 400 that names every unmet precondition on a loss.

    ``work``: {'operation', 'payload'} of the work record written with the win;
    its status is the event's target state.
    """
    if work is not None:
        work = dict(work, status=target_of(resource, event, target))
    if not transition(context, resource, resource_id, event, values, project_id, work,
                      target=target, guard_args=guard_args):
        reasons = explain(context, resource, resource_id, event, guard_args)
        raise _INVALID[resource](reason='; '.join(reasons))


class _CascadeRefused(Exception):
    """Rolls a cascade claim back: these snapshots could not be claimed."""

    def __init__(self, snapshot_ids):
        super().__init__(snapshot_ids)
        self.snapshot_ids = snapshot_ids


def transition_cascade(context, volume_id, event, values=None, project_id=None, work=None,
                       snapshot_project_id=None):
    """Claim a volume and every live snapshot of it in one transaction, or nothing.

    ``event`` is a CASCADE volume event; each snapshot takes its CASCADE event.
    ``snapshot_project_id``: every snapshot must belong to that project too
    (a non-admin cannot delete another project's snapshots through its volume).
    ``work``: the volume's work record, as in transition_or_raise; it covers the
    snapshots (the volume manager deletes them before the volume).
    On a loss, raises a 400 naming every unmet precondition of the volume, or
    every snapshot that cannot be deleted and why; nothing has changed then.
    """
    snapshot_event = CASCADE[event]

    def claim_snapshots(session):
        refused = [sid for sid in db.live_snapshot_ids_in(session, volume_id)
                   if not transition_in(session, 'snapshot', sid, snapshot_event,
                                        project_id=snapshot_project_id)]
        if refused:
            raise _CascadeRefused(refused)
        return True

    if work is not None:
        work = dict(work, status=target_of('volume', event))
    try:
        won = transition(context, 'volume', volume_id, event, values, project_id, work,
                         then=claim_snapshots)
    except _CascadeRefused as refused:
        raise exception.InvalidVolume(reason='; '.join(
            _explain_cascaded(context, sid, snapshot_event, snapshot_project_id)
            for sid in refused.snapshot_ids))
    if not won:
        raise exception.InvalidVolume(
            reason='; '.join(explain(context, 'volume', volume_id, event)))


def _explain_cascaded(context, snapshot_id, event, project_id):
    reasons = []
    if project_id is not None:
        try:
            row = db.snapshot_get(context, snapshot_id)
        except exception.NotFound:
            row = None
        if row is not None and row.project_id != project_id:
            reasons.append('it belongs to another project')
    if not reasons:
        reasons = explain(context, 'snapshot', snapshot_id, event)
    return 'snapshot %s cannot be deleted: %s' % (snapshot_id, ', '.join(reasons))
