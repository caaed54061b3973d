"""Alarms: a monitoring rule that broke, open until it holds again.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create alarms."""
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("closed_at", sa.String(32), nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index("ix_alarms_model_status", "alarms", ["model", "status"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_alarms_model_status", "alarms")
    op.drop_table("alarms")
