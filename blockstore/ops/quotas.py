"""Setting quota limits (os-quota-sets, os-quota-class-sets): validate, check, write.

Shared by the API and the operator's tools. A project's new limits are
checked against its usage and written in one transaction that holds the
project's quota lock (``db.quotas.locked``), the lock creations take to count
their usage: the usage a limit is checked against cannot change between the
check and the write, and two limit changes of one project run one after the
other.
"""

from oslo_db import api as oslo_db_api
from oslo_utils import strutils

from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import quotas as quota_db

# A deadlock (MariaDB, PostgreSQL) reruns the whole locked transaction.
_retry = oslo_db_api.wrap_db_retry(max_retries=10, retry_on_deadlock=True,
                                   retry_interval=0.01, max_retry_interval=0.2)


def _limit(key, value):
    """A limit from a body value: an integer (or its digits) from -1 to the largest int."""
    if isinstance(value, bool):
        raise exception.Invalid('%s must be an integer' % key)
    try:
        return strutils.validate_integer(value, key, min_value=quota.UNLIMITED,
                                         max_value=quota.MAX_LIMIT)
    except ValueError as e:
        raise exception.Invalid(str(e))


def limits_of(body, what, skip=()):
    """{resource: limit} of a body, refusing keys that are not quota resources (400)."""
    types = quota.type_names()
    bad = [k for k in body if k not in skip and not quota.is_resource(k, types)]
    if bad:
        raise exception.InvalidInput(reason='Bad key(s) in %s: %s' % (what, ', '.join(bad)))
    return {k: _limit(k, v) for k, v in body.items() if k not in skip}


@_retry
def _set_project_limits(ctx, project_id, values):
    with quota_db.locked(ctx, project_id):
        # Reads and writes with ``ctx`` join the locked transaction.
        quota.check_not_below_usage(ctx, project_id, values)
        if values:
            quota_db.project_limits_update(ctx, project_id, values)


def update_project(ctx, project_id, body):
    """Set the limits of a quota_set body; none may be below usage (400).

    Returns the project's effective limits afterwards.
    """
    values = limits_of(body, 'quota set', skip=quota.NON_QUOTA_KEYS)
    _set_project_limits(ctx, project_id, values)
    return quota.project_quotas(ctx, project_id)


def reset_project(ctx, project_id):
    """Forget the project's own limits: it falls back to the defaults."""
    quota_db.project_limits_destroy(ctx, project_id)


def update_class(ctx, class_name, body):
    """Set the limits of a quota_class_set body; returns the class's limits afterwards."""
    values = limits_of(body, 'quota class set')
    if values:
        quota_db.class_limits_update(ctx, class_name, values)
    return quota.class_quotas(ctx, class_name)
