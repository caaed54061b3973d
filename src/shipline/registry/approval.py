"""Promotion requests and their approvals, with four-eyes enforced inside the transaction."""

from __future__ import annotations

__all__ = [
    "Approval",
    "Promotion",
    "approve",
    "get_approval",
    "list_approvals",
    "promote",
    "reject",
    "roll_back",
]

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from shipline.config.schema import ApprovalPolicy
from shipline.errors import ConflictError, ForbiddenError, NotFoundError, UsageError
from shipline.registry.alias import (
    alias_holder,
    rollback_target,
    supersede_pending,
)
from shipline.registry.applied_config import applied_policy
from shipline.registry.approval_status import ApprovalStatus
from shipline.registry.model_version import ModelVersion, load_model_version, resolve_model_version
from shipline.registry.rollout import Rollout, move_or_roll_out
from shipline.store import Database, Transaction, utc_now
from shipline.store.tables import approvals, model_versions, models, runs
from shipline.types import check_name


@dataclass(frozen=True)
class Approval:
    """A request to move an alias to a version, and the decisions on it."""

    id: int
    model: str
    version: int
    alias: str
    status: ApprovalStatus
    requested_by: str
    requested_at: str
    required: int
    decisions: tuple[dict[str, Any], ...]
    decided_at: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {**self.__dict__, "decisions": list(self.decisions)}


@dataclass(frozen=True)
class Promotion:
    """What a promote call did: moved the alias at once, or opened (or found) an approval."""

    version: ModelVersion
    alias: str
    moved: bool
    approval: Approval | None
    # Set when the move started a rollout (deployment.rollout) instead of moving the alias.
    rollout: Rollout | None = None


def _mode(policy: ApprovalPolicy, alias: str) -> str:
    return str(getattr(policy, alias, "auto")) if alias in ("staging", "production") else "auto"


def promote(
    db: Database,
    name: str,
    version: int,
    alias: str,
    actor: str,
    policy: ApprovalPolicy | None = None,
    reason: str | None = None,
) -> Promotion:
    """Move ``alias`` to ``name:version`` when the policy says auto, else open an approval.

    Without ``policy`` (every caller but tests of the mechanism) the policy is the model's
    applied one, read in the transaction that moves the alias.
    """
    check_name(alias, "alias")
    with db.write(actor) as tx:
        target = resolve_model_version(tx.conn, f"{check_name(name, 'model name')}:{version}")
        return _move_or_request(tx, target, alias, policy, "promote", reason)


def roll_back(
    db: Database, name: str, alias: str, actor: str, reason: str | None = None
) -> Promotion:
    """Move ``alias`` back to the version that held it before, under the same applied policy
    as a promotion: at once when it is auto, else through an approval."""
    with db.write(actor) as tx:
        current, target = rollback_target(tx.conn, name, alias)
        why = reason or f"roll back from version {current.version}"
        return _move_or_request(tx, target, alias, None, "rollback", why)


def _move_or_request(
    tx: Transaction,
    target: ModelVersion,
    alias: str,
    policy: ApprovalPolicy | None,
    kind: str,
    reason: str | None,
) -> Promotion:
    """In the caller's transaction: move the alias when the policy is auto, else open (or find)
    the approval that will."""
    if policy is None:
        policy = applied_policy(tx.conn, target.name)
    if alias_holder(tx.conn, target.name, alias) == target.version:
        return Promotion(target, alias, False, None)  # nothing to move, nothing to approve
    if _mode(policy, alias) == "auto":
        started = move_or_roll_out(tx, target, alias, kind, reason)
        moved = resolve_model_version(tx.conn, target.ref)
        return Promotion(moved, alias, started is None, None, started)
    return Promotion(
        target, alias, False, _load(tx.conn, _open_approval(tx, target, alias, policy, reason))
    )


def _open_approval(
    tx: Transaction, target: ModelVersion, alias: str, policy: ApprovalPolicy, reason: str | None
) -> int:
    """The pending approval to move ``alias`` to ``target`` (opened now unless one exists);
    opening one supersedes the alias's other pending requests."""
    version_id = _version_id(tx.conn, target)
    pending: int | None = tx.conn.execute(
        select(approvals.c.id).where(
            approvals.c.version_id == version_id,
            approvals.c.alias == alias,
            approvals.c.status == ApprovalStatus.PENDING,
        )
    ).scalar()
    if pending is not None:
        return pending
    model_id = select(models.c.id).where(models.c.name == target.name).scalar_subquery()
    opened: int = tx.conn.execute(
        approvals.insert()
        .values(
            model_id=model_id,
            version_id=version_id,
            alias=alias,
            status=ApprovalStatus.PENDING,
            requested_by=tx.actor,
            requested_at=utc_now(),
            decisions=orjson.dumps({"required": policy.approvers, "by": []}).decode(),
            reason=reason,
        )
        .returning(approvals.c.id)
    ).scalar_one()
    tx.record(
        "approval.request",
        f"model:{target.ref}@{alias}",
        None,
        {"approval": opened, "reason": reason},
    )
    supersede_pending(tx, target.name, alias, f"approval {opened}", keep=opened)
    return opened


def approve(db: Database, approval_id: int, actor: str, reason: str | None = None) -> Approval:
    """Record ``actor``'s approval; with enough distinct approvers the alias moves now.

    Four-eyes: the registrant, the run's owner and the requester cannot approve."""
    with db.write(actor) as tx:
        approval = _pending(tx.conn, approval_id, "approve")
        version = load_model_version(tx.conn, _version_id_of(tx.conn, approval_id))
        authors = {version.created_by, _run_actor(tx.conn, version.run_id)}
        if actor in authors or actor == approval.requested_by:
            role = "an author of" if actor in authors else "the requester of moving"
            raise ForbiddenError(
                f"approval {approval_id}: {actor!r} is {role} {version.ref} and cannot "
                "approve it; another person must (four-eyes)"
            )
        if any(d["actor"] == actor for d in approval.decisions):
            raise ConflictError(f"approval {approval_id}: {actor!r} has already approved it")
        decisions = [
            *approval.decisions,
            {"actor": actor, "decision": "approve", "at": utc_now(), "reason": reason},
        ]
        done = len(decisions) >= approval.required
        tx.conn.execute(
            approvals.update()
            .where(approvals.c.id == approval_id)
            .values(
                decisions=orjson.dumps({"required": approval.required, "by": decisions}).decode(),
                status=ApprovalStatus.APPROVED if done else ApprovalStatus.PENDING,
                decided_at=utc_now() if done else None,
            )
        )
        tx.record(
            "approval.approve",
            f"approval:{approval_id}",
            {"status": ApprovalStatus.PENDING},
            {"status": ApprovalStatus.APPROVED if done else ApprovalStatus.PENDING, "by": actor},
        )
        if done:
            move_or_roll_out(tx, version, approval.alias, "approval", f"approval {approval_id}")
        return _load(tx.conn, approval_id)


def reject(db: Database, approval_id: int, actor: str, reason: str) -> Approval:
    """Close the request for good; the alias does not move."""
    if not reason.strip():
        raise UsageError("a rejection needs a reason (--reason)")
    with db.write(actor) as tx:
        approval = _pending(tx.conn, approval_id, "reject")
        decisions = [
            *approval.decisions,
            {"actor": actor, "decision": "reject", "at": utc_now(), "reason": reason},
        ]
        tx.conn.execute(
            approvals.update()
            .where(approvals.c.id == approval_id)
            .values(
                status=ApprovalStatus.REJECTED,
                decided_at=utc_now(),
                reason=reason,
                decisions=orjson.dumps({"required": approval.required, "by": decisions}).decode(),
            )
        )
        tx.record(
            "approval.reject",
            f"approval:{approval_id}",
            {"status": ApprovalStatus.PENDING},
            {"status": ApprovalStatus.REJECTED, "by": actor, "reason": reason},
        )
        return _load(tx.conn, approval_id)


def list_approvals(db: Database, status: str | None = None) -> list[Approval]:
    """Approvals, newest first, optionally only those with ``status``."""
    query = select(approvals.c.id).order_by(approvals.c.id.desc())
    if status is not None:
        query = query.where(approvals.c.status == status)
    with db.read() as conn:
        return [_load(conn, i) for i in conn.execute(query).scalars()]


def get_approval(db: Database, approval_id: int) -> Approval:
    """One approval by id."""
    with db.read() as conn:
        return _load(conn, approval_id)


def _pending(conn: Connection, approval_id: int, verb: str) -> Approval:
    approval = _load(conn, approval_id)
    if approval.status != ApprovalStatus.PENDING:
        raise ConflictError(
            f"approval {approval_id} is already {approval.status}; cannot {verb} it"
        )
    return approval


def _load(conn: Connection, approval_id: int) -> Approval:
    row: Row[Any] | None = conn.execute(
        select(approvals, models.c.name, model_versions.c.version)
        .join(models, models.c.id == approvals.c.model_id)
        .join(model_versions, model_versions.c.id == approvals.c.version_id)
        .where(approvals.c.id == approval_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no approval {approval_id}")
    decisions = orjson.loads(row.decisions)
    return Approval(
        id=row.id,
        model=row.name,
        version=row.version,
        alias=row.alias,
        status=ApprovalStatus(row.status),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        required=int(decisions["required"]),
        decisions=tuple(decisions["by"]),
        decided_at=row.decided_at,
        reason=row.reason,
    )


def _version_id(conn: Connection, version: ModelVersion) -> int:
    return int(
        conn.execute(
            select(model_versions.c.id)
            .join(models, models.c.id == model_versions.c.model_id)
            .where(models.c.name == version.name, model_versions.c.version == version.version)
        ).scalar_one()
    )


def _version_id_of(conn: Connection, approval_id: int) -> int:
    return int(
        conn.execute(
            select(approvals.c.version_id).where(approvals.c.id == approval_id)
        ).scalar_one()
    )


def _run_actor(conn: Connection, run_id: int) -> str | None:
    return conn.execute(select(runs.c.actor).where(runs.c.id == run_id)).scalar()
