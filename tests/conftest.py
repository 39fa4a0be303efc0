"""Top-level test configuration: markers only; fixtures live in the tier conftests."""

import os

_TIERS = {'functional': 'needs MariaDB/PostgreSQL/RabbitMQ on localhost (see README)',
          'e2e': 'real storage: LVM on loop devices, iSCSI targets and initiators (host tier), '
                 'or inside a QEMU guest (kernel tier)'}


def pytest_configure(config):
    for name, doc in _TIERS.items():
        config.addinivalue_line('markers', '%s: %s' % (name, doc))


def pytest_collection_modifyitems(config, items):
    """Mark every test by its tier directory, so ``-m 'not functional'`` works."""
    import pytest
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        rel = os.path.relpath(str(item.path), here)
        tier = rel.split(os.sep, 1)[0]
        if tier in _TIERS:
            item.add_marker(getattr(pytest.mark, tier))
