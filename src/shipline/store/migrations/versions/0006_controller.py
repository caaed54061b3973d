"""Desired state and the controller: applied configs, trigger events, leases, watch state.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create applied_configs, trigger_events, leases and watch_state."""
    op.create_table(
        "applied_configs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("project_dir", sa.Text, nullable=False),
        sa.Column("applied_at", sa.String(32), nullable=False),
        sa.Column("applied_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("model", "version", name="uq_applied_configs_model_version"),
    )
    op.create_table(
        "trigger_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.UniqueConstraint("model", "key", name="uq_trigger_events_model_key"),
    )
    op.create_index("ix_trigger_events_model_status", "trigger_events", ["model", "status"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("acquired_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "watch_state",
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("watch_state")
    op.drop_table("leases")
    op.drop_index("ix_trigger_events_model_status", "trigger_events")
    op.drop_table("trigger_events")
    op.drop_table("applied_configs")
