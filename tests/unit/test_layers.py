"""The layers of blockstore point one way, and status strings live in one module.

DESIGN §3: status constants (``blockstore.common.status``, a leaf) -> db
primitives (``blockstore.db``) -> state machine and settle
(``blockstore.objects.states``) -> service layer (quota included) -> API.
These tests read the source (``ast``), so they need no database.
"""

import ast
import pathlib

import pytest

from blockstore.common import status

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / 'blockstore'

# ---------------------------------------------------------------------------
# No status literal outside blockstore/common/status.py
# ---------------------------------------------------------------------------

STATUS_VALUES = frozenset(v for k, v in vars(status).items()
                          if k.isupper() and isinstance(v, str)) - {status.MIGRATION_TARGET_PREFIX}

# Status words that are also ordinary words elsewhere -- option values ('none'),
# argument and key names ('error', 'reserved'), a column ('deleted'), a guard
# ('attached'), a service's zone state ('available'). A literal of one of
# these is a status only where the code treats it as one (compares it with a
# status, writes it into one, maps statuses); any other status word is one
# wherever it appears.
AMBIGUOUS = frozenset({'none', 'error', 'available', 'reserved', 'deleted', 'attached'})

# Columns and arguments that hold a status.
STATUS_NAMES = frozenset({'status', 'attach_status', 'migration_status', 'target'})

# The constants module, and the schema history (frozen copies of old schemas).
EXEMPT = ('blockstore/common/status.py', 'blockstore/db/migrations/')


def _docstrings(tree):
    """Bare string statements (docstrings and string comments): prose, not code."""
    return {id(n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)}


def _is_status_expr(node):
    """``x.status``, ``status``, ``row['attach_status']``, ``getattr(v, 'status', ...)``."""
    if isinstance(node, ast.Attribute):
        return node.attr in STATUS_NAMES
    if isinstance(node, ast.Name):
        return node.id in STATUS_NAMES
    if isinstance(node, ast.Subscript):
        key = node.slice
        return isinstance(key, ast.Constant) and key.value in STATUS_NAMES
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == 'getattr' and len(node.args) >= 2):
        key = node.args[1]
        return isinstance(key, ast.Constant) and key.value in STATUS_NAMES
    return False


def _constants_in(node):
    return {id(n) for n in ast.walk(node) if isinstance(n, ast.Constant)}


def _status_contexts(tree):
    """ids of constants standing where a status stands."""
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Compare):
            operands = [n.left] + list(n.comparators)
            if any(_is_status_expr(o) for o in operands):
                for o in operands:
                    found |= _constants_in(o)
        elif isinstance(n, ast.Call):
            func = n.func
            if (isinstance(func, ast.Attribute) and func.attr in ('in_', 'notin_')
                    and _is_status_expr(func.value)):
                for a in n.args:
                    found |= _constants_in(a)
            for kw in n.keywords:
                if kw.arg in STATUS_NAMES:
                    found |= _constants_in(kw.value)
        elif isinstance(n, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if n.value is not None and any(_is_status_expr(t) for t in targets):
                found |= _constants_in(n.value)
        elif isinstance(n, ast.Dict):
            for k, v in zip(n.keys, n.values):
                if isinstance(k, ast.Constant) and k.value in STATUS_NAMES:
                    found |= _constants_in(v)
                # A map from statuses to statuses.
                if (isinstance(k, ast.Constant) and k.value in STATUS_VALUES
                        and isinstance(v, ast.Constant) and v.value in STATUS_VALUES):
                    found |= {id(k), id(v)}
    return found


def status_literals(source, filename='<source>'):
    """(line, value) of every status string literal in ``source``."""
    tree = ast.parse(source, filename)
    prose = _docstrings(tree)
    contexts = _status_contexts(tree)
    hits = []
    for n in ast.walk(tree):
        if not (isinstance(n, ast.Constant) and isinstance(n.value, str)):
            continue
        if n.value not in STATUS_VALUES or id(n) in prose:
            continue
        if n.value in AMBIGUOUS and id(n) not in contexts:
            continue
        hits.append((n.lineno, n.value))
    return sorted(hits)


def _sources():
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(ROOT).as_posix()
        if not rel.startswith(EXEMPT):
            yield rel, path.read_text()


def test_no_status_literal_outside_the_status_module():
    found = ['%s:%d: %r' % (rel, line, value)
             for rel, text in _sources() for line, value in status_literals(text, rel)]
    assert not found, ('status strings belong in blockstore/common/status.py '
                       '(use states.X or status.X):\n' + '\n'.join(found))


@pytest.mark.parametrize('code,expected', [
    # Distinctive status words are caught wherever they appear.
    ("x = 'in-use'", ['in-use']),
    ("volume.transition('settle', target='detaching')", ['detaching']),
    ("BUSY = ('creating', 'error_deleting')", ['creating', 'error_deleting']),
    # Ambiguous ones where a status is compared, written, filtered or mapped.
    ("if v.attach_status == 'attached':\n    pass", ['attached']),
    ("q.where(m.migration_status.in_(('success', 'error', 'none')))",
     ['error', 'none', 'success']),
    ("attach_status = Column(String(255), default='attached')", ['attached']),
    ("db.volume_update(ctx, vid, {'status': 'available'})", ['available']),
    ("getattr(v, 'status', None) != 'error'", ['error']),
    ("MAP = {'managing': 'creating', 'error_managing': 'error'}",
     ['creating', 'error', 'error_managing', 'managing']),
    # Not statuses: prose, option values, argument names, guard names.
    ('"""The volume is in-use or available."""', []),
    ("if conf.volume_clear == 'none':\n    pass", []),
    ("schema = {'error': boolean}", []),
    ("GUARDS = {'attached': (check, 'the volume is not attached')}", []),
    ("row = {'deleted': False, 'reserved': 0}", []),
])
def test_status_literal_finder(code, expected):
    """The finder above catches what it must (so the repository test can fail)."""
    assert [v for _line, v in status_literals(code)] == sorted(expected)


# ---------------------------------------------------------------------------
# Imports point down
# ---------------------------------------------------------------------------

def _module_name(path):
    return '.'.join(path.relative_to(ROOT).with_suffix('').parts).removesuffix('.__init__')


def imports_of(source, module='blockstore.x'):
    """(imported name, line, lazy) of every import of ours in ``source``.

    ``from a.b import c`` counts as ``a.b.c`` (c may be a module or a name in
    a.b; the prefix rules below hold either way). Lazy: inside a function.
    """
    tree = ast.parse(source)
    lazy = {id(n) for f in ast.walk(tree)
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for n in ast.walk(f) if n is not f}
    found = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            names = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ''
            if n.level:
                parent = module.split('.')[:-n.level]
                base = '.'.join(parent + ([base] if base else []))
            names = ['%s.%s' % (base, a.name) for a in n.names]
        else:
            continue
        found.extend((name, n.lineno, id(n) in lazy) for name in names
                     if name == 'blockstore' or name.startswith('blockstore.'))
    return found


def _imports_under(prefix):
    for path in sorted(PACKAGE.rglob('*.py')):
        module = _module_name(path)
        if module == prefix or module.startswith(prefix + '.'):
            for name, line, lazy in imports_of(path.read_text(), module):
                yield module, name, line, lazy


def _allowed(name, prefixes):
    return any(name == p or name.startswith(p + '.') for p in prefixes)


# Each layer, and what of ours it may import (itself included). Function-level
# (lazy) imports count like any other: a lazy import is how a cycle hides.
LAYERS = {
    # The status constants: a leaf.
    'blockstore.common.status': (),
    # Database primitives: models, queries, conditional update, guards as SQL.
    'blockstore.db': ('blockstore.db', 'blockstore.common.exception',
                      'blockstore.common.status'),
    # The state machine and settle (objects.states), and the versioned objects.
    'blockstore.objects': ('blockstore.objects', 'blockstore.db', 'blockstore.common.exception',
                           'blockstore.common.status'),
    # Quotas belong to the service layer, but are called by it with whatever needs
    # the state machine (an extend's undo): they count rows and hold limits.
    'blockstore.common.quota': ('blockstore.common.conf', 'blockstore.common.context',
                                'blockstore.common.exception', 'blockstore.db.api',
                                'blockstore.db.quotas'),
}


@pytest.mark.parametrize('layer', sorted(LAYERS))
def test_layer_imports_only_below(layer):
    wrong = ['%s:%d imports %s%s' % (module, line, name, ' (in a function)' if lazy else '')
             for module, name, line, lazy in _imports_under(layer)
             if not _allowed(name, LAYERS[layer] + (layer,))]
    assert not wrong, '\n'.join(wrong)


def test_nothing_below_the_api_imports_it():
    wrong = ['%s:%d imports %s' % (module, line, name)
             for module, name, line, _lazy in _imports_under('blockstore')
             if _allowed(name, ('blockstore.api',))
             and not _allowed(module, ('blockstore.api', 'blockstore.cmd'))]
    assert not wrong, '\n'.join(wrong)


@pytest.mark.parametrize('code,expected', [
    ('from blockstore.objects import states', [('blockstore.objects.states', 1, False)]),
    ('import os\ndef f():\n    from blockstore.db import attachments as a\n',
     [('blockstore.db.attachments', 3, True)]),
    ('from . import models', [('blockstore.db.models', 1, False)]),
])
def test_import_finder(code, expected):
    assert imports_of(code, 'blockstore.db.api') == expected


def test_layer_rule_refuses_an_upward_lazy_import():
    """The shape this replaced: db settling a volume through the state machine above it."""
    code = 'def settle(session):\n    from blockstore.objects import states\n'
    [(name, _line, lazy)] = imports_of(code, 'blockstore.db.attachments')
    assert lazy and not _allowed(name, LAYERS['blockstore.db'] + ('blockstore.db',))


def test_states_re_exports_every_status():
    """Callers keep writing ``states.X``: every constant is there, the same object."""
    from blockstore.objects import states
    missing = sorted(k for k, v in vars(status).items()
                     if k.isupper() and getattr(states, k, None) is not v)
    assert not missing, 'objects/states.py does not re-export: %s' % ', '.join(missing)


def test_every_table_state_is_a_status_constant():
    """A state a table names is spelled in blockstore/common/status.py, not in the table."""
    from blockstore.objects import states
    spelled = set(STATUS_VALUES)
    unknown = sorted('%s: %s' % (name, s) for name, machine in states.MACHINES.items()
                     for s in machine.states if s not in spelled)
    assert not unknown, unknown
