"""Aliases: movable names on versions (``staging``, ``production``…); moving one deploys."""

from __future__ import annotations

__all__ = [
    "AliasMove",
    "alias_history",
    "alias_holder",
    "move_alias",
    "previous_holder",
    "rollback",
    "rollback_target",
    "supersede_pending",
]

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from shipline.errors import ConflictError
from shipline.registry.approval_status import ApprovalStatus
from shipline.registry.model_version import ModelVersion, resolve_model_version
from shipline.store import Database, Transaction, utc_now
from shipline.store.tables import alias_history as history_table
from shipline.store.tables import aliases, approvals, model_versions, models
from shipline.types import check_name


@dataclass(frozen=True)
class AliasMove:
    """One entry of an alias's history."""

    alias: str
    from_version: int | None
    to_version: int
    kind: str
    at: str
    actor: str
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def move_alias(
    tx: Transaction, version: ModelVersion, alias: str, kind: str, reason: str | None = None
) -> int | None:
    """Point ``alias`` at ``version`` in the caller's transaction; returns the previous holder."""
    check_name(alias, "alias")
    conn, now = tx.conn, utc_now()
    model_id, version_id = _ids(conn, version)
    current = conn.execute(
        select(model_versions.c.version)
        .join(aliases, aliases.c.version_id == model_versions.c.id)
        .where(aliases.c.model_id == model_id, aliases.c.alias == alias)
    ).scalar()
    if current == version.version:
        return int(current)
    if current is None:
        conn.execute(
            aliases.insert().values(
                model_id=model_id,
                alias=alias,
                version_id=version_id,
                updated_at=now,
                updated_by=tx.actor,
            )
        )
    else:
        conn.execute(
            aliases.update()
            .where(aliases.c.model_id == model_id, aliases.c.alias == alias)
            .values(version_id=version_id, updated_at=now, updated_by=tx.actor)
        )
    conn.execute(
        history_table.insert().values(
            model_id=model_id,
            alias=alias,
            from_version=current,
            to_version=version.version,
            kind=kind,
            at=now,
            actor=tx.actor,
            reason=reason,
        )
    )
    tx.record(
        f"model.alias.{kind}",
        f"model:{version.name}@{alias}",
        {"version": current},
        {"version": version.version, "reason": reason},
    )
    # Requests to move the alias were made against the holder it had: they are stale now.
    supersede_pending(tx, version.name, alias, f"{alias} moved to version {version.version}")
    return current


def alias_holder(conn: Connection, name: str, alias: str) -> int | None:
    """The version ``alias`` points at now, or None."""
    holder: int | None = conn.execute(
        select(model_versions.c.version)
        .join(aliases, aliases.c.version_id == model_versions.c.id)
        .join(models, models.c.id == aliases.c.model_id)
        .where(models.c.name == name, aliases.c.alias == alias)
    ).scalar()
    return holder


def supersede_pending(
    tx: Transaction, name: str, alias: str, why: str, keep: int | None = None
) -> list[int]:
    """Close the model's pending approvals for ``alias`` (all but ``keep``) for good, audited;
    returns their ids. Approving a superseded request is refused."""
    stale = [
        int(i)
        for i in tx.conn.execute(
            select(approvals.c.id)
            .join(models, models.c.id == approvals.c.model_id)
            .where(
                models.c.name == name,
                approvals.c.alias == alias,
                approvals.c.status == ApprovalStatus.PENDING,
                approvals.c.id != (keep if keep is not None else -1),
            )
        ).scalars()
    ]
    for approval_id in stale:
        tx.conn.execute(
            approvals.update()
            .where(approvals.c.id == approval_id)
            .values(
                status=ApprovalStatus.SUPERSEDED, decided_at=utc_now(), reason=f"superseded: {why}"
            )
        )
        tx.record(
            "approval.supersede",
            f"approval:{approval_id}",
            {"status": ApprovalStatus.PENDING},
            {"status": ApprovalStatus.SUPERSEDED, "reason": why},
        )
    return stale


def _ids(conn: Connection, version: ModelVersion) -> tuple[int, int]:
    row = conn.execute(
        select(models.c.id, model_versions.c.id.label("version_id"))
        .join(model_versions, model_versions.c.model_id == models.c.id)
        .where(models.c.name == version.name, model_versions.c.version == version.version)
    ).one()
    return int(row.id), int(row.version_id)


def previous_holder(conn: Connection, name: str, alias: str) -> int | None:
    """The version the alias pointed at before its current holder."""
    model_id = conn.execute(select(models.c.id).where(models.c.name == name)).scalar()
    row = conn.execute(
        select(history_table.c.from_version)
        .where(history_table.c.model_id == model_id, history_table.c.alias == alias)
        .order_by(history_table.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else row.from_version


def rollback(
    db: Database, name: str, alias: str, actor: str, reason: str | None = None
) -> ModelVersion:
    """Move ``alias`` back to the version that held it before the current one."""
    with db.write(actor) as tx:
        _, target = rollback_target(tx.conn, name, alias)
        move_alias(tx, target, alias, "rollback", reason)
        return resolve_model_version(tx.conn, target.ref)


def rollback_target(conn: Connection, name: str, alias: str) -> tuple[ModelVersion, ModelVersion]:
    """The alias's current holder and the version that held it before (a ConflictError when
    there was none)."""
    current = resolve_model_version(
        conn, f"{check_name(name, 'model name')}@{check_name(alias, 'alias')}"
    )
    before = previous_holder(conn, name, alias)
    if before is None:
        raise ConflictError(
            f"{name}@{alias} has no earlier holder to roll back to (it is {current.ref})"
        )
    return current, resolve_model_version(conn, f"{name}:{before}")


def alias_history(db: Database, name: str, alias: str | None = None) -> list[AliasMove]:
    """Every move of the model's aliases (or of one alias), oldest first."""
    with db.read() as conn:
        resolve_model_version(conn, check_name(name, "model name"))
        model_id = conn.execute(select(models.c.id).where(models.c.name == name)).scalar()
        query = (
            select(history_table)
            .where(history_table.c.model_id == model_id)
            .order_by(history_table.c.id)
        )
        if alias is not None:
            query = query.where(history_table.c.alias == check_name(alias, "alias"))
        return [
            AliasMove(r.alias, r.from_version, r.to_version, r.kind, r.at, r.actor, r.reason)
            for r in conn.execute(query).all()
        ]
