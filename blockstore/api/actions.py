"""Resource actions: one declared table per resource, dispatched by one function.

An action is named by the one key of a ``POST .../action`` body (volumes,
snapshots, attachments, types, backups, groups) or by a URL segment
(``PUT /os-services/{action}``). Each resource declares its actions once,
with the versions that serve them::

    ACTIONS = actions.Table({
        'os-extend': actions.Action(_extend),
        'revert': actions.Action(revert, since=mv.VOLUME_REVERT),
    }, unknown=actions.no_such_action)

and its handler calls ``actions.dispatch(req, ACTIONS, name, body)``. An
action the request's version does not serve is answered as the router
answers a method no handler serves at that version (404, Cinder's wording),
unless the table says otherwise (``out_of_range``: Cinder's os-services
treats an action newer than the request as unknown, a 400).
"""

import collections

from blockstore.api import common
from blockstore.api import microversion
from blockstore.api import router
from blockstore.common import exception


class Action(collections.namedtuple('Action', 'handler min_version max_version')):
    """A handler and the versions it serves (inclusive; default MIN..MAX)."""
    __slots__ = ()

    def __new__(cls, handler, since=None, until=None):
        return super().__new__(cls, handler, since or microversion.MIN,
                               until or microversion.MAX)

    def serves(self, version):
        return self.min_version <= version <= self.max_version


def no_such_action(name):
    """Cinder's 400 for an action name a resource does not have."""
    return exception.Invalid('There is no such action: %s' % name)


def version_not_served(version):
    """The router's 404 for a version no handler serves."""
    return router.VersionNotFoundForAPIMethod(version=version)


class Table:
    """name -> Action of one resource.

    ``unknown(name)`` makes the error for a name not in the table;
    ``out_of_range(version, name)`` the error for an action outside its
    versions (default: the router's 404).
    """

    def __init__(self, entries, unknown=no_such_action, out_of_range=None):
        self.entries = dict(entries)
        self.unknown = unknown
        self.out_of_range = out_of_range or (lambda version, name: version_not_served(version))

    def names(self, version=None):
        """The action names (served at ``version`` when given)."""
        return sorted(n for n, a in self.entries.items()
                      if version is None or a.serves(version))

    def handler(self, req, name):
        """The handler of ``name`` at the request's version, or the table's error."""
        action = self.entries.get(name)
        if action is None:
            raise self.unknown(name)
        version = common.version(req)
        if not action.serves(version):
            raise self.out_of_range(version, name)
        return action.handler


def dispatch(req, table, name, *args):
    """Call the handler ``table`` declares for ``name`` with ``(req, *args)``."""
    return table.handler(req, name)(req, *args)
