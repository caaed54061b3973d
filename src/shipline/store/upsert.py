"""Insert-or-replace on either database (``INSERT … ON CONFLICT … DO UPDATE``)."""

from __future__ import annotations

__all__ = ["upsert"]

from typing import Any

from sqlalchemy import Table


def upsert(dialect: str, table: Table, keys: list[str]) -> Any:
    """An insert that replaces the other columns of a row whose ``keys`` already exist."""
    from sqlalchemy.dialects import postgresql, sqlite

    statement: Any = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=updates)
