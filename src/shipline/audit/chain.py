"""Reading and verifying the audit chain."""

from __future__ import annotations

__all__ = ["ChainReport", "list_events", "verify_chain"]

from dataclasses import dataclass

from sqlalchemy import select

from shipline.store import AuditEvent, Database, event_hash
from shipline.store.audit_log import GENESIS_HASH
from shipline.store.tables import audit_events

_BATCH = 5000


@dataclass(frozen=True)
class ChainReport:
    """The outcome of walking the chain: how far it holds, and the first broken row."""

    checked: int
    head: str
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when every row links to the one before it and hashes to its row_hash."""
        return self.broken_seq is None


def _event(row: object) -> AuditEvent:
    return AuditEvent(**{name: getattr(row, name) for name in AuditEvent.__dataclass_fields__})


def list_events(
    db: Database, limit: int = 50, target: str | None = None, action: str | None = None
) -> list[AuditEvent]:
    """The newest ``limit`` events, oldest first, optionally filtered by target prefix/action."""
    query = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
    if target:
        query = query.where(audit_events.c.target.startswith(target, autoescape=True))
    if action:
        query = query.where(audit_events.c.action == action)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [_event(row) for row in reversed(rows)]


def verify_chain(db: Database) -> ChainReport:
    """Walk every row in order; name the first one whose link or hash does not hold."""
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    with db.read() as conn:
        while True:
            rows = conn.execute(
                select(audit_events)
                .where(audit_events.c.seq >= expected_seq)
                .order_by(audit_events.c.seq)
                .limit(_BATCH)
            ).all()
            if not rows:
                return ChainReport(checked, prev_hash)
            for row in rows:
                event = _event(row)
                reason = None
                if event.seq != expected_seq:
                    reason = f"row {expected_seq} is missing (next row is {event.seq})"
                elif event.prev_hash != prev_hash:
                    reason = "prev_hash does not match the row_hash of the row before it"
                elif event_hash(prev_hash, event.hashed_fields()) != event.row_hash:
                    reason = "row_hash does not match the row's contents (row was altered)"
                if reason:
                    return ChainReport(checked, prev_hash, expected_seq, reason)
                prev_hash, expected_seq, checked = event.row_hash, expected_seq + 1, checked + 1
