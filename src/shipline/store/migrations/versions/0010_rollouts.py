"""Rollouts: a candidate version taking over an alias through shadow and canary phases, and
what prediction servers observed of each version's traffic during them.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create rollouts and rollout_observations."""
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id"), nullable=False),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column(
            "stable_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column(
            "candidate_version_id", sa.Integer, sa.ForeignKey("model_versions.id"), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("share", sa.Float, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("steps", sa.Text, nullable=False),
        sa.Column("started_by", sa.String(100), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("step_started_at", sa.String(32), nullable=False),
        sa.Column("ended_at", sa.String(32), nullable=True),
    )
    op.create_index("ix_rollouts_alias", "rollouts", ["model_id", "alias", "status"])
    op.create_table(
        "rollout_observations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("rollout_id", sa.Integer, sa.ForeignKey("rollouts.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("latency", sa.Text, nullable=False),
    )
    op.create_index("ix_rollout_observations", "rollout_observations", ["rollout_id", "at"])


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_index("ix_rollout_observations", "rollout_observations")
    op.drop_table("rollout_observations")
    op.drop_index("ix_rollouts_alias", "rollouts")
    op.drop_table("rollouts")
