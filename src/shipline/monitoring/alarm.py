"""Alarms: each monitoring rule that breaks opens one; it closes when the rule holds again.

Opening and closing happen in the same transaction as the report that found them, with an
audit event each. Alarms are what the retraining controller acts on.
"""

from __future__ import annotations

__all__ = ["Alarm", "list_alarms", "update_alarms"]

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from shipline.store import Database, Transaction, utc_now
from shipline.store.tables import alarms
from shipline.types import Status


class AlarmStatus(Status):
    """Open while its rule stays broken; closed when a later report finds it holding."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Alarm:
    """A broken rule of one model."""

    id: int
    model: str
    version: int
    kind: str
    status: AlarmStatus
    opened_at: str
    closed_at: str | None
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


def update_alarms(
    tx: Transaction,
    model: str,
    version: int,
    verdicts: dict[str, tuple[bool | None, dict[str, Any]]],
) -> tuple[list[Alarm], list[Alarm]]:
    """Apply rule verdicts (kind → broken?, evidence); returns the alarms opened and closed.

    A verdict of None (the rule could not be judged, e.g. no labels yet) changes nothing.
    """
    opened, closed = [], []
    for kind, (broken, evidence) in verdicts.items():
        if broken is None:
            continue
        current = tx.conn.execute(
            select(alarms).where(
                alarms.c.model == model, alarms.c.kind == kind, alarms.c.status == AlarmStatus.OPEN
            )
        ).first()
        if broken and current is None:
            opened.append(_open(tx, model, version, kind, evidence))
        elif broken and current is not None:
            evidence_text = orjson.dumps(evidence).decode()
            tx.conn.execute(
                alarms.update().where(alarms.c.id == current.id).values(evidence=evidence_text)
            )
        elif not broken and current is not None:
            closed.append(_close(tx, current, kind))
    return opened, closed


def _open(tx: Transaction, model: str, version: int, kind: str, evidence: dict[str, Any]) -> Alarm:
    alarm_id = tx.conn.execute(
        alarms.insert()
        .values(
            model=model,
            version=version,
            kind=kind,
            status=AlarmStatus.OPEN,
            opened_at=utc_now(),
            evidence=orjson.dumps(evidence).decode(),
        )
        .returning(alarms.c.id)
    ).scalar_one()
    tx.record(
        "alarm.open",
        f"model:{model}:{version}",
        None,
        {"alarm": alarm_id, "kind": kind, **evidence},
    )
    return _load(tx, alarm_id)


def _close(tx: Transaction, current: Any, kind: str) -> Alarm:
    tx.conn.execute(
        alarms.update()
        .where(alarms.c.id == current.id)
        .values(status=AlarmStatus.CLOSED, closed_at=utc_now())
    )
    tx.record(
        "alarm.close",
        f"model:{current.model}:{current.version}",
        {"alarm": current.id, "status": AlarmStatus.OPEN},
        {"alarm": current.id, "status": AlarmStatus.CLOSED, "kind": kind},
    )
    return _load(tx, current.id)


def _alarm(row: Any) -> Alarm:
    return Alarm(
        row.id,
        row.model,
        row.version,
        row.kind,
        AlarmStatus(row.status),
        row.opened_at,
        row.closed_at,
        orjson.loads(row.evidence),
    )


def _load(tx: Transaction, alarm_id: int) -> Alarm:
    return _alarm(tx.conn.execute(select(alarms).where(alarms.c.id == alarm_id)).one())


def list_alarms(
    db: Database, include_closed: bool = False, model: str | None = None
) -> list[Alarm]:
    """Open alarms (or all), newest first."""
    query = select(alarms).order_by(alarms.c.id.desc())
    if not include_closed:
        query = query.where(alarms.c.status == AlarmStatus.OPEN)
    if model is not None:
        query = query.where(alarms.c.model == model)
    with db.read() as conn:
        return [_alarm(row) for row in conn.execute(query).all()]
