"""Transition tables: the only place status strings are written down.

Each resource has a table ``event -> Transition(sources, target, guards)``.
``transition()`` performs one as a single conditional UPDATE and reports
whether it won; ``transition_or_raise()`` turns a loss into a 400 that names
every precondition that does not hold. Resources are inserted in their
``INITIAL`` state, which is how they enter a table.
"""

import collections

from blockstore.common import exception
from blockstore.db import api as db
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


# Volume states, as the Cinder API shows them.
CREATING = 'creating'
AVAILABLE = 'available'
DELETING = 'deleting'
DELETED = 'deleted'
ERROR = 'error'
ERROR_DELETING = 'error_deleting'
EXTENDING = 'extending'
ERROR_EXTENDING = 'error_extending'
IN_USE = 'in-use'
# -- types, qos, actions, transfers
RETYPING = 'retyping'
REVERTING = 'reverting'
RESTORING = 'restoring'
MANAGING = 'managing'
ERROR_MANAGING = 'error_managing'
UNMANAGING = 'unmanaging'
ERROR_UNMANAGING = 'error_unmanaging'
AWAITING_TRANSFER = 'awaiting-transfer'

# What an administrator may reset a volume or snapshot to (os-reset_status), as Cinder.
VOLUME_RESET_STATES = Choice((CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING,
                              ERROR_MANAGING, MANAGING, 'attaching', IN_USE, 'detaching',
                              'maintenance', 'reserved'))
SNAPSHOT_RESET_STATES = Choice((ERROR, AVAILABLE, CREATING, DELETING, 'updating',
                                ERROR_DELETING, UNMANAGING, 'backing-up', RESTORING))
VOLUME_ATTACH_STATES = ('attached', 'detached')
VOLUME_MIGRATION_STATES = ('migrating', 'error', 'success', 'completing', 'none', 'starting')

# States from which a volume may be deleted by its owner.
_VOLUME_DELETABLE = (AVAILABLE, ERROR, 'error_restoring', ERROR_EXTENDING, ERROR_MANAGING)
_DELETE_GUARDS = ['no_snapshots', 'not_attached', 'not_migrating', 'no_creating_clones']

VOLUME = Machine('volume', CREATING, {
    'create_done': T([CREATING], AVAILABLE),
    'create_failed': T([CREATING], ERROR),
    'delete': T(_VOLUME_DELETABLE, DELETING,
                guards=['no_snapshots', 'not_attached', 'not_migrating', 'no_creating_clones']),
    # Admin cleanup: also from states where work was lost (not while attached).
    'force_delete': T(_VOLUME_DELETABLE + (CREATING, ERROR_DELETING, EXTENDING, DELETING),
                      DELETING, guards=['no_snapshots', 'not_attached']),
    'delete_failed': T([DELETING], ERROR_DELETING),
    'delete_done': T([DELETING], DELETED),
    'extend': T([AVAILABLE], EXTENDING, guards=['not_migrating']),
    'extend_done': T([EXTENDING], AVAILABLE),
    'extend_failed': T([EXTENDING], ERROR_EXTENDING),
    # Source of a clone or snapshot: proves it is usable without changing it.
    'use_as_source': T([AVAILABLE, IN_USE], None),
    # -- types, qos, actions, transfers
    # Administrators only (the API checks): whatever the state, to the one they name.
    'reset': T(ANY_STATE, VOLUME_RESET_STATES),
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
    'transfer': T([AVAILABLE], AWAITING_TRANSFER, guards=['not_attached', 'not_migrating']),
    'transfer_accept': T([AWAITING_TRANSFER], AVAILABLE),
    'transfer_cancel': T([AWAITING_TRANSFER], AVAILABLE),
    # A guarded touch: the readonly flag changes only on an available volume.
    'update_readonly': T([AVAILABLE], None),
    # -- legacy attach actions: a guarded touch; a connection is made or torn down
    # only while the volume is usable by a host (os-initialize/terminate_connection).
    'use_for_export': T([AVAILABLE, IN_USE, 'reserved', 'attaching'], None),
}, deleted_state=DELETED, entries=(MANAGING,))

SNAPSHOT = Machine('snapshot', CREATING, {
    'create_done': T([CREATING], AVAILABLE),
    'create_failed': T([CREATING], ERROR),
    'delete': T([AVAILABLE, ERROR], DELETING),
    'force_delete': T([AVAILABLE, ERROR, CREATING, DELETING, ERROR_DELETING], DELETING),
    'delete_failed': T([DELETING], ERROR_DELETING),
    'delete_done': T([DELETING], DELETED),
    'use_as_source': T([AVAILABLE], None),
    # -- types, qos, actions, transfers
    'reset': T(ANY_STATE, SNAPSHOT_RESET_STATES),
    # The snapshot a volume reverts to; back to available whether the revert worked or not.
    'revert': T([AVAILABLE], RESTORING),
    'revert_done': T([RESTORING], AVAILABLE),
    'unmanage': T([AVAILABLE, ERROR], UNMANAGING),
    'unmanage_done': T([UNMANAGING], DELETED),
    'unmanage_failed': T([UNMANAGING], ERROR),
}, deleted_state=DELETED)

MACHINES = {m.resource: m for m in (VOLUME, SNAPSHOT)}


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
               work=None, target=None):
    """Apply ``event`` to one resource atomically; True if this caller won.

    A target of None leaves the status as it is (a guarded touch, used to
    prove a source resource is usable inside someone else's operation).
    ``target`` picks the state of an event whose target is a Choice.
    """
    machine = MACHINES[resource]
    t = machine.table[event]
    values = dict(values or {})
    final = target_of(resource, event, target)
    if final is not None:
        values['status'] = final
        if final == machine.deleted_state:
            values.setdefault('deleted', True)
            values.setdefault('deleted_at', utcnow())
    return db.conditional_update(context, resource, resource_id, values,
                                 expected={'status': t.sources}, guards=t.guards,
                                 project_id=project_id, work=work)


def explain(context, resource, resource_id, event):
    """Every precondition of ``event`` that the resource does not meet now."""
    machine = MACHINES[resource]
    t = machine.table[event]
    getter = db.volume_get if resource == 'volume' else db.snapshot_get
    try:
        row = getter(context, resource_id)
    except exception.NotFound:
        return ['%s %s no longer exists' % (resource, resource_id)]
    reasons = []
    if row.status not in t.sources:
        reasons.append('status must be %s, but is %s' % (
            ' or '.join(s for s in t.sources), row.status))
    reasons.extend(db.unmet_guards(context, resource, resource_id, t.guards))
    return reasons or ['%s %s changed during the request; try again' % (resource, resource_id)]


_INVALID = {'volume': exception.InvalidVolume, 'snapshot': exception.InvalidSnapshot}


def transition_or_raise(context, resource, resource_id, event, values=None, project_id=None,
                        work=None, target=None):
    """transition(), raising a 400 that names every unmet precondition on a loss.

    ``work``: {'operation', 'payload'} of the work record written with the win;
    its status is the event's target state.
    """
    if work is not None:
        work = dict(work, status=target_of(resource, event, target))
    if not transition(context, resource, resource_id, event, values, project_id, work,
                      target=target):
        reasons = explain(context, resource, resource_id, event)
        raise _INVALID[resource](reason='; '.join(reasons))
