"""Named counters for version numbers and sequences, assigned without races."""

from __future__ import annotations

__all__ = ["next_value"]

from sqlalchemy import Connection

from shipline.store.tables import counters


def next_value(conn: Connection, name: str) -> int:
    """Increment counter ``name`` inside the current write transaction and return its value.

    The UPDATE takes the row lock (PostgreSQL) or runs under the single SQLite writer lock,
    so two transactions never receive the same number, and a rolled-back transaction hands
    its number back: numbers stay contiguous.
    """
    value = conn.execute(
        counters.update()
        .where(counters.c.name == name)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    ).scalar()
    if value is None:
        conn.execute(counters.insert().values(name=name, value=1))
        value = 1
    return int(value)
