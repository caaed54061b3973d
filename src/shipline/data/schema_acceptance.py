"""Accepting a changed schema: a person vouches for a data version whose columns differ from
the last accepted one, so the validate step stops refusing it. Recorded and audited."""

from __future__ import annotations

__all__ = ["SchemaAcceptance", "accept_schema", "find_acceptance"]

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from shipline.data.dataset_version import resolve_version
from shipline.errors import UsageError
from shipline.store import Database, utc_now
from shipline.store.tables import schema_acceptances


@dataclass(frozen=True)
class SchemaAcceptance:
    """Who accepted which data version's schema, when and why."""

    id: int
    dataset: str
    version: int
    digest: str
    columns: list[dict[str, str]]
    reason: str
    accepted_at: str
    accepted_by: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def accept_schema(db: Database, ref: str, actor: str, reason: str) -> SchemaAcceptance:
    """Accept the schema of dataset version ``ref`` (once; accepting again returns the first)."""
    if not reason.strip():
        raise UsageError("--reason: say why the schema change is accepted")
    version = resolve_version(db, ref)  # immutable: safe to read before the write
    with db.write(actor) as tx:
        existing = find_acceptance(tx.conn, version.name, version.digest)
        if existing is not None:
            return existing
        columns = [{"name": c.name, "dtype": c.dtype} for c in version.columns]
        row: dict[str, Any] = {
            "dataset": version.name,
            "version": version.version,
            "digest": version.digest,
            "columns": orjson.dumps(columns).decode(),
            "reason": reason.strip(),
            "accepted_at": utc_now(),
            "accepted_by": actor,
        }
        new_id = tx.conn.execute(insert(schema_acceptances).values(**row)).inserted_primary_key
        tx.record(
            "dataset.schema.accept",
            f"dataset:{version.ref}",
            None,
            {"digest": version.digest, "columns": columns, "reason": row["reason"]},
        )
    assert new_id is not None
    return SchemaAcceptance(
        int(new_id[0]),
        version.name,
        version.version,
        version.digest,
        columns,
        row["reason"],
        row["accepted_at"],
        actor,
    )


def find_acceptance(conn: Connection, dataset: str, digest: str) -> SchemaAcceptance | None:
    """The acceptance of the dataset version with this digest, if someone gave one."""
    row = conn.execute(
        select(schema_acceptances).where(
            schema_acceptances.c.dataset == dataset, schema_acceptances.c.digest == digest
        )
    ).first()
    if row is None:
        return None
    values = row._asdict()
    values["columns"] = orjson.loads(values["columns"])
    return SchemaAcceptance(**values)
