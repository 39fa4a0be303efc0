"""Action tables: one declaration per resource, one dispatch, the router's 404 when gated out."""

import importlib
import pathlib

import pytest
import webob

from blockstore.api import actions
from blockstore.api import microversion as mv
from blockstore.api import router
from blockstore.common import exception
from tests.unit.api.conftest import fault_of

HANDLERS = pathlib.Path(actions.__file__).parent / 'handlers'
MODULES = ['blockstore.api.handlers.' + p.stem for p in sorted(HANDLERS.glob('*.py'))
           if p.stem != '__init__']


def _tables():
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, actions.Table):
                found.append(('%s.%s' % (name.rsplit('.', 1)[1], attr), value))
    return found


def test_every_resource_with_actions_declares_a_table():
    names = {n for n, _t in _tables()}
    assert {'volumes.ACTIONS', 'snapshots.ACTIONS', 'attachments.ACTIONS', 'types.ACTIONS',
            'backups.ACTIONS', 'groups.GROUP_ACTIONS', 'groups.GROUP_SNAPSHOT_ACTIONS',
            'services.ACTIONS', 'clusters.ACTIONS'} <= names


@pytest.mark.parametrize('name, table', _tables(), ids=lambda x: x if isinstance(x, str) else '')
def test_table_versions_are_named_versions_of_the_history(name, table):
    known = {v for v, _what in mv.VERSIONS}
    for action, entry in table.entries.items():
        assert callable(entry.handler), action
        assert entry.min_version in known and entry.max_version in known, action
        assert entry.min_version <= entry.max_version, action


def test_no_handler_retypes_the_version_404():
    for path in HANDLERS.glob('*.py'):
        assert 'not supported on this method' not in path.read_text(), path.name


def _req(version):
    req = webob.Request.blank('/')
    req.environ[mv.ENVIRON_KEY] = version
    return req


def test_dispatch_calls_the_handler_served_at_the_version():
    table = actions.Table({'old': actions.Action(lambda req, x: ('old', x)),
                           'new': actions.Action(lambda req, x: ('new', x),
                                                 since=mv.REIMAGE)})
    assert actions.dispatch(_req(mv.MIN), table, 'old', 1) == ('old', 1)
    assert actions.dispatch(_req(mv.REIMAGE), table, 'new', 2) == ('new', 2)
    with pytest.raises(router.VersionNotFoundForAPIMethod) as e:
        actions.dispatch(_req(mv.SNAPSHOT_IN_USE), table, 'new', 3)
    assert e.value.code == 404
    assert str(e.value) == 'API version 3.66 is not supported on this method.'
    with pytest.raises(exception.Invalid) as e:
        actions.dispatch(_req(mv.MAX), table, 'nope')
    assert str(e.value) == 'There is no such action: nope'
    assert table.names() == ['new', 'old'] and table.names(mv.MIN) == ['old']


def test_a_table_may_answer_gated_out_actions_as_unknown():
    unknown = lambda name: exception.InvalidInput(reason='Unknown action')  # noqa: E731
    table = actions.Table({'failover': actions.Action(lambda req: 'ok',
                                                      since=mv.REPLICATION_CLUSTER)},
                          unknown=unknown, out_of_range=lambda version, name: unknown(name))
    assert actions.dispatch(_req(mv.REPLICATION_CLUSTER), table, 'failover') == 'ok'
    with pytest.raises(exception.InvalidInput):
        actions.dispatch(_req(mv.MIN), table, 'failover')


def test_gated_out_action_answers_as_the_router_does(client):
    """revert below 3.40 and /volumes/summary below 3.12: the same 404 body."""
    vol = client.create_volume()
    gated = client.post('/v3/volumes/%s/action' % vol['id'],
                        {'revert': {'snapshot_id': vol['id']}}, version='3.11')
    routed = client.get('/v3/volumes/summary', version='3.11')
    assert gated.status_int == routed.status_int == 404
    assert gated.json == routed.json
    assert fault_of(gated) == ('itemNotFound', 404,
                               'API version 3.11 is not supported on this method.')
