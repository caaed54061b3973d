"""Rollouts: a candidate version taking over an alias through the shadow and canary phases of
the model's *applied* ``deployment.rollout`` (never the caller's file).

A promotion (at once, or when its approval completes) to an alias that has a rollout plan and
a current holder starts a rollout instead of moving the alias: the holder stays the alias's
version (the stable one) while the candidate answers a shadow or canary share of the traffic.
The controller records each verdict and advances, promotes (the alias moves, as any promotion
does) or rolls back; people pause, resume or abort. Every change is in the audit chain.
"""

from __future__ import annotations

__all__ = [
    "Rollout",
    "RolloutStatus",
    "active_rollout",
    "change_rollout",
    "get_rollout",
    "list_rollouts",
    "move_or_roll_out",
    "record_verdict",
]

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection, Row, select

from shipline.config.rollout import AliasRollout
from shipline.errors import ConflictError, NotFoundError, UsageError
from shipline.registry.alias import alias_holder, move_alias
from shipline.registry.applied_config import applied_rollout
from shipline.registry.model_version import ModelVersion, resolve_model_version
from shipline.store import Database, Transaction, utc_now
from shipline.store.tables import model_versions, models, rollouts


class RolloutStatus(StrEnum):
    """Where a rollout stands."""

    RUNNING = "running"
    PAUSED = "paused"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"


_ACTIVE = (RolloutStatus.RUNNING, RolloutStatus.PAUSED)


@dataclass(frozen=True)
class Rollout:
    """One rollout: stable and candidate versions, the phase and share now, every verdict."""

    id: int
    model: str
    alias: str
    stable: int
    candidate: int
    status: RolloutStatus
    phase: str
    step: int
    share: float
    plan: AliasRollout
    started_by: str
    started_at: str
    step_started_at: str
    ended_at: str | None = None
    steps: tuple[dict[str, Any], ...] = field(default=())

    @property
    def active(self) -> bool:
        """Running or paused: the candidate still serves its share."""
        return self.status in _ACTIVE

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "id": self.id,
            "model": self.model,
            "alias": self.alias,
            "stable": self.stable,
            "candidate": self.candidate,
            "status": str(self.status),
            "phase": self.phase,
            "step": self.step,
            "share": self.share,
            "plan": self.plan.model_dump(mode="json"),
            "started_by": self.started_by,
            "started_at": self.started_at,
            "step_started_at": self.step_started_at,
            "ended_at": self.ended_at,
            "steps": list(self.steps),
        }


def first_phase(plan: AliasRollout) -> tuple[str, float]:
    """The phase a rollout starts in and the candidate's share there."""
    if plan.shadow is not None:
        return "shadow", plan.shadow.share
    assert plan.canary is not None  # the plan has a phase (validated)
    return "canary", plan.canary.steps[0] / 100


def move_or_roll_out(
    tx: Transaction, target: ModelVersion, alias: str, kind: str, reason: str | None
) -> Rollout | None:
    """In the caller's transaction: start a rollout of ``target`` when the applied config has a
    plan for ``alias`` and the alias has a holder; else move the alias (a rollback always
    moves at once). A rollout already running for the alias is aborted, superseded."""
    plan = None if kind == "rollback" else applied_rollout(tx.conn, target.name, alias)
    holder = alias_holder(tx.conn, target.name, alias)
    running = active_rollout(tx.conn, target.name, alias)
    if running is not None:
        _finish(tx, running, RolloutStatus.ABORTED, f"superseded: {kind} to {target.ref}")
    if plan is None or holder is None or holder == target.version:
        move_alias(tx, target, alias, kind, reason)
        return None
    return _start(tx, target, alias, holder, plan, reason)


def _start(
    tx: Transaction,
    candidate: ModelVersion,
    alias: str,
    holder: int,
    plan: AliasRollout,
    reason: str | None,
) -> Rollout:
    """Insert the rollout row in its first phase."""
    stable = resolve_model_version(tx.conn, f"{candidate.name}:{holder}")
    phase, share = first_phase(plan)
    now = utc_now()
    model_id = select(models.c.id).where(models.c.name == candidate.name).scalar_subquery()
    rollout_id: int = tx.conn.execute(
        rollouts.insert()
        .values(
            model_id=model_id,
            alias=alias,
            stable_version_id=_version_id(tx.conn, stable),
            candidate_version_id=_version_id(tx.conn, candidate),
            status=RolloutStatus.RUNNING,
            phase=phase,
            step=0,
            share=share,
            plan=orjson.dumps(plan.model_dump(mode="json")).decode(),
            steps="[]",
            started_by=tx.actor,
            started_at=now,
            step_started_at=now,
        )
        .returning(rollouts.c.id)
    ).scalar_one()
    tx.record(
        "rollout.start",
        f"model:{candidate.name}@{alias}",
        {"version": holder},
        {
            "rollout": rollout_id,
            "candidate": candidate.version,
            "phase": phase,
            "share": share,
            "reason": reason,
        },
    )
    return _load(tx.conn, rollout_id)


def record_verdict(
    tx: Transaction, rollout: Rollout, verdict: dict[str, Any], outcome: str
) -> Rollout:
    """Record a verdict with its evidence and act on it: ``hold`` (keep gathering traffic),
    ``advance`` (next step, or promote after the last), ``rollback``."""
    if outcome not in ("hold", "advance", "rollback"):
        raise UsageError(f"unknown rollout outcome {outcome!r}")
    current = _load(tx.conn, rollout.id)
    if current.status != RolloutStatus.RUNNING:
        raise ConflictError(f"rollout {rollout.id} is {current.status}, not running")
    if (current.phase, current.step) != (rollout.phase, rollout.step):
        raise ConflictError(
            f"rollout {rollout.id} moved on to {current.phase} step {current.step} since "
            f"{rollout.phase} step {rollout.step} was judged"
        )
    entry = {
        "at": utc_now(),
        "phase": current.phase,
        "step": current.step,
        "share": current.share,
        "outcome": outcome,
        **verdict,
    }
    _update(tx.conn, current.id, steps=[*current.steps, entry])
    target = f"model:{current.model}@{current.alias}"
    tx.record(f"rollout.{outcome}", target, {"phase": current.phase, "step": current.step}, entry)
    if outcome == "rollback":
        return _finish(tx, current, RolloutStatus.ROLLED_BACK, "a guardrail broke")
    if outcome == "advance":
        return _advance(tx, current)
    return _load(tx.conn, current.id)


def _advance(tx: Transaction, rollout: Rollout) -> Rollout:
    """The next canary step; after the last one, the alias moves to the candidate."""
    steps = rollout.plan.canary.steps if rollout.plan.canary is not None else []
    following = 0 if rollout.phase == "shadow" else rollout.step + 1
    if following >= len(steps):
        candidate = resolve_model_version(tx.conn, f"{rollout.model}:{rollout.candidate}")
        move_alias(tx, candidate, rollout.alias, "rollout", f"rollout {rollout.id} promoted")
        return _finish(tx, rollout, RolloutStatus.PROMOTED, "every step held")
    _update(
        tx.conn,
        rollout.id,
        phase="canary",
        step=following,
        share=steps[following] / 100,
        step_started_at=utc_now(),
    )
    return _load(tx.conn, rollout.id)


def change_rollout(
    db: Database, model: str, alias: str, action: str, actor: str, reason: str | None = None
) -> Rollout:
    """A person's ``pause``, ``resume`` or ``abort`` of the alias's active rollout."""
    transitions = {
        "pause": (RolloutStatus.RUNNING, RolloutStatus.PAUSED),
        "resume": (RolloutStatus.PAUSED, RolloutStatus.RUNNING),
        "abort": (None, RolloutStatus.ABORTED),
    }
    if action not in transitions:
        raise UsageError(f"expected pause, resume or abort, got {action!r}")
    needed, after = transitions[action]
    with db.write(actor) as tx:
        rollout = active_rollout(tx.conn, model, alias)
        if rollout is None:
            raise NotFoundError(f"no rollout is running for {model}@{alias}")
        if needed is not None and rollout.status != needed:
            raise ConflictError(f"rollout {rollout.id} is {rollout.status}; cannot {action} it")
        if after == RolloutStatus.ABORTED:
            return _finish(tx, rollout, after, reason or f"aborted by {actor}")
        values: dict[str, Any] = {"status": after}
        if after == RolloutStatus.RUNNING:  # the bake time starts again from now
            values["step_started_at"] = utc_now()
        _update(tx.conn, rollout.id, **values)
        tx.record(
            f"rollout.{action}",
            f"model:{model}@{alias}",
            {"status": str(rollout.status)},
            {"status": str(after), "reason": reason},
        )
        return _load(tx.conn, rollout.id)


def _finish(tx: Transaction, rollout: Rollout, status: RolloutStatus, why: str) -> Rollout:
    """End the rollout with ``status`` (the alias keeps whatever it holds now)."""
    _update(tx.conn, rollout.id, status=status, ended_at=utc_now())
    tx.record(
        f"rollout.{status}",
        f"model:{rollout.model}@{rollout.alias}",
        {"status": str(rollout.status)},
        {"status": str(status), "rollout": rollout.id, "reason": why},
    )
    return _load(tx.conn, rollout.id)


def active_rollout(conn: Connection, model: str, alias: str) -> Rollout | None:
    """The alias's running or paused rollout, if any."""
    row = conn.execute(
        _query()
        .where(
            models.c.name == model,
            rollouts.c.alias == alias,
            rollouts.c.status.in_([str(s) for s in _ACTIVE]),
        )
        .order_by(rollouts.c.id.desc())
    ).first()
    return _from_row(conn, row) if row is not None else None


def get_rollout(db: Database, rollout_id: int) -> Rollout:
    """One rollout by id (NotFoundError when there is none)."""
    with db.read() as conn:
        row = conn.execute(_query().where(rollouts.c.id == rollout_id)).first()
        if row is None:
            raise NotFoundError(f"no rollout {rollout_id}")
        return _from_row(conn, row)


def list_rollouts(db: Database, model: str) -> list[Rollout]:
    """A model's rollouts, newest first."""
    with db.read() as conn:
        rows = conn.execute(
            _query().where(models.c.name == model).order_by(rollouts.c.id.desc())
        ).all()
        return [_from_row(conn, row) for row in rows]


def _query() -> Any:
    return select(rollouts, models.c.name).join(models, models.c.id == rollouts.c.model_id)


def _load(conn: Connection, rollout_id: int) -> Rollout:
    return _from_row(conn, conn.execute(_query().where(rollouts.c.id == rollout_id)).one())


def _from_row(conn: Connection, row: Row[Any]) -> Rollout:
    numbers = dict(
        conn.execute(
            select(model_versions.c.id, model_versions.c.version).where(
                model_versions.c.id.in_([row.stable_version_id, row.candidate_version_id])
            )
        ).all()
    )
    return Rollout(
        id=row.id,
        model=row.name,
        alias=row.alias,
        stable=numbers[row.stable_version_id],
        candidate=numbers[row.candidate_version_id],
        status=RolloutStatus(row.status),
        phase=row.phase,
        step=row.step,
        share=row.share,
        plan=AliasRollout.model_validate(orjson.loads(row.plan), strict=False),
        started_by=row.started_by,
        started_at=row.started_at,
        step_started_at=row.step_started_at,
        ended_at=row.ended_at,
        steps=tuple(orjson.loads(row.steps)),
    )


def _update(conn: Connection, rollout_id: int, **values: Any) -> None:
    if "steps" in values:
        values["steps"] = orjson.dumps(values["steps"]).decode()
    conn.execute(rollouts.update().where(rollouts.c.id == rollout_id).values(**values))


def _version_id(conn: Connection, version: ModelVersion) -> int:
    found: int = conn.execute(
        select(model_versions.c.id)
        .join(models, models.c.id == model_versions.c.model_id)
        .where(models.c.name == version.name, model_versions.c.version == version.version)
    ).scalar_one()
    return found
