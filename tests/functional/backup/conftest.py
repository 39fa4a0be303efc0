"""Backup store tests: one real Swift on loopback for the whole package.

It lists at most 10 names per request, so a listing of more proves that a
store follows the pages. Without Swift installed its tests skip (naming what
is missing), or fail when ``CI`` is set: see tests/fixtures/swift.py.
"""

from tests.fixtures.swift import swift_fixture

swift_server = swift_fixture(scope='package', listing_limit=10)
