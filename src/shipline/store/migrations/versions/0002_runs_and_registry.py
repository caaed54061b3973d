"""Runs, their steps and metrics; the model registry: versions, aliases, history, approvals.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from shipline.store.tables import (
    alias_history,
    aliases,
    approvals,
    model_versions,
    models,
    run_metrics,
    run_steps,
    runs,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TABLES = (runs, run_steps, run_metrics, models, model_versions, aliases, alias_history, approvals)


def upgrade() -> None:
    """Create the tables of revision 0002 exactly as declared in shipline.store.tables."""
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)


def downgrade() -> None:
    """Drop them again."""
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
