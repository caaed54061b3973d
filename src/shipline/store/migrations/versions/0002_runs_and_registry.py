"""Runs, their steps and metrics; the model registry: versions, aliases, history, approvals.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
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

# Columns later revisions add: this revision creates the tables as they were at 0002.
_ADDED_LATER = {"runs": {"pid", "host"}}


def _as_of_0002(table: sa.Table) -> sa.Table:
    later = _ADDED_LATER.get(table.name)
    if not later:
        return table
    kept = [c._copy() for c in table.columns if c.name not in later]
    return sa.Table(table.name, sa.MetaData(), *kept)


_TABLES = tuple(
    _as_of_0002(t)
    for t in (
        runs,
        run_steps,
        run_metrics,
        models,
        model_versions,
        aliases,
        alias_history,
        approvals,
    )
)


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
