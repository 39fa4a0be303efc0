"""Queries of volume migrations: the target volume a generic migration copies into.

The target row carries ``migration_status`` 'target:<source id>' (Cinder's
marker) until the migration swaps or drops it.
"""

import sqlalchemy as sa
from sqlalchemy import select

from blockstore.db import api as db
from blockstore.db import models


def target_id_of(context, volume_id, prefix):
    """Id of the live volume whose migration_status is ``prefix + volume_id``, or None."""
    v = models.Volume
    with db._reader(context) as session:
        return session.execute(
            select(v.id).where(v.migration_status == prefix + volume_id,
                               v.deleted == sa.false()).limit(1)).scalar()
