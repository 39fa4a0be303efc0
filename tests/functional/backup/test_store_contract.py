"""The backup store contract on every store: a real Swift on loopback, and posix."""

from tests.fixtures.swift import swift_fixture
from tests.functional.backup.store_contract import StoreContract

# Lists at most 10 names per request, so listing more proves the store follows pages.
swift_server = swift_fixture(listing_limit=10)


class TestStoreContract(StoreContract):
    pass
