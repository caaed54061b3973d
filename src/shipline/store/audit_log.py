"""The append-only, hash-chained ``audit_events`` table.

Each row carries ``row_hash = sha256(prev_hash || canonical_json(row))``. Rows are appended
inside the same transaction as the state change they describe; write transactions are
serialized (see ``Database.write``), so reading the last row and appending the next never race.
"""

from __future__ import annotations

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "Origin",
    "append_event",
    "canonical_json",
    "event_hash",
    "request_origin",
    "set_request_origin",
    "utc_now",
]

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, select

from shipline.store.tables import audit_events

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit chain as stored."""

    seq: int
    at: str
    actor: str
    action: str
    target: str
    before: str
    after: str
    prev_hash: str
    row_hash: str
    via: str | None = None
    client: str | None = None

    def hashed_fields(self) -> dict[str, Any]:
        """The fields covered by ``row_hash`` (``via`` and ``client`` only when recorded, so
        rows from before they existed hash as they did)."""
        fields: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "before": self.before,
            "after": self.after,
        }
        if self.via is not None:
            fields["via"] = self.via
        if self.client is not None:
            fields["client"] = self.client
        return fields


@dataclass(frozen=True)
class Origin:
    """Where a change comes from beyond the actor's name: how the actor was authenticated
    (``token 12``, ``oidc <subject>``) and the client's address."""

    via: str
    client: str | None


# Set by the API edge around one request, so every event the request writes carries it
# without threading it through each domain function (a context variable: one per request).
_ORIGIN: ContextVar[Origin | None] = ContextVar("shipline_audit_origin", default=None)


def set_request_origin(origin: Origin) -> None:
    """Record ``origin`` on every audit event appended from here on in this context (a web
    request's task: the context ends with the request)."""
    _ORIGIN.set(origin)


@contextmanager
def request_origin(origin: Origin) -> Iterator[None]:
    """Record ``origin`` on every audit event appended inside the block."""
    token = _ORIGIN.set(origin)
    try:
        yield
    finally:
        _ORIGIN.reset(token)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the same bytes for the same value."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The chain hash of a row given the hash of the row before it."""
    return hashlib.sha256((prev_hash + canonical_json(fields)).encode()).hexdigest()


def stamp(moment: datetime) -> str:
    """A moment as the ISO-8601 UTC text every table stores (it sorts as time does)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    """Stored ISO-8601 text back to an aware UTC moment."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def utc_now() -> str:
    """Now, as the ISO-8601 UTC text every table stores."""
    return stamp(datetime.now(UTC))


def append_event(
    conn: Connection,
    actor: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
) -> AuditEvent:
    """Append one event to the chain on ``conn`` (which must hold the write lock)."""
    last = conn.execute(
        select(audit_events.c.seq, audit_events.c.row_hash)
        .order_by(audit_events.c.seq.desc())
        .limit(1)
    ).first()
    seq, prev_hash = (last.seq + 1, last.row_hash) if last else (1, GENESIS_HASH)
    origin = _ORIGIN.get()
    unsigned = AuditEvent(
        seq=seq,
        at=utc_now(),
        actor=actor,
        action=action,
        target=target,
        before=canonical_json(before),
        after=canonical_json(after),
        prev_hash=prev_hash,
        row_hash="",
        via=None if origin is None else origin.via,
        client=None if origin is None else origin.client,
    )
    event = replace(unsigned, row_hash=event_hash(prev_hash, unsigned.hashed_fields()))
    conn.execute(audit_events.insert().values(**asdict(event)))
    return event
