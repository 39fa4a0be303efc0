"""Idempotency keys of creates (``Idempotency-Key`` header or ``client_token``).

One row per (project, resource type, key), inserted in the transaction that
inserts the resource, so the unique constraint makes concurrent identical
creates produce one resource. Additive: a new table only.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'idempotency_keys',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('project_id', sa.String(length=255), nullable=False),
        sa.Column('resource_type', sa.String(length=40), nullable=False),
        sa.Column('key', sa.String(length=255).with_variant(
            mysql.VARCHAR(255, charset='ascii', collation='ascii_bin'), 'mysql', 'mariadb'),
            nullable=False),
        sa.Column('resource_id', sa.String(length=36), nullable=False),
        sa.Column('request_fingerprint', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('completed_at', sa.DateTime(), nullable=True),
        sa.UniqueConstraint('project_id', 'resource_type', 'key',
                            name='uniq_idempotency_keys0project0type0key'),
    )
    op.create_index('idempotency_keys_resource_idx', 'idempotency_keys',
                    ['resource_type', 'resource_id'])
    op.create_index('idempotency_keys_created_idx', 'idempotency_keys', ['created_at'])


def downgrade():
    op.drop_index('idempotency_keys_created_idx', table_name='idempotency_keys')
    op.drop_index('idempotency_keys_resource_idx', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
