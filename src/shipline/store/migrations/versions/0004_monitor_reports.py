"""Monitoring reports: drift of served traffic (or a file) against a version's training data.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create monitor_reports."""
    op.create_table(
        "monitor_reports",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("dataset_drift", sa.Integer, nullable=False),
        sa.Column("drifted_share", sa.Float, nullable=False),
        sa.Column("prediction_drift", sa.Integer, nullable=True),
        sa.Column("report_digest", sa.String(64), nullable=False),
    )
    op.create_index("ix_monitor_reports_model", "monitor_reports", ["model", "version"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_monitor_reports_model", "monitor_reports")
    op.drop_table("monitor_reports")
