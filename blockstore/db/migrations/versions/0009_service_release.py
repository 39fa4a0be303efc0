"""services.release_name: the blockstore release a service runs (as upgrade_level_release
names it, e.g. "0.2").

Additive: one nullable column. Services of the previous release neither read nor
write it, so they keep working on this schema during a rolling upgrade; their rows
are filled online (``blockstore-manage db online_data_migrations``, from the RPC and
object versions they record), and a service of this release writes its own when it
starts. ``blockstore-status upgrade check`` fails while a row has none.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('services', sa.Column('release_name', sa.String(length=36), nullable=True))
