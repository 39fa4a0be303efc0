"""The backup store contract on every store: a real Swift on loopback, and posix."""

from tests.functional.backup.store_contract import StoreContract

# swift_server: tests/functional/backup/conftest.py (one Swift for the package).


class TestStoreContract(StoreContract):
    pass
