"""Setting a project's limits holds its quota lock: check and write see one usage.

On SQLite, MariaDB and PostgreSQL: while another transaction holds the
project's quota lock (as a creation does while it counts) and adds a volume,
a limit change waits for it, then counts that volume and refuses a limit
below it. A check-then-write outside the lock would count before the volume
and set the limit anyway.
"""

import threading
import uuid

import pytest

from blockstore.common import context
from blockstore.common import exception
from blockstore.common import quota
from blockstore.db import api as db
from blockstore.db import quotas as quota_db
from blockstore.objects import states
from blockstore.ops import quotas as ops_quotas
from blockstore.volume import volume_types


@pytest.fixture
def project(database):
    return 'ql-' + uuid.uuid4().hex[:12]


def test_limit_change_waits_for_the_lock_and_counts_what_it_guarded(project):
    type_id = volume_types.get_default(context.get_admin_context()).id
    holder_ctx = context.get_admin_context()
    holding, release = threading.Event(), threading.Event()
    errors = []

    def hold_lock_and_add_a_volume():
        try:
            with quota_db.locked(holder_ctx, project):
                holding.set()
                release.wait(30)
                db.volume_create(holder_ctx, {'project_id': project, 'size': 1,
                                              'volume_type_id': type_id,
                                              'status': states.CREATING, 'use_quota': True})
        except BaseException as e:  # noqa: B902 - reported below
            errors.append(e)
            holding.set()

    holder = threading.Thread(target=hold_lock_and_add_a_volume, daemon=True)
    holder.start()
    assert holding.wait(30) and not errors

    outcome = []

    def set_limit():
        try:
            outcome.append(ops_quotas.update_project(context.get_admin_context(), project,
                                                     {'volumes': 0}))
        except exception.QuotaLimitTooLow as e:
            outcome.append(e)
        except BaseException as e:  # noqa: B902 - reported below
            outcome.append(('unexpected', repr(e)))

    setter = threading.Thread(target=set_limit, daemon=True)
    setter.start()
    setter.join(1.0)
    assert setter.is_alive(), 'the limit change did not wait for the quota lock'
    release.set()
    holder.join(60)
    setter.join(60)
    assert not errors and not setter.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], exception.QuotaLimitTooLow), outcome
    ctx = context.get_admin_context()
    assert quota_db.project_limits(ctx, project) == {}
    assert quota.usage(ctx, project)['volumes'] == 1
    # Not below usage: accepted.
    assert ops_quotas.update_project(ctx, project, {'volumes': 1})['volumes'] == 1
