"""Policy enforcement with oslo.policy: one lazily built Enforcer per process.

Rule defaults live in ``blockstore.common.policies`` (Cinder's personas:
administrator, project member, project reader). Operators override them with
oslo.policy's ``[oslo_policy] policy_file`` (and ``enforce_scope`` /
``enforce_new_defaults``, which oslo.policy registers and honours).
"""

import os
import threading

from oslo_config import cfg
from oslo_policy import opts as policy_opts
from oslo_policy import policy

from blockstore.common import exception
from blockstore.common import policies

CONF = cfg.CONF

_ENFORCER = None
_LOCK = threading.Lock()

# Register [oslo_policy] options now so they can be set before the first check.
policy_opts._register(CONF)


class _Enforcer(policy.Enforcer):
    """An Enforcer that also works before the config has been parsed (unit tests, tools)."""

    def _get_policy_path(self, path):
        if os.path.isabs(path) and os.path.exists(path):
            return path
        try:
            return super()._get_policy_path(path)
        except cfg.NotInitializedError:
            raise cfg.ConfigFilesNotFoundError([path])


def reset():
    """Forget the enforcer (tests, or SIGHUP): the next check rebuilds and re-reads it."""
    global _ENFORCER
    with _LOCK:
        if _ENFORCER is not None:
            _ENFORCER.clear()
        _ENFORCER = None


def get_enforcer():
    """The process's Enforcer (also what oslopolicy-* tools load via the entry point)."""
    global _ENFORCER
    if _ENFORCER is None:
        with _LOCK:
            if _ENFORCER is None:
                enforcer = _Enforcer(CONF)
                enforcer.register_defaults(policies.list_rules())
                _ENFORCER = enforcer
    return _ENFORCER


def _target(ctx, target):
    if target is None:
        return {'project_id': ctx.project_id, 'user_id': ctx.user_id}
    if isinstance(target, dict):
        values = dict(target)
    else:
        # A resource: volumes and snapshots have project_id, transfers source_project_id.
        values = {}
        for key, attrs in (('project_id', ('project_id', 'source_project_id')),
                           ('user_id', ('user_id',))):
            for attr in attrs:
                value = getattr(target, attr, None)
                if value is not None:
                    values[key] = value
                    break
    values.setdefault('project_id', ctx.project_id)
    values.setdefault('user_id', ctx.user_id)
    return values


def authorize(ctx, action, target=None, do_raise=True):
    """Check ``action`` for ``ctx`` on ``target``; PolicyNotAuthorized (403) when refused.

    ``target`` is a dict or an object with ``project_id`` (and maybe
    ``user_id``); None means the caller's own project. Returns the result when
    ``do_raise`` is false.
    """
    enforcer = get_enforcer()
    creds = ctx.to_policy_values()
    try:
        return enforcer.authorize(action, _target(ctx, target), creds, do_raise=do_raise,
                                  exc=exception.PolicyNotAuthorized, action=action)
    except policy.InvalidScope:
        if not do_raise:
            return False
        raise exception.PolicyNotAuthorized(action=action)


def check_is_admin(ctx):
    """Whether ``ctx`` passes the ``context_is_admin`` rule."""
    return get_enforcer().authorize('context_is_admin', {}, ctx.to_policy_values(),
                                    do_raise=False)
