"""Accepted schema changes, blob kinds, and the process that runs a run.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create schema_acceptances and blob_kinds; add runs.pid and runs.host."""
    op.create_table(
        "schema_acceptances",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dataset", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("columns", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("accepted_at", sa.String(32), nullable=False),
        sa.Column("accepted_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("dataset", "digest", name="uq_schema_acceptances_digest"),
    )
    op.create_table(
        "blob_kinds",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
    )
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("pid", sa.Integer, nullable=True))
        batch.add_column(sa.Column("host", sa.String(255), nullable=True))
    _record_existing_kinds()


def _record_existing_kinds() -> None:
    """Kinds of the blobs stored before kinds were recorded: registered bundles and the
    train steps' models, and the files of dataset versions."""
    import json

    bind = op.get_bind()
    kinds: set[tuple[str, str]] = set()
    for (digest,) in bind.execute(sa.text("SELECT bundle_digest FROM model_versions")):
        kinds.add((digest, "model"))
    query = sa.text("SELECT outputs FROM run_steps WHERE step = 'train'")
    for (outputs,) in bind.execute(query):
        model = json.loads(outputs).get("model")
        if model:
            kinds.add((model, "model"))
    for (digest,) in bind.execute(sa.text("SELECT digest FROM dataset_files")):
        kinds.add((digest, "dataset"))
    if kinds:
        table = sa.table("blob_kinds", sa.column("digest"), sa.column("kind"))
        op.bulk_insert(table, [{"digest": d, "kind": k} for d, k in sorted(kinds)])


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("host")
        batch.drop_column("pid")
    op.drop_table("blob_kinds")
    op.drop_table("schema_acceptances")
