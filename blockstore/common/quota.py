"""Quotas: limits per project, usage counted from the resources, and enforcement.

Resources are Cinder's: ``volumes``, ``snapshots``, ``gigabytes`` (volumes and,
unless ``no_snapshot_gb_quota``, snapshots), ``per_volume_gigabytes``,
``backups``, ``backup_gigabytes``, ``groups``, and per volume type
``volumes_<type>``, ``snapshots_<type>``, ``gigabytes_<type>``.

A limit (-1: unlimited) is the project's own (``quotas`` table), else the
``default`` quota class's, else the configured default (per-type resources:
-1). A project whose parent is known is also bound by the parent's limits:
its effective limit is the smaller of the two (see :func:`parent_of`).

Usage is never stored: it is counted from the volumes, snapshots and
backups themselves. Enforcement is insert-then-verify: the service layer inserts the
new row, then calls :func:`verify_create` (or :func:`verify_extend` after
claiming an extend), which takes the project's quota lock, counts usage
*including* the new row, and, when a limit is exceeded, removes the row (or
reverts the extend) in that same locked transaction before raising Cinder's
413. Because the checks of a project are serialised and each sees every row
committed before it, N concurrent creates against a quota of Q leave exactly
min(N, Q) resources. Limit writes take the same lock, and the limits a check
enforces are read under it. When none of those a creation consumes is
enforced (-1) on a first, unlocked read, nothing is counted and the lock is
not taken at all.
"""

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_log import log as logging

from blockstore.common import exception
from blockstore.db import api as db
from blockstore.db import quotas as quota_db

import blockstore.common.conf  # noqa: F401,E402  (registers options)

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

UNLIMITED = -1
DEFAULT_CLASS = quota_db.DEFAULT_CLASS

# Resources that are not per volume type, with the option holding their default.
BASE_RESOURCES = (
    ('volumes', 'quota_volumes'),
    ('per_volume_gigabytes', 'per_volume_size_limit'),
    ('snapshots', 'quota_snapshots'),
    ('gigabytes', 'quota_gigabytes'),
    ('backups', 'quota_backups'),
    ('backup_gigabytes', 'quota_backup_gigabytes'),
    ('groups', 'quota_groups'),
)
BASE_NAMES = tuple(name for name, _opt in BASE_RESOURCES)
PER_TYPE_PREFIXES = ('volumes_', 'snapshots_', 'gigabytes_')
# Keys a quota_set body may carry that are not resources (cinderclient sends tenant_id).
NON_QUOTA_KEYS = ('tenant_id', 'id')
# The largest limit the database holds.
MAX_LIMIT = 0x7FFFFFFF

# How far up a chain of parents limits are looked for (guards against cycles).
_MAX_DEPTH = 8

_parent_resolver = None


def set_parent_resolver(resolver):
    """Install ``resolver(ctx, project_id) -> parent project id or None``.

    With keystone the resolver asks for the project's ``parent_id``; with
    noauth there is no hierarchy and none is installed.
    """
    global _parent_resolver
    _parent_resolver = resolver


def parent_of(ctx, project_id):
    """The parent project of ``project_id``, when known.

    Known from the installed resolver, or, for the caller's own project,
    from the context's ``quota_parent`` attribute (set by whatever
    authenticated the request).
    """
    if _parent_resolver is not None:
        return _parent_resolver(ctx, project_id)
    if project_id is not None and project_id == getattr(ctx, 'project_id', None):
        return getattr(ctx, 'quota_parent', None)
    return None


# -- resources and limits -------------------------------------------------------------------

def _admin_ctx():
    from blockstore.common import context
    return context.get_admin_context()


def type_names(ctx=None):
    """Names of the live volume types (each has three per-type resources)."""
    return [t.name for t in db.volume_type_get_all(_admin_ctx())]


def resource_names(ctx=None, types=None):
    names = list(BASE_NAMES)
    for name in (type_names() if types is None else types):
        names.extend(prefix + name for prefix in PER_TYPE_PREFIXES)
    return names


def is_resource(name, types=None):
    if name in BASE_NAMES:
        return True
    types = type_names() if types is None else types
    return any(name.startswith(p) and name[len(p):] in types for p in PER_TYPE_PREFIXES)


def _config_default(name):
    for base, opt in BASE_RESOURCES:
        if base == name:
            return CONF[opt]
    return UNLIMITED


def defaults(ctx, names=None, session=None):
    """{resource: default limit}: the ``default`` class's value, else the option's."""
    names = resource_names() if names is None else names
    cls = quota_db.class_limits(ctx, DEFAULT_CLASS, session=session)
    return {n: cls.get(n, _config_default(n)) for n in names}


def class_quotas(ctx, class_name, names=None):
    """{resource: limit} of a quota class: its own values, else the defaults."""
    names = resource_names() if names is None else names
    base = defaults(ctx, names)
    if class_name == DEFAULT_CLASS:
        return base
    own = quota_db.class_limits(ctx, class_name)
    return {n: own.get(n, base[n]) for n in names}


def _tighter(a, b):
    if a < 0:
        return b
    if b < 0:
        return a
    return min(a, b)


def project_quotas(ctx, project_id, names=None, session=None, _depth=0):
    """{resource: effective limit} of a project, bounded by its parents' limits."""
    names = resource_names() if names is None else names
    base = defaults(ctx, names, session=session)
    own = quota_db.project_limits(ctx, project_id, session=session)
    limits = {n: own.get(n, base[n]) for n in names}
    parent = parent_of(ctx, project_id)
    if parent and parent != project_id and _depth < _MAX_DEPTH:
        up = project_quotas(ctx, parent, names, session=session, _depth=_depth + 1)
        limits = {n: _tighter(limits[n], up[n]) for n in names}
    return limits


# -- usage ----------------------------------------------------------------------------------

def _count(counted, names):
    """{resource: in use} from a quota_db.Usage."""
    snap_gb = not CONF.no_snapshot_gb_quota
    in_use = {n: 0 for n in names}
    for type_id, (n, gb) in counted.volumes.items():
        name = counted.type_names.get(type_id)
        gb += counted.extending.get(type_id, 0)
        for key, value in (('volumes', n), ('gigabytes', gb)):
            in_use[key] = in_use.get(key, 0) + value
            if name is not None:
                typed = '%s_%s' % (key, name)
                in_use[typed] = in_use.get(typed, 0) + value
    for type_id, (n, gb) in counted.snapshots.items():
        name = counted.type_names.get(type_id)
        pairs = [('snapshots', n)] + ([('gigabytes', gb)] if snap_gb else [])
        for key, value in pairs:
            in_use[key] = in_use.get(key, 0) + value
            if name is not None:
                typed = '%s_%s' % (key, name)
                in_use[typed] = in_use.get(typed, 0) + value
    n, gb = counted.backups
    in_use['backups'] = in_use.get('backups', 0) + n
    in_use['backup_gigabytes'] = in_use.get('backup_gigabytes', 0) + gb
    # Groups have no table yet: nothing of them is in use.
    return {n: in_use.get(n, 0) for n in names}


def usage(ctx, project_id, names=None, session=None):
    """{resource: in use} of a project, counted now."""
    names = resource_names() if names is None else names
    return _count(quota_db.usage(ctx, project_id, session=session), names)


def get_project_quotas(ctx, project_id, usages=False):
    """Cinder's quota set of a project: {res: limit}, or {res: {limit, in_use, reserved}}."""
    names = resource_names()
    limits = project_quotas(ctx, project_id, names)
    if not usages:
        return limits
    in_use = usage(ctx, project_id, names)
    return {n: {'limit': limits[n], 'in_use': in_use[n], 'reserved': 0} for n in names}


def check_not_below_usage(ctx, project_id, values):
    """400 when a new limit is below what the project already uses (Cinder's rule)."""
    in_use = usage(ctx, project_id, list(values))
    for key, value in values.items():
        if key == 'per_volume_gigabytes' or value == UNLIMITED:
            continue
        if value < in_use.get(key, 0):
            raise exception.QuotaLimitTooLow(key=key, usage=in_use[key], limit=value)


# -- enforcement ------------------------------------------------------------------------------

def _over(checks, limits, in_use):
    """The first (resource, delta) of ``checks`` whose limit the usage exceeds."""
    for name, delta in checks:
        limit = limits.get(name, UNLIMITED)
        if limit >= 0 and in_use.get(name, 0) > limit:
            return name, delta, limit
    return None


def _error(kind, name, delta, limit, in_use, size):
    if kind == 'backup':
        if name == 'backup_gigabytes':
            return exception.VolumeBackupSizeExceedsAvailableQuota(
                requested=size, quota=limit, consumed=in_use[name] - delta)
        return exception.BackupLimitExceeded(allowed=limit)
    if 'gigabytes' in name:
        return exception.VolumeSizeExceedsAvailableQuota(
            name=name, requested=size, quota=limit, consumed=in_use[name] - delta)
    if kind == 'snapshot':
        return exception.SnapshotLimitExceeded(allowed=limit)
    return exception.VolumeLimitExceeded(allowed=limit, name=name)


def _checks(kind, type_name, size):
    """(resource, delta) pairs a creation of ``kind`` (volume, snapshot, extend, backup) consumes."""
    if kind == 'backup':
        return [('backups', 1), ('backup_gigabytes', size)]
    if kind == 'extend':
        typed = [('gigabytes_%s' % type_name, size)] if type_name is not None else []
        return [('gigabytes', size)] + typed
    count_key = 'volumes' if kind == 'volume' else 'snapshots'
    checks = [(count_key, 1)]
    if kind == 'volume' or not CONF.no_snapshot_gb_quota:
        checks.append(('gigabytes', size))
    if type_name is not None:
        checks.append(('%s_%s' % (count_key, type_name), 1))
        if kind == 'volume' or not CONF.no_snapshot_gb_quota:
            checks.append(('gigabytes_%s' % type_name, size))
    return checks


_retry = oslo_db_api.wrap_db_retry(max_retries=10, retry_on_deadlock=True,
                                   retry_interval=0.01, max_retry_interval=0.2)


def _unlimited(limits, names):
    return all(limits.get(n, UNLIMITED) < 0 for n in names)


def _decide(limits, checks, kind, per_volume_size):
    """(too_big, skip, volumes_only) of a creation under ``limits``."""
    per_volume = limits['per_volume_gigabytes']
    checked = [n for n, _d in checks]
    too_big = per_volume_size is not None and 0 <= per_volume < per_volume_size
    skip = not too_big and _unlimited(limits, checked)
    # Snapshots and running extends only add gigabytes (and snapshots, which a
    # volume creation does not consume).
    volumes_only = kind == 'volume' and _unlimited(
        limits, [n for n in checked if n.startswith('gigabytes')])
    return too_big, skip, volumes_only


@_retry
def _verify(ctx, project_id, kind, type_id, size, undo, per_volume_size=None):
    """Under the project's lock: count (the new row included); undo and report if over.

    Limit writes take the same lock, so the limits a check enforces are read
    under it, with the usage. A first read without the lock only decides
    whether the lock is needed at all: when no limit the creation consumes is
    enforced, nothing is counted and no lock is taken (so a limit set on an
    unlimited resource at that very moment is enforced from the next creation
    on).
    """
    with quota_db.reading(ctx) as session:
        type_name = quota_db.type_name(ctx, type_id, session)
        checks = _checks(kind, type_name, size)
        names = [n for n, _d in checks] + ['per_volume_gigabytes']
        limits = project_quotas(ctx, project_id, names, session=session)
    if _decide(limits, checks, kind, per_volume_size)[1]:
        return
    checked = [n for n, _d in checks]
    error = None
    with quota_db.locked(ctx, project_id) as session:
        limits = project_quotas(ctx, project_id, names, session=session)
        too_big, skip, volumes_only = _decide(limits, checks, kind, per_volume_size)
        if too_big:
            error = exception.VolumeSizeExceedsQuotaLimit(
                size=per_volume_size, limit=limits['per_volume_gigabytes'])
        elif not skip:
            counted = quota_db.usage(ctx, project_id, session=session,
                                     type_names={type_id: type_name} if type_name else {},
                                     volumes_only=volumes_only,
                                     backups_only=kind == 'backup')
            in_use = _count(counted, checked)
            over = _over(checks, limits, in_use)
            if over is not None:
                error = _error(kind, over[0], over[1], over[2], in_use, size)
        if error is not None:
            # In the locked transaction: the next check must not count this row.
            undo()
    if error is not None:
        LOG.info('Quota of project %s: %s', project_id, error.msg)
        raise error


def verify_create(ctx, kind, obj):
    """After inserting a volume or snapshot: keep it if the project is within quota.

    Otherwise the row is removed (with its work record and metadata) and the
    413 Cinder returns is raised. ``obj`` is the new objects.Volume/Snapshot.
    """
    if not obj.use_quota:
        return
    size = obj.size if kind == 'volume' else obj.volume_size
    _verify(ctx, obj.project_id, kind, obj.volume_type_id, size,
            undo=lambda: db.hard_delete(ctx, kind, obj.id),
            per_volume_size=size if kind == 'volume' else None)


def verify_backup(ctx, backup, undo=None):
    """After inserting a backup: keep it if the project is within its backup quotas.

    Otherwise ``undo()`` runs in the locked quota transaction (default: the row
    is removed with its work record and metadata; the service layer also gives
    the volume back there) and Cinder's 413 is raised: BackupLimitExceeded
    (``backups``) or VolumeBackupSizeExceedsAvailableQuota (``backup_gigabytes``).
    """
    if undo is None:
        def undo():
            db.hard_delete(ctx, 'backup', backup.id)
    _verify(ctx, backup.project_id, 'backup', None, backup.size, undo)


def verify_extend(ctx, volume, new_size, undo):
    """After claiming an extend (its work record carries new_size): check gigabytes.

    Running extends count with their new size. Over quota, ``undo()`` undoes
    the claim (the caller's: ``objects.states.unclaim_extend`` returns the
    volume to available with its size unchanged and removes its work record)
    and the 413 is raised.
    """
    if not volume.use_quota:
        return
    # As in Cinder, a refused extend reports the increment as the size requested.
    _verify(ctx, volume.project_id, 'extend', volume.volume_type_id, new_size - volume.size,
            undo, per_volume_size=new_size)


class _Rollback(Exception):
    """Raised inside the locked transaction to undo what it did."""


def _move_deltas(counted, volumes, snapshots):
    """{resource: amount} that ``volumes`` and ``snapshots`` add to a project (ordered)."""
    deltas = {}
    snap_gb = not CONF.no_snapshot_gb_quota

    def add(key, type_id, amount):
        deltas[key] = deltas.get(key, 0) + amount
        name = counted.type_names.get(type_id)
        if name is not None:
            typed = '%s_%s' % (key, name)
            deltas[typed] = deltas.get(typed, 0) + amount

    for v in volumes:
        if v.use_quota:
            add('volumes', v.volume_type_id, 1)
    for s in snapshots:
        if s.use_quota:
            add('snapshots', s.volume_type_id, 1)
    for v in volumes:
        if v.use_quota:
            add('gigabytes', v.volume_type_id, v.size)
    for s in snapshots:
        if s.use_quota and snap_gb:
            add('gigabytes', s.volume_type_id, s.volume_size)
    return deltas


@_retry
def move_within_quota(ctx, project_id, volumes, snapshots, move):
    """Give ``project_id`` existing volumes and snapshots, only if it stays within quota.

    ``move()`` changes their ownership (returning False when it lost a race).
    It runs in the project's locked quota transaction; usage is then counted
    with the moved rows included, and over a limit the whole transaction --
    the move with it -- is rolled back and Cinder's 413 raised (as for a
    create of the same resources). ``volumes``/``snapshots`` are the rows
    being moved (size or volume_size, volume_type_id, use_quota). Returns
    whether the move happened.
    """
    error = None
    try:
        with quota_db.locked(ctx, project_id) as session:
            if not move():
                raise _Rollback()
            counted = quota_db.usage(ctx, project_id, session=session)
            deltas = _move_deltas(counted, volumes, snapshots)
            limits = project_quotas(ctx, project_id, list(deltas), session=session)
            in_use = _count(counted, list(deltas))
            over = _over(list(deltas.items()), limits, in_use)
            if over is not None:
                name, delta, limit = over
                kind = 'snapshot' if name.startswith('snapshots') else 'volume'
                error = _error(kind, name, delta, limit, in_use, delta)
                raise _Rollback()
    except _Rollback:
        if error is None:
            return False
        LOG.info('Quota of project %s: %s', project_id, error.msg)
        raise error
    return True
