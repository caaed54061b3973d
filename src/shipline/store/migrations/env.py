"""Alembic environment: migrations always run on a connection shipline hands in."""

from __future__ import annotations

from alembic import context

from shipline.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    transactional_ddl=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
