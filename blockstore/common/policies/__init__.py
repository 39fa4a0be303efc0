"""Default policy rules, per resource (the ``oslo.policy.policies`` entry point)."""

import itertools

from blockstore.common.policies import attachments
from blockstore.common.policies import backups
from blockstore.common.policies import base
from blockstore.common.policies import operations
from blockstore.common.policies import snapshots
from blockstore.common.policies import types
from blockstore.common.policies import volumes


def list_rules():
    return list(itertools.chain(
        base.list_rules(),
        volumes.list_rules(),
        snapshots.list_rules(),
        types.list_rules(),
        operations.list_rules(),
        attachments.list_rules(),
        backups.list_rules(),
    ))
