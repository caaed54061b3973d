"""A brand-new metadata database, created whole at the head revision.

Replaying every migration on first use cost ~0.13 s per fresh project (alembic and mako
imported, tables created and then batch-altered one revision at a time). An empty database is
instead created from ``tables.metadata`` in one transaction and stamped at the head revision,
as ``alembic stamp head`` would. Databases that already hold a schema still migrate with
alembic. ``tests/contract/test_schema_creation.py`` holds the two paths to the same schema:
columns in order with their types, keys, indexes, constraints and triggers.
"""

from __future__ import annotations

__all__ = ["create_schema", "is_empty"]

from sqlalchemy import Column, Connection, MetaData, PrimaryKeyConstraint, String, Table, inspect

from shipline.store.tables import metadata

# The append-only guard on the audit chain, as migration 0001 creates it. Written out here on
# purpose, not imported from the migration: a migration is history and never changes, while
# this is the current schema; the contract test holds the two equal, and a revision that
# changes the triggers must change this too.
_AUDIT_TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        for verb in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE FUNCTION shipline_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION shipline_audit_append_only()",
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION shipline_audit_append_only()",
    ],
}

# Alembic's own bookkeeping table, exactly as alembic creates it.
_version_metadata = MetaData()
_alembic_version = Table(
    "alembic_version",
    _version_metadata,
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def is_empty(conn: Connection) -> bool:
    """Whether the database holds none of shipline's tables (nor alembic's)."""
    present = set(inspect(conn).get_table_names())
    return not present & (set(metadata.tables) | {"alembic_version"})


def create_schema(conn: Connection, revision: str) -> None:
    """Create every table, index and trigger in an empty database and stamp ``revision``."""
    metadata.create_all(conn, checkfirst=False)
    for statement in _AUDIT_TRIGGERS[conn.dialect.name]:
        conn.exec_driver_sql(statement)
    _version_metadata.create_all(conn, checkfirst=False)
    conn.execute(_alembic_version.insert().values(version_num=revision))
