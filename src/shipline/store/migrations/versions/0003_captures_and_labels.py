"""Captured predictions (an index of Parquet partitions) and late ground-truth labels.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create captures and labels."""
    op.create_table(
        "captures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("first_at", sa.String(32), nullable=False),
        sa.Column("last_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_captures_model_version_day", "captures", ["model", "version", "day"])
    op.create_table(
        "labels",
        sa.Column("request_id", sa.String(100), primary_key=True),
        sa.Column("row", sa.Integer, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("added_by", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("labels")
    op.drop_index("ix_captures_model_version_day", "captures")
    op.drop_table("captures")
