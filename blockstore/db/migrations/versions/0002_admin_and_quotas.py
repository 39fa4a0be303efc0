"""Operations and quotas: per-project limits, quota classes, the per-project quota lock,
and indexes covering the usage counts.

Clusters need no table: they are derived from the services' ``cluster_name``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('quotas',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=300), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id', 'resource', name='uniq_quotas0project0resource')
    )
    op.create_table('quota_classes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('class_name', sa.String(length=255), nullable=False),
    sa.Column('resource', sa.String(length=300), nullable=False),
    sa.Column('hard_limit', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('class_name', 'resource', name='uniq_quota_classes0class0resource')
    )
    op.create_table('quota_locks',
    sa.Column('project_id', sa.String(length=255), nullable=False),
    sa.Column('locked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('project_id')
    )
    with op.batch_alter_table('volumes', schema=None) as batch_op:
        batch_op.create_index('volumes_quota_idx',
                              ['project_id', 'deleted', 'use_quota', 'volume_type_id', 'size'],
                              unique=False)
    with op.batch_alter_table('snapshots', schema=None) as batch_op:
        batch_op.create_index('snapshots_quota_idx',
                              ['project_id', 'deleted', 'use_quota', 'volume_type_id',
                               'volume_size'], unique=False)
