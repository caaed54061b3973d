"""Registered model versions: register, find, list, resolve ``NAME[:VERSION|@ALIAS]``."""

from __future__ import annotations

__all__ = [
    "ModelVersion",
    "find_by_bundle",
    "list_model_versions",
    "load_model_version",
    "register_version",
    "resolve_model_version",
]

import difflib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from shipline.errors import NotAModelError, NotFoundError, UsageError
from shipline.registry.version_details import VersionDetails
from shipline.store import Database, Transaction, next_value, utc_now
from shipline.store.blob_kinds import has_kind
from shipline.store.tables import aliases, model_versions, models
from shipline.types import check_name, parse_reference


@dataclass(frozen=True)
class ModelVersion:
    """A registered model bundle with its signature, metrics and lineage."""

    name: str
    version: int
    run_id: int
    bundle_digest: str
    card_digest: str
    details: dict[str, Any]
    created_at: str
    created_by: str
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``name:N``."""
        return f"{self.name}:{self.version}"

    @cached_property
    def facts(self) -> VersionDetails:
        """The details as typed records (``details`` is the stored JSON document)."""
        return VersionDetails.model_validate(self.details)

    @property
    def metrics(self) -> dict[str, float]:
        """Held-out metrics measured at training time."""
        return dict(self.details.get("metrics", {}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "ref": self.ref,
            "name": self.name,
            "version": self.version,
            "aliases": list(self.aliases),
            "run": self.run_id,
            "bundle_digest": self.bundle_digest,
            "card_digest": self.card_digest,
            "created_at": self.created_at,
            "created_by": self.created_by,
            **self.details,
        }


def register_version(
    tx: Transaction,
    name: str,
    run_id: int,
    bundle_digest: str,
    card_digest: str,
    details: dict[str, Any],
) -> ModelVersion:
    """Create the next version of model ``name`` inside the caller's write transaction.

    The bundle must be a blob recorded as a model (what the training step stores), never a
    dataset or any other blob that happens to unpickle.
    """
    conn, now = tx.conn, utc_now()
    if not has_kind(conn, bundle_digest, "model"):
        raise NotAModelError(bundle_digest)
    model_id = conn.execute(select(models.c.id).where(models.c.name == name)).scalar()
    if model_id is None:
        model_id = conn.execute(
            models.insert()
            .values(name=name, created_at=now, created_by=tx.actor)
            .returning(models.c.id)
        ).scalar_one()
        tx.record("model.create", f"model:{name}", None, {"name": name})
    number = next_value(conn, f"model_version:{name}")
    version_id = conn.execute(
        model_versions.insert()
        .values(
            model_id=model_id,
            version=number,
            run_id=run_id,
            bundle_digest=bundle_digest,
            card_digest=card_digest,
            details=orjson.dumps(details).decode(),
            created_at=now,
            created_by=tx.actor,
        )
        .returning(model_versions.c.id)
    ).scalar_one()
    tx.record(
        "model.version.register",
        f"model:{name}:{number}",
        None,
        {"run": run_id, "bundle_digest": bundle_digest, "metrics": details.get("metrics", {})},
    )
    return load_model_version(conn, version_id)


def _query() -> Any:
    return select(model_versions, models.c.name).join(
        models, models.c.id == model_versions.c.model_id
    )


def _from_row(conn: Connection, row: Row[Any], held: list[str] | None = None) -> ModelVersion:
    if held is None:
        held = list(
            conn.execute(
                select(aliases.c.alias)
                .where(aliases.c.version_id == row.id)
                .order_by(aliases.c.alias)
            ).scalars()
        )
    return ModelVersion(
        name=row.name,
        version=row.version,
        run_id=row.run_id,
        bundle_digest=row.bundle_digest,
        card_digest=row.card_digest,
        details=orjson.loads(row.details),
        created_at=row.created_at,
        created_by=row.created_by,
        aliases=tuple(held),
    )


def load_model_version(conn: Connection, version_id: int) -> ModelVersion:
    """The version with database id ``version_id``."""
    return _from_row(conn, conn.execute(_query().where(model_versions.c.id == version_id)).one())


def find_by_bundle(conn: Connection, name: str, bundle_digest: str) -> ModelVersion | None:
    """The version of ``name`` already holding exactly this bundle, if any."""
    row = conn.execute(
        _query().where(models.c.name == name, model_versions.c.bundle_digest == bundle_digest)
    ).first()
    return _from_row(conn, row) if row else None


def list_model_versions(db: Database, name: str | None = None) -> list[ModelVersion]:
    """All versions (of one model when ``name`` is given), oldest first."""
    query = _query().order_by(models.c.name, model_versions.c.version)
    with db.read() as conn:
        if name is not None:
            _model_id(conn, check_name(name, "model name"))
            query = query.where(models.c.name == name)
        return _from_rows(conn, conn.execute(query).all())


def _from_rows(conn: Connection, rows: Sequence[Row[Any]]) -> list[ModelVersion]:
    """Many versions, with their aliases read in one query (not one per version)."""
    held: dict[int, list[str]] = defaultdict(list)
    found = conn.execute(
        select(aliases.c.version_id, aliases.c.alias)
        .where(aliases.c.model_id.in_({row.model_id for row in rows}))
        .order_by(aliases.c.alias)
    )
    for version_id, alias in found:
        held[version_id].append(alias)
    return [_from_row(conn, row, held[row.id]) for row in rows]


def versions_of(db: Database, name: str) -> list[ModelVersion]:
    """A model's versions, oldest first; none for a model never registered."""
    query = _query().where(models.c.name == name).order_by(model_versions.c.version)
    with db.read() as conn:
        return _from_rows(conn, conn.execute(query).all())


def resolve_model_version(conn: Connection, ref: str) -> ModelVersion:
    """Find ``name`` (latest), ``name:N`` or ``name@alias``."""
    reference = parse_reference(ref, "model")
    if reference is None:
        raise UsageError(
            "expected a model reference such as 'churn', 'churn:3' or 'churn@production', "
            f"got {ref[:60]!r}"
        )
    name, alias, number = reference.name, reference.alias, reference.version
    model_id = _model_id(conn, name)
    query = _query().where(model_versions.c.model_id == model_id)
    if alias is not None:
        version_id = conn.execute(
            select(aliases.c.version_id).where(
                aliases.c.model_id == model_id, aliases.c.alias == alias
            )
        ).scalar()
        if version_id is None:
            raise NotFoundError(f"model {name!r} has no alias {alias!r}")
        return load_model_version(conn, version_id)
    if number is not None:
        row = conn.execute(query.where(model_versions.c.version == number)).first()
        if row is None:
            raise NotFoundError(f"model {name!r} has no version {number}")
        return _from_row(conn, row)
    row = conn.execute(query.order_by(model_versions.c.version.desc())).first()
    if row is None:
        raise NotFoundError(f"model {name!r} has no versions")
    return _from_row(conn, row)


def _model_id(conn: Connection, name: str) -> int:
    model_id = conn.execute(select(models.c.id).where(models.c.name == name)).scalar()
    if model_id is None:
        names = list(conn.execute(select(models.c.name)).scalars())
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise NotFoundError(f"no model {name!r}{hint}")
    return int(model_id)
