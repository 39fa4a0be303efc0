"""Listing indexes: a project's volumes filtered by status, in listing order.

``GET /volumes/detail?status=...`` of a project reads (project_id, deleted,
status) and pages by (created_at, id): with this index the page's ids come
from the index alone, in order, however rare the status is among the
project's volumes (before, every volume of the project was read and filtered).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = '0005'
# TEMPORARY: '0004' (attachments) is not on this branch yet; set back to '0004' on merge.
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.create_index('volumes_project_deleted_status_created_idx',
                              ['project_id', 'deleted', 'status', 'created_at', 'id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.drop_index('volumes_project_deleted_status_created_idx')
