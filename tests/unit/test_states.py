"""Walk the transition tables of blockstore.objects.states against a real (SQLite) database.

For every machine and event: each source state wins and lands on the target;
each other state is refused and leaves the row alone; every state is reachable
from the initial one; every guard, when violated, blocks the transition and is
named in the error ``transition_or_raise`` raises.
"""

import collections

import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.db import api as db
from blockstore.db import attachments as db_att
from blockstore.db import backups as db_backups
from blockstore.db.models import utcnow
from blockstore.objects import states

pytestmark = pytest.mark.usefixtures('database')

MACHINES = sorted(states.MACHINES.values(), key=lambda m: m.resource)

# States the tables list as sources, but that no event leads to yet: the flows
# that produce them (attach, restore from backup, manage existing) are not
# written. Strict xfail: once an event reaches one, the test says to drop it here.
KNOWN_UNREACHABLE = {}

# How to break each guard on an otherwise deletable volume, and a word the
# user-facing explanation must contain.
GUARD_WORDS = {
    'no_attachments': 'attachments',
    'multiattach': 'multiattach',
    'instance_attached': 'instance',
    'attached': 'not attached',
    'no_snapshots': 'snapshot',
    'not_attached': 'attached',
    'not_migrating': 'migrating',
    'no_creating_clones': 'clone',
    'no_creating_volumes': 'being created from the snapshot',
    'awaiting_extend_completion': 'completion',
    'no_dependent_backups': 'incremental',
    'no_active_backups': 'backup',
    'no_active_snapshot_backups': 'backup',
}


def _states(machine):
    return {s for s in machine.states if s is not None}


def _targets(t):
    """Every state a transition may lead to (all of a Choice's)."""
    if isinstance(t.target, states.Choice):
        return list(t.target)
    return [t.target]


def _some_target(t):
    """A target to pass for a Choice event (None for a fixed one)."""
    return t.target[0] if isinstance(t.target, states.Choice) else None


# ---------------------------------------------------------------------------
# Rows in any state
# ---------------------------------------------------------------------------

@pytest.fixture(scope='module')
def vtype(database):
    return db.volume_type_create(context.get_admin_context(),
                                 {'name': 'states-%s' % database.name}).id


def make_volume(ctx, vtype, status='available', **values):
    row = dict(project_id='proj', user_id='user', size=1, status=status,
               volume_type_id=vtype)
    if status == states.VOLUME.deleted_state:
        row.update(deleted=True, deleted_at=utcnow())
    row.update(values)
    return db.volume_create(ctx, row).id


def make_snapshot(ctx, vtype, status='available', volume_id=None, **values):
    if volume_id is None:
        volume_id = make_volume(ctx, vtype)
    row = dict(project_id='proj', user_id='user', volume_size=1, status=status,
               volume_id=volume_id, volume_type_id=vtype)
    if status == states.SNAPSHOT.deleted_state:
        row.update(deleted=True, deleted_at=utcnow())
    row.update(values)
    return db.snapshot_create(ctx, row).id


def make_attachment(ctx, vtype, status='reserved', volume_id=None, **values):
    if volume_id is None:
        volume_id = make_volume(ctx, vtype, 'in-use')
    row = dict(volume_id=volume_id, project_id='proj', attach_status=status,
               service_created=False)
    if status == states.ATTACHMENT.deleted_state:
        row.update(deleted=True, deleted_at=utcnow())
    row.update(values)
    with db._writer(ctx) as session:
        return db_att.insert(session, row)


def make_backup(ctx, vtype, status='available', volume_id=None, **values):
    if volume_id is None:
        volume_id = make_volume(ctx, vtype)
    row = dict(project_id='proj', user_id='user', size=1, status=status, volume_id=volume_id)
    if status == states.BACKUP.deleted_state:
        row.update(deleted=True, deleted_at=utcnow())
    row.update(values)
    return db_backups.backup_create(ctx, row).id


def make(ctx, vtype, resource, status):
    return {'volume': make_volume, 'snapshot': make_snapshot,
            'attachment': make_attachment, 'backup': make_backup}[resource](ctx, vtype, status)


class _Row:
    """A row with ``status`` whatever the resource calls its status column."""

    def __init__(self, row, status):
        self.__dict__.update({k: getattr(row, k) for k in
                              ('created_at', 'updated_at', 'deleted', 'deleted_at')})
        self.status = status


def read(ctx, resource, resource_id):
    if resource == 'attachment':
        row = db_att.attachment_get(ctx, resource_id, read_deleted=True)
        return _Row(row, row.attach_status)
    getter = {'volume': db.volume_get, 'snapshot': db.snapshot_get,
              'backup': db_backups.backup_get}[resource]
    return getter(ctx, resource_id, read_deleted=True)


INSTANCE = 'b6d1a3c4-0000-4000-8000-000000000001'


def satisfy(ctx, vtype, machine, event, rid, skip=None):
    """Make the guards that do not hold on a fresh row hold; the guard_args to pass."""
    guard_args = {}
    for guard in machine.table[event].guards:
        if guard == skip:
            continue
        if guard == 'multiattach':
            db.volume_update(ctx, rid, {'multiattach': True})
        elif guard == 'attached':
            db.volume_update(ctx, rid, {'attach_status': 'attached'})
        elif guard == 'instance_attached':
            make_attachment(ctx, vtype, 'attached', volume_id=rid, instance_uuid=INSTANCE)
            guard_args['instance_attached'] = INSTANCE
        elif guard == 'awaiting_extend_completion':
            db.worker_create(ctx, 'volume', rid, db.EXTEND_COMPLETION, 'extending',
                             payload={'new_size': 2})
    return guard_args or None


def _cases(allowed):
    for machine in MACHINES:
        for event, t in sorted(machine.table.items()):
            chosen = t.sources if allowed else sorted(_states(machine) - set(t.sources))
            for status in chosen:
                yield pytest.param(machine, event, status,
                                   id='%s-%s-from-%s' % (machine.resource, event, status))


# ---------------------------------------------------------------------------
# The tables themselves
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('machine', MACHINES, ids=lambda m: m.resource)
def test_table_is_well_formed(machine):
    assert machine.initial in _states(machine)
    for event, t in machine.table.items():
        assert t.sources, '%s %s has no source state' % (machine.resource, event)
        assert len(set(t.sources)) == len(t.sources), (machine.resource, event)
        for guard in t.guards:
            assert guard in db.GUARDS, '%s %s: unknown guard %s' % (
                machine.resource, event, guard)
    if machine.deleted_state is not None:
        assert machine.deleted_state in _states(machine)
        for event, t in machine.table.items():
            assert machine.deleted_state not in t.sources, (
                '%s %s starts from the deleted state' % (machine.resource, event))


@pytest.mark.parametrize('machine', MACHINES, ids=lambda m: m.resource)
def test_states_are_status_strings(machine):
    assert all(isinstance(s, str) for s in machine.states), machine.states


def _reachability_cases():
    for machine in MACHINES:
        for status in sorted(_states(machine)):
            marks = ()
            if (machine.resource, status) in KNOWN_UNREACHABLE:
                marks = pytest.mark.xfail(
                    strict=True, reason=KNOWN_UNREACHABLE[(machine.resource, status)])
            yield pytest.param(machine, status, marks=marks,
                               id='%s-%s' % (machine.resource, status))


@pytest.mark.parametrize('machine,status', list(_reachability_cases()))
def test_state_reachable_from_initial(machine, status):
    edges = collections.defaultdict(set)
    for t in machine.table.values():
        for source in t.sources:
            edges[source].update(source if target is None else target
                                 for target in _targets(t))
    seen, todo = set(machine.entries), list(machine.entries)
    while todo:
        for nxt in edges[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert status in seen, '%s state %r cannot be reached from %r through the table' % (
        machine.resource, status, machine.initial)


# ---------------------------------------------------------------------------
# Every listed transition wins; every other one is refused
# ---------------------------------------------------------------------------

@pytest.mark.parametrize('machine,event,status', list(_cases(allowed=True)))
def test_listed_transition_wins(ctx, vtype, machine, event, status):
    rid = make(ctx, vtype, machine.resource, status)
    guard_args = satisfy(ctx, vtype, machine, event, rid)
    before = read(ctx, machine.resource, rid)

    target = _some_target(machine.table[event])
    assert states.transition(ctx, machine.resource, rid, event, target=target,
                             guard_args=guard_args) is True

    after = read(ctx, machine.resource, rid)
    target = target or machine.table[event].target
    assert after.status == (status if target is None else target)
    assert after.updated_at is not None
    if target is not None and target == machine.deleted_state:
        assert after.deleted is True and after.deleted_at is not None
    else:
        assert after.deleted is False
    assert after.created_at == before.created_at


@pytest.mark.parametrize('machine,event,status', list(_cases(allowed=False)))
def test_unlisted_transition_refused(ctx, vtype, machine, event, status):
    rid = make(ctx, vtype, machine.resource, status)
    guard_args = satisfy(ctx, vtype, machine, event, rid)
    before = read(ctx, machine.resource, rid)

    assert states.transition(ctx, machine.resource, rid, event, guard_args=guard_args,
                             target=_some_target(machine.table[event])) is False

    after = read(ctx, machine.resource, rid)
    assert (after.status, after.deleted, after.updated_at) == (
        before.status, before.deleted, before.updated_at)


@pytest.mark.parametrize('machine', MACHINES, ids=lambda m: m.resource)
def test_refusal_names_the_status(ctx, vtype, machine):
    # An event that the initial state may not take.
    event, t = next((e, t) for e, t in sorted(machine.table.items())
                    if machine.initial not in t.sources)
    rid = make(ctx, vtype, machine.resource, machine.initial)
    error = {'snapshot': exception.InvalidSnapshot,
             'backup': exception.InvalidBackup}.get(machine.resource, exception.InvalidVolume)
    with pytest.raises(error) as info:
        states.transition_or_raise(ctx, machine.resource, rid, event)
    assert 'but is %s' % machine.initial in str(info.value)
    for source in t.sources:
        assert source in str(info.value)


@pytest.mark.parametrize('machine', MACHINES, ids=lambda m: m.resource)
def test_missing_resource(ctx, machine):
    event = next(e for e in sorted(machine.table)
                 if not isinstance(machine.table[e].target, states.Choice))
    rid = db.new_uuid()
    assert states.transition(ctx, machine.resource, rid, event) is False
    with pytest.raises(exception.Invalid, match='no longer exists'):
        states.transition_or_raise(ctx, machine.resource, rid, event)


def test_other_project_refused(ctx, vtype):
    vid = make_volume(ctx, vtype, 'available')
    assert states.transition(ctx, 'volume', vid, 'delete', project_id='someone-else') is False
    assert read(ctx, 'volume', vid).status == 'available'
    assert states.transition(ctx, 'volume', vid, 'delete', project_id='proj') is True


def test_values_are_written_with_the_status(ctx, vtype):
    vid = make_volume(ctx, vtype, 'creating')
    assert states.transition(ctx, 'volume', vid, 'create_done',
                             values={'host': 'node@file', 'launched_at': utcnow()})
    row = read(ctx, 'volume', vid)
    assert (row.status, row.host) == ('available', 'node@file')
    assert row.launched_at is not None


# ---------------------------------------------------------------------------
# Guards
# ---------------------------------------------------------------------------

def violate(ctx, vtype, guard, volume_id):
    """Break ``guard`` on the row ``volume_id`` (a volume, or the snapshot or backup it names)."""
    if guard == 'no_dependent_backups':
        parent = db_backups.backup_get(ctx, volume_id)
        make_backup(ctx, vtype, 'creating', volume_id=parent.volume_id, parent_id=volume_id)
    elif guard == 'no_active_backups':
        make_backup(ctx, vtype, 'creating', volume_id=volume_id)
    elif guard == 'no_active_snapshot_backups':
        snap = db.snapshot_get(ctx, volume_id)
        make_backup(ctx, vtype, 'creating', volume_id=snap.volume_id, snapshot_id=volume_id)
    elif guard == 'no_snapshots':
        make_snapshot(ctx, vtype, 'creating', volume_id=volume_id)
    elif guard == 'not_attached':
        db.volume_update(ctx, volume_id, {'attach_status': 'attached'})
    elif guard == 'not_migrating':
        db.volume_update(ctx, volume_id, {'migration_status': 'migrating'})
    elif guard == 'no_creating_clones':
        make_volume(ctx, vtype, 'creating', source_volid=volume_id)
    elif guard == 'no_creating_volumes':
        snap = db.snapshot_get(ctx, volume_id)
        make_volume(ctx, vtype, 'creating', snapshot_id=snap.id)
    elif guard == 'no_attachments':
        make_attachment(ctx, vtype, 'reserved', volume_id=volume_id)
    elif guard in ('multiattach', 'attached', 'instance_attached',
                   'awaiting_extend_completion'):
        pass   # these hold only once satisfy() made them hold; it skipped this one
    else:
        pytest.fail('tests/unit/test_states.py does not know how to violate guard %r; '
                    'add it to violate() and GUARD_WORDS' % guard)


def _guard_cases():
    for machine in MACHINES:
        for event, t in sorted(machine.table.items()):
            for guard in t.guards:
                yield pytest.param(machine, event, guard,
                                   id='%s-%s-%s' % (machine.resource, event, guard))


@pytest.mark.parametrize('machine,event,guard', list(_guard_cases()))
def test_violated_guard_blocks_and_is_named(ctx, vtype, machine, event, guard):
    resource = machine.resource
    assert resource in ('volume', 'snapshot', 'backup'), 'add a guard violation of %s' % resource
    t = machine.table[event]
    status = t.sources[0]
    vid = make(ctx, vtype, resource, status)
    guard_args = satisfy(ctx, vtype, machine, event, vid, skip=guard)
    if guard == 'instance_attached':
        guard_args = {'instance_attached': INSTANCE}   # but no attachment of it
    violate(ctx, vtype, guard, vid)
    before = read(ctx, resource, vid)

    target = _some_target(t)
    assert states.transition(ctx, resource, vid, event, target=target,
                             guard_args=guard_args) is False
    after = read(ctx, resource, vid)
    assert (after.status, after.updated_at) == (before.status, before.updated_at)

    error = {'snapshot': exception.InvalidSnapshot,
             'backup': exception.InvalidBackup}.get(resource, exception.InvalidVolume)
    with pytest.raises(error) as info:
        states.transition_or_raise(ctx, resource, vid, event, target=target)
    message = str(info.value)
    assert db.GUARDS[guard][1] in message
    assert GUARD_WORDS[guard] in message
    assert 'status must be' not in message
    for other in t.guards:
        if other != guard:
            assert db.GUARDS[other][1] not in message, message


@pytest.mark.parametrize('guard', sorted(db.GUARDS))
def test_guard_words_cover_every_guard(guard):
    assert guard in GUARD_WORDS, 'add %r to GUARD_WORDS and violate()' % guard


def test_all_violations_are_named_together(ctx, vtype):
    vid = make_volume(ctx, vtype, 'in-use')
    guards = states.VOLUME.table['delete'].guards
    for guard in guards:
        violate(ctx, vtype, guard, vid)
    with pytest.raises(exception.InvalidVolume) as info:
        states.transition_or_raise(ctx, 'volume', vid, 'delete')
    message = str(info.value)
    assert 'but is in-use' in message
    for guard in guards:
        assert db.GUARDS[guard][1] in message


def test_finished_dependents_do_not_block_delete(ctx, vtype):
    vid = make_volume(ctx, vtype, 'available', migration_status='success')
    make_snapshot(ctx, vtype, 'deleted', volume_id=vid)
    make_volume(ctx, vtype, 'available', source_volid=vid)
    make_volume(ctx, vtype, 'error', source_volid=vid)
    assert states.transition(ctx, 'volume', vid, 'delete') is True


def test_guard_lifts_when_dependent_goes(ctx, vtype):
    vid = make_volume(ctx, vtype, 'available')
    sid = make_snapshot(ctx, vtype, 'available', volume_id=vid)
    assert states.transition(ctx, 'volume', vid, 'delete') is False
    assert states.transition(ctx, 'snapshot', sid, 'delete') is True
    assert states.transition(ctx, 'volume', vid, 'delete') is False  # still 'deleting'
    assert states.transition(ctx, 'snapshot', sid, 'delete_done') is True
    assert states.transition(ctx, 'volume', vid, 'delete') is True


# ---------------------------------------------------------------------------
# Choice targets and entry states
# ---------------------------------------------------------------------------

def test_choice_target_is_required_and_checked(ctx, vtype):
    vid = make_volume(ctx, vtype, 'error')
    with pytest.raises(ValueError):
        states.transition(ctx, 'volume', vid, 'reset')
    with pytest.raises(ValueError):
        states.transition(ctx, 'volume', vid, 'reset', target='deleted')
    with pytest.raises(ValueError):
        states.transition(ctx, 'volume', vid, 'delete', target='available')
    assert read(ctx, 'volume', vid).status == 'error'
    assert states.transition(ctx, 'volume', vid, 'reset', target='available') is True
    assert read(ctx, 'volume', vid).status == 'available'


def test_reset_comes_from_every_live_state():
    for machine in MACHINES:
        if 'reset' not in machine.table:
            continue   # attachments: an administrator deletes them (force detach)
        sources = set(machine.table['reset'].sources)
        assert sources == _states(machine) - {machine.deleted_state}


def test_entry_states_may_be_inserted(ctx, vtype):
    from blockstore import objects
    objects.register_all()
    vol = objects.Volume(ctx, project_id='proj', size=1, volume_type_id=vtype,
                         status=states.MANAGING, attach_status='detached')
    vol.create(work={'operation': 'manage'})
    assert read(ctx, 'volume', vol.id).status == 'managing'
    assert [w.status for w in db.worker_get_all(ctx, resource_id=vol.id)] == ['managing']
    bad = objects.Volume(ctx, project_id='proj', size=1, volume_type_id=vtype,
                         status=states.AVAILABLE, attach_status='detached')
    with pytest.raises(AssertionError):
        bad.create()
