"""Volume attachments (the attach flow).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'volume_attachment',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('volume_id', sa.String(length=36), nullable=False),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('instance_uuid', sa.String(length=36), nullable=True),
        sa.Column('attached_host', sa.String(length=255), nullable=True),
        sa.Column('mountpoint', sa.String(length=255), nullable=True),
        sa.Column('attach_time', sa.DateTime(), nullable=True),
        sa.Column('detach_time', sa.DateTime(), nullable=True),
        sa.Column('attach_mode', sa.String(length=36), nullable=True),
        sa.Column('attach_status', sa.String(length=255), nullable=False),
        sa.Column('connector', sa.Text(), nullable=True),
        sa.Column('connection_info', sa.Text(), nullable=True),
        sa.Column('extra_connectors', sa.Text(), nullable=True),
        sa.Column('service_created', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.Column('deleted_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['volume_id'], ['volumes.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('volume_attachment', schema=None) as batch_op:
        batch_op.create_index('attachment_volume_deleted_idx', ['volume_id', 'deleted'])
        batch_op.create_index('attachment_project_deleted_created_idx',
                              ['project_id', 'deleted', 'created_at', 'id'])
        batch_op.create_index('attachment_deleted_created_idx',
                              ['deleted', 'created_at', 'id'])
        batch_op.create_index('attachment_host_idx', ['attached_host'])
        batch_op.create_index('attachment_instance_idx', ['instance_uuid'])
