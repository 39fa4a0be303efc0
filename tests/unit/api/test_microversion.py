"""The microversion history and its named versions: one list, sorted, every name in it.

Version constants live only in ``api/microversion.py``, each on its history
entry; handlers name them (``mv.REIMAGE``), never type ``'3.N'``.
"""

import ast
import pathlib

import pytest

from blockstore.api import microversion as mv

API_DIR = pathlib.Path(mv.__file__).parent
HANDLER_MODULES = sorted((API_DIR / 'handlers').glob('*.py'))


def _constants():
    return {name: value for name, value in vars(mv).items()
            if name.isupper() and isinstance(value, mv.Version)}


def test_history_is_sorted_without_gaps_and_ends_at_3_71():
    numbers = [version for version, _what in mv.VERSIONS]
    assert numbers == sorted(set(numbers))
    assert numbers[0] == mv.MIN == mv.Version(3, 0)
    assert numbers[-1] == mv.MAX == mv.Version(3, 71)
    assert all(b == (a.major, a.minor + 1) for a, b in zip(numbers, numbers[1:]))


def test_every_named_version_is_in_the_history():
    known = {version for version, _what in mv.VERSIONS}
    constants = _constants()
    assert len(constants) > 30   # the names handlers use
    missing = {name: str(value) for name, value in constants.items() if value not in known}
    assert missing == {}


def _assignments():
    """(name, version text) of ``NAME = _version('3.N', ...)`` in source order."""
    tree = ast.parse((API_DIR / 'microversion.py').read_text())
    found = []
    for node in tree.body:
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and getattr(node.value.func, 'id', None) == '_version'):
            found.append((node.targets[0].id, node.value.args[0].value))
    return found


def test_names_sit_on_their_history_entries_in_order():
    assigned = _assignments()
    versions = [mv.v(text) for _name, text in assigned]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions), 'one name per version'
    # Every constant of the module (but MIN/MAX) is named on its entry.
    named = {name for name, _text in assigned}
    assert set(_constants()) - {'MIN', 'MAX'} == named


def _version_literals(path):
    """Where a handler types a version (mv.v('3.N'), version_range('3.N'), since='3.N') or
    gives one a second name (X = mv.NAME)."""
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = getattr(func, 'attr', None) or getattr(func, 'id', None)
            if name in ('v', 'version_range', 'Version') and any(
                    isinstance(a, ast.Constant) for a in node.args):
                bad.append('%s:%d %s(...)' % (path.name, node.lineno, name))
            for kw in node.keywords:
                if kw.arg in ('since', 'until', 'min_version', 'max_version') and isinstance(
                        kw.value, ast.Constant) and kw.value.value is not None:
                    bad.append('%s:%d %s=' % (path.name, node.lineno, kw.arg))
    for node in tree.body:
        # A module-level alias of a version (a second name for it) belongs in microversion.
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute)
                and getattr(node.value.value, 'id', None) in ('mv', 'microversion')
                and node.value.attr.isupper()):
            bad.append('%s:%d alias of %s' % (path.name, node.lineno, node.value.attr))
    return bad


@pytest.mark.parametrize('path', HANDLER_MODULES, ids=lambda p: p.name)
def test_handlers_name_versions_instead_of_typing_them(path):
    assert _version_literals(path) == []


def test_the_literal_check_catches_a_typed_version(tmp_path):
    sample = tmp_path / 'sample.py'
    sample.write_text("from blockstore.api import microversion as mv\n"
                      "SINCE = mv.REIMAGE\n"
                      "@mv.version_range('3.27')\n"
                      "def f(req):\n"
                      "    return req.version >= mv.v('3.40')\n"
                      "T = actions.Action(f, since='3.68')\n")
    assert len(_version_literals(sample)) == 4
