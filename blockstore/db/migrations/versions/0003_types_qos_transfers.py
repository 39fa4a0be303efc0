"""Type access, encryption types, QoS specs, transfers (filled in by its issue work).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    pass
