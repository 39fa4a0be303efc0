"""Volumes keep the backend name of another volume after a migration (Cinder's _name_id).

A generic migration copies a volume into a new volume on the destination and
swaps them: the volume keeps its id and takes over the new volume's backend
object, whose name is derived from the new volume's id. ``_name_id`` records
that id (NULL: the volume's own id names its backend object).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_name_id', sa.String(length=36), nullable=True))


def downgrade():
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_column('_name_id')
