"""A fresh database created whole equals one that replayed every migration."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, inspect, text

from shipline.store import open_database
from shipline.store.database import HEAD_REVISION, upgrade
from shipline.store.tables import metadata
from tests.services import Postgres


def _describe(conn: Connection) -> dict[str, Any]:
    """Every table's columns in order, keys, indexes, constraints, and the triggers."""
    inspector = inspect(conn)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("autoincrement"))
                for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (tuple(k["constrained_columns"]), k["referred_table"], tuple(k["referred_columns"]))
                for k in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(c["sqltext"] for c in inspector.get_check_constraints(table)),
        }
    triggers: list[tuple[Any, ...]] = []
    if conn.dialect.name == "sqlite":
        triggers += conn.execute(
            text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        ).all()
    else:
        triggers += conn.execute(
            text("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal")
        ).all()
        triggers += conn.execute(
            text(
                "SELECT proname, prosrc FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace "
                "WHERE nspname = 'public'"
            )
        ).all()
    return {"tables": tables, "triggers": sorted(tuple(t) for t in triggers)}


@pytest.fixture(params=["sqlite", "postgres"])
def two_empty_databases(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """Two fresh, empty metadata database URLs of one kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'a' / 'shipline.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    server: Postgres = request.getfixturevalue("postgres_server")
    first, second = (server.create_database(f"t_{uuid.uuid4().hex[:12]}") for _ in range(2))
    return first, second


def test_created_schema_equals_the_migrated_one(two_empty_databases: tuple[str, str]) -> None:
    created_url, migrated_url = two_empty_databases
    created = open_database(created_url)  # empty: created whole and stamped
    with created.read() as conn:
        fresh = _describe(conn)
        stamped = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    created.close()
    engine = create_engine(migrated_url)
    with engine.begin() as conn:
        upgrade(conn)  # every migration from 0001, as an older database meets them
    with engine.connect() as conn:
        migrated = _describe(conn)
    engine.dispose()
    assert stamped == [HEAD_REVISION]
    assert set(migrated["tables"]) == set(metadata.tables) | {"alembic_version"}
    differing = {
        table: (fresh["tables"].get(table), shape)
        for table, shape in migrated["tables"].items()
        if fresh["tables"].get(table) != shape
    }
    assert not differing, differing
    assert fresh["triggers"] == migrated["triggers"]
    assert len(fresh["triggers"]) == (2 if migrated_url.startswith("sqlite") else 3)
