"""Handlers and views parse, call the service layer and render: no database, no RPC client.

Read from the source with ``ast``: no module under ``blockstore/api/handlers``
or ``blockstore/api/views`` imports ``blockstore.db`` (or anything in it) or an
``rpcapi`` module, at module level or inside a function.
"""

import ast
import pathlib

import pytest

import blockstore.api

API_DIR = pathlib.Path(blockstore.api.__file__).parent
MODULES = sorted(list((API_DIR / 'handlers').glob('*.py')) + list((API_DIR / 'views').glob('*.py')))


def _forbidden(name):
    parts = name.split('.')
    return name == 'blockstore.db' or name.startswith('blockstore.db.') or 'rpcapi' in parts


def forbidden_imports(source):
    """The forbidden modules ``source`` imports, as 'line: module'."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # ``from blockstore.volume import rpcapi`` imports blockstore.volume.rpcapi.
            names = [node.module] + ['%s.%s' % (node.module, a.name) for a in node.names]
        else:
            continue
        bad.extend('%d: %s' % (node.lineno, n) for n in names if _forbidden(n))
    return bad


def test_there_are_modules_to_check():
    names = {p.name for p in MODULES}
    assert {'volumes.py', 'quotas.py', 'capabilities.py', 'attachments.py'} <= names


@pytest.mark.parametrize('path', MODULES, ids=lambda p: '%s/%s' % (p.parent.name, p.name))
def test_no_database_or_rpc_import(path):
    assert forbidden_imports(path.read_text()) == []


@pytest.mark.parametrize('source', [
    'from blockstore.db import attachments as db_att\n',
    'import blockstore.db.api\n',
    'from blockstore import db\n',
    'from blockstore.scheduler import rpcapi\n',
    'import blockstore.volume.rpcapi as v\n',
    'def f():\n    from blockstore.db import quotas\n',
])
def test_the_check_catches_each_form(source):
    assert forbidden_imports(source) != []


def test_the_check_allows_the_service_layer():
    assert forbidden_imports('from blockstore.ops import api\n'
                             'from blockstore.volume.attach import reads\n'
                             'from blockstore.api import common\n') == []
