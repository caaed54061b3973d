"""Trigger events: each reason to retrain, recorded once (model, key) with its evidence.

The key names the event itself (the cron tick, the data digest, the environment digest, the
alarm id), so seeing the same event again records nothing and a trigger never starts two runs.
Status: pending → started → done | failed, or skipped (a guard held it back for good).
"""

from __future__ import annotations

__all__ = [
    "EventStatus",
    "TriggerEvent",
    "list_events",
    "models_of",
    "pending_events",
    "record_event",
    "set_status",
]

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update

from shipline.store import Database, utc_now
from shipline.store.tables import trigger_events
from shipline.types import Status


class EventStatus(Status):
    """pending → started → done | failed, or skipped (a guard held it back for good)."""

    PENDING = "pending"
    STARTED = "started"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class TriggerEvent:
    """One reason to retrain a model."""

    id: int
    model: str
    kind: str
    key: str
    evidence: dict[str, Any]
    status: EventStatus
    run_id: int | None
    detail: str | None
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def record_event(
    db: Database,
    actor: str,
    model: str,
    kind: str,
    key: str,
    evidence: dict[str, Any],
    status: str = "pending",
    detail: str | None = None,
) -> TriggerEvent | None:
    """Record the event unless its key was seen before; the new event, or None."""
    with db.write(actor) as tx:
        seen = tx.conn.execute(
            select(trigger_events.c.id).where(
                trigger_events.c.model == model, trigger_events.c.key == key
            )
        ).first()
        if seen is not None:
            return None
        now = utc_now()
        event_id = tx.conn.execute(
            trigger_events.insert()
            .values(
                model=model,
                kind=kind,
                key=key,
                evidence=orjson.dumps(evidence).decode(),
                status=status,
                detail=detail,
                created_at=now,
                updated_at=now,
            )
            .returning(trigger_events.c.id)
        ).scalar_one()
        tx.record(
            "trigger.fire" if status == "pending" else f"trigger.{status}",
            f"model:{model}",
            None,
            {"event": event_id, "kind": kind, "key": key, "detail": detail},
        )
        row = tx.conn.execute(select(trigger_events).where(trigger_events.c.id == event_id)).one()
    return _from_row(row)


def set_status(
    db: Database,
    actor: str,
    ids: list[int],
    status: str,
    run_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Move events to ``status`` (with the run that served them), audited."""
    if not ids:
        return
    with db.write(actor) as tx:
        tx.conn.execute(
            update(trigger_events)
            .where(trigger_events.c.id.in_(ids))
            .values(status=status, run_id=run_id, detail=detail, updated_at=utc_now())
        )
        tx.record(
            f"trigger.{status}",
            "trigger_events",
            None,
            {"events": ids, "run": run_id, "detail": detail},
        )


def pending_events(
    db: Database, model: str, statuses: tuple[str, ...] = ("pending",)
) -> list[TriggerEvent]:
    """The model's events in these statuses, oldest first."""
    with db.read() as conn:
        rows = conn.execute(
            select(trigger_events)
            .where(trigger_events.c.model == model, trigger_events.c.status.in_(statuses))
            .order_by(trigger_events.c.id)
        ).all()
    return [_from_row(row) for row in rows]


def models_of(db: Database, ids: list[int]) -> dict[int, str]:
    """The model of each of these events that exists."""
    with db.read() as conn:
        rows = conn.execute(
            select(trigger_events.c.id, trigger_events.c.model).where(trigger_events.c.id.in_(ids))
        )
        return {row.id: row.model for row in rows}


def list_events(db: Database, model: str | None = None, limit: int = 50) -> list[TriggerEvent]:
    """The newest events, newest first."""
    query = select(trigger_events).order_by(trigger_events.c.id.desc()).limit(limit)
    if model is not None:
        query = query.where(trigger_events.c.model == model)
    with db.read() as conn:
        return [_from_row(row) for row in conn.execute(query).all()]


def _from_row(row: Any) -> TriggerEvent:
    return TriggerEvent(
        id=row.id,
        model=row.model,
        kind=row.kind,
        key=row.key,
        evidence=orjson.loads(row.evidence),
        status=EventStatus(row.status),
        run_id=row.run_id,
        detail=row.detail,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
