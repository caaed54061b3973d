"""What the chain vouches for: the registry state replayed from audit events must equal the
state tables, and a checkpoint kept elsewhere proves the chain was not cut short.

A hash chain proves its rows were not altered or removed from the middle. It cannot see a
state change made without an event (one SQL ``UPDATE`` of an alias), nor rows cut from its
end. So ``audit verify`` also replays the events into the state they describe (every version
registered with its bundle digest, every alias holder, every approval decision) and compares
it with the tables; and ``audit checkpoint`` exports the head (sequence number and row hash)
to be kept outside the database, against which ``verify --checkpoint`` proves the head is
still there.
"""

from __future__ import annotations

__all__ = [
    "Checkpoint",
    "Verification",
    "chain_checkpoint",
    "check_checkpoint",
    "state_mismatches",
    "verify_audit",
]

from dataclasses import asdict, dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select

from shipline.errors import UsageError
from shipline.store import Database
from shipline.store.tables import aliases, approvals, audit_events, model_versions, models

_BATCH = 5000


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment: enough to prove later that it was not cut off."""

    seq: int
    row_hash: str
    at: str
    database: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return asdict(self)


def chain_checkpoint(db: Database) -> Checkpoint:
    """The newest audit row's sequence number and hash."""
    with db.read() as conn:
        row = conn.execute(
            select(audit_events.c.seq, audit_events.c.row_hash, audit_events.c.at)
            .order_by(audit_events.c.seq.desc())
            .limit(1)
        ).first()
    if row is None:
        raise UsageError("the audit log is empty; there is nothing to checkpoint")
    return Checkpoint(int(row.seq), str(row.row_hash), str(row.at), db.shown_url)


def check_checkpoint(db: Database, document: bytes, source: str) -> str | None:
    """None when the row the checkpoint names is still there with its hash; else why not."""
    try:
        saved = orjson.loads(document)
        seq, row_hash = int(saved["seq"]), str(saved["row_hash"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise UsageError(
            f"{source}: not a checkpoint (expected JSON with seq and row_hash, "
            "as written by shipline audit checkpoint)"
        ) from None
    with db.read() as conn:
        found = conn.execute(
            select(audit_events.c.row_hash).where(audit_events.c.seq == seq)
        ).scalar()
    if found is None:
        return f"checkpoint row {seq} is gone: the chain was cut off after it"
    if found != row_hash:
        return f"checkpoint row {seq} has another hash: the chain was rewritten from there"
    return None


def state_mismatches(db: Database) -> list[str]:
    """Every difference between the registry tables and the state the events describe."""
    with db.read() as conn:
        expected = _replay(conn)
        actual = _tables(conn)
    problems: list[str] = []
    for kind, label in (("versions", "version"), ("aliases", "alias"), ("approvals", "approval")):
        want, have = expected[kind], actual[kind]
        for key in sorted(set(want) | set(have), key=str):
            if want.get(key) == have.get(key):
                continue
            if key not in want:
                problems.append(f"{label} {key} is {have[key]} in the tables with no audit event")
            elif key not in have:
                problems.append(
                    f"{label} {key} is {want[key]} in the audit chain, gone from tables"
                )
            else:
                problems.append(
                    f"{label} {key} is {have[key]} in the tables, {want[key]} in the audit chain"
                )
    return problems


def _replay(conn: Connection) -> dict[str, dict[Any, Any]]:
    state: dict[str, dict[Any, Any]] = {"versions": {}, "aliases": {}, "approvals": {}}
    seq = 0
    while True:
        rows = conn.execute(
            select(
                audit_events.c.seq,
                audit_events.c.action,
                audit_events.c.target,
                audit_events.c.after,
            )
            .where(audit_events.c.seq > seq)
            .order_by(audit_events.c.seq)
            .limit(_BATCH)
        ).all()
        if not rows:
            return state
        for row in rows:
            _apply(state, row.action, row.target, orjson.loads(row.after))
        seq = rows[-1].seq


def _apply(state: dict[str, dict[Any, Any]], action: str, target: str, after: Any) -> None:
    if action == "model.version.register":
        state["versions"][target.removeprefix("model:")] = after["bundle_digest"]
    elif action.startswith("model.alias."):
        state["aliases"][target.removeprefix("model:")] = f"version {after['version']}"
    elif action == "approval.request":
        state["approvals"][f"#{after['approval']}"] = "pending"
    elif action in ("approval.approve", "approval.reject", "approval.supersede"):
        state["approvals"][f"#{target.removeprefix('approval:')}"] = after["status"]


def _tables(conn: Connection) -> dict[str, dict[Any, Any]]:
    versions = conn.execute(
        select(models.c.name, model_versions.c.version, model_versions.c.bundle_digest).join(
            models, models.c.id == model_versions.c.model_id
        )
    ).all()
    holders = conn.execute(
        select(models.c.name, aliases.c.alias, model_versions.c.version)
        .join(models, models.c.id == aliases.c.model_id)
        .join(model_versions, model_versions.c.id == aliases.c.version_id)
    ).all()
    decisions = conn.execute(select(approvals.c.id, approvals.c.status)).all()
    return {
        "versions": {f"{r.name}:{r.version}": r.bundle_digest for r in versions},
        "aliases": {f"{r.name}@{r.alias}": f"version {r.version}" for r in holders},
        "approvals": {f"#{r.id}": r.status for r in decisions},
    }


@dataclass(frozen=True)
class Verification:
    """The chain's integrity, the state it vouches for, and the checkpoint (when given)."""

    checked: int
    head: str
    broken_seq: int | None
    reason: str | None
    state_problems: tuple[str, ...]
    checkpoint_problem: str | None

    @property
    def ok(self) -> bool:
        """True when the chain holds, the tables agree with it and the checkpoint is there."""
        return self.broken_seq is None and not self.state_problems and not self.checkpoint_problem

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {**asdict(self), "state_problems": list(self.state_problems), "ok": self.ok}


def verify_audit(db: Database, checkpoint: tuple[bytes, str] | None = None) -> Verification:
    """Walk the chain, compare the state it describes with the tables, check the checkpoint."""
    from shipline.audit.chain import verify_chain

    chain = verify_chain(db)
    problem = None if checkpoint is None else check_checkpoint(db, *checkpoint)
    return Verification(
        chain.checked,
        chain.head,
        chain.broken_seq,
        chain.reason,
        tuple(state_mismatches(db)),
        problem,
    )
