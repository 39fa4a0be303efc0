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


class Machine:
    def __init__(self, resource, initial, table, deleted_state=None):
        self.resource = resource
        self.initial = initial
        self.table = table
        self.deleted_state = deleted_state

    @property
    def states(self):
        found = {self.initial}
        for t in self.table.values():
            found.update(t.sources)
            if t.target is not None:
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

# States from which a volume may be deleted by its owner.
_VOLUME_DELETABLE = (AVAILABLE, ERROR, 'error_restoring', ERROR_EXTENDING, 'error_managing')

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
}, deleted_state=DELETED)

SNAPSHOT = Machine('snapshot', CREATING, {
    'create_done': T([CREATING], AVAILABLE),
    'create_failed': T([CREATING], ERROR),
    'delete': T([AVAILABLE, ERROR], DELETING),
    'force_delete': T([AVAILABLE, ERROR, CREATING, DELETING, ERROR_DELETING], DELETING),
    'delete_failed': T([DELETING], ERROR_DELETING),
    'delete_done': T([DELETING], DELETED),
    'use_as_source': T([AVAILABLE], None),
}, deleted_state=DELETED)

MACHINES = {m.resource: m for m in (VOLUME, SNAPSHOT)}


def transition(context, resource, resource_id, event, values=None, project_id=None,
               work=None):
    """Apply ``event`` to one resource atomically; True if this caller won.

    A target of None leaves the status as it is (a guarded touch, used to
    prove a source resource is usable inside someone else's operation).
    """
    machine = MACHINES[resource]
    t = machine.table[event]
    values = dict(values or {})
    if t.target is not None:
        values['status'] = t.target
        if t.target == machine.deleted_state:
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
                        work=None):
    """transition(), raising a 400 that names every unmet precondition on a loss.

    ``work``: {'operation', 'payload'} of the work record written with the win;
    its status is the event's target state.
    """
    if work is not None:
        work = dict(work, status=MACHINES[resource].table[event].target)
    if not transition(context, resource, resource_id, event, values, project_id, work):
        reasons = explain(context, resource, resource_id, event)
        raise _INVALID[resource](reason='; '.join(reasons))
