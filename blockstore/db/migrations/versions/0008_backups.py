"""Backups: the ``backups`` table (Cinder's columns and ours) and ``backup_metadata``.

Additive: two new tables.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'backups',
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.Column('deleted', sa.Boolean(), nullable=False),
        sa.Column('deleted_at', sa.DateTime(), nullable=True),
        sa.Column('id', sa.String(length=36), primary_key=True),
        sa.Column('volume_id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.String(length=255), nullable=True),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('host', sa.String(length=255), nullable=True),
        sa.Column('availability_zone', sa.String(length=255), nullable=True),
        sa.Column('display_name', sa.String(length=255), nullable=True),
        sa.Column('display_description', sa.String(length=255), nullable=True),
        sa.Column('container', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=255), nullable=False),
        sa.Column('fail_reason', sa.String(length=255), nullable=True),
        sa.Column('service_metadata', sa.Text(), nullable=True),
        sa.Column('service', sa.String(length=255), nullable=True),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('object_count', sa.Integer(), nullable=False),
        sa.Column('parent_id', sa.String(length=36), nullable=True),
        sa.Column('temp_volume_id', sa.String(length=36), nullable=True),
        sa.Column('temp_snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('snapshot_id', sa.String(length=36), nullable=True),
        sa.Column('data_timestamp', sa.DateTime(), nullable=True),
        sa.Column('restore_volume_id', sa.String(length=36), nullable=True),
        sa.Column('encryption_key_id', sa.String(length=36), nullable=True),
        sa.Column('num_dependent_backups', sa.Integer(), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=True),
        sa.Column('bytes_done', sa.BigInteger(), nullable=False),
        sa.Column('bytes_read', sa.BigInteger(), nullable=False),
    )
    op.create_index('backups_project_deleted_created_idx', 'backups',
                    ['project_id', 'deleted', 'created_at', 'id'])
    op.create_index('backups_deleted_created_idx', 'backups', ['deleted', 'created_at', 'id'])
    op.create_index('backups_volume_deleted_idx', 'backups', ['volume_id', 'deleted'])
    op.create_index('backups_parent_idx', 'backups', ['parent_id'])
    op.create_index('backups_snapshot_idx', 'backups', ['snapshot_id'])
    op.create_index('backups_host_idx', 'backups', ['host'])
    op.create_index('backups_quota_idx', 'backups', ['project_id', 'deleted', 'size'])
    op.create_table(
        'backup_metadata',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('backup_id', sa.String(length=36),
                  sa.ForeignKey('backups.id', ondelete='CASCADE'), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.String(length=255), nullable=True),
        sa.UniqueConstraint('backup_id', 'key', name='uniq_backup_metadata0backup0key'),
    )


def downgrade():
    op.drop_table('backup_metadata')
    for name in ('backups_quota_idx', 'backups_host_idx', 'backups_snapshot_idx',
                 'backups_parent_idx', 'backups_volume_deleted_idx',
                 'backups_deleted_created_idx', 'backups_project_deleted_created_idx'):
        op.drop_index(name, table_name='backups')
    op.drop_table('backups')
