"""Which version held an alias from when to when, who moved it there and who approved it:
an alias's moves, read as the periods between them."""

from __future__ import annotations

__all__ = ["AliasPeriod", "alias_periods"]

import re
from dataclasses import dataclass

from shipline.registry.alias import alias_history
from shipline.registry.approval import get_approval
from shipline.store import Database

_APPROVAL = re.compile(r"^approval (\d+)$")


@dataclass(frozen=True)
class AliasPeriod:
    """One version's time holding the alias (``until`` is None while it still does)."""

    version: int
    since: str
    until: str | None
    how: str  # promote, approval or rollback
    moved_by: str
    approved_by: tuple[str, ...]
    reason: str | None
    asked_by: str | None = None  # who asked for the move, when an approval made it


def alias_periods(db: Database, name: str, alias: str) -> list[AliasPeriod]:
    """Every period of ``name@alias``, oldest first."""
    moves = alias_history(db, name, alias)
    periods = []
    for move, following in zip(moves, [*moves[1:], None][: len(moves)], strict=True):
        approvers: tuple[str, ...] = ()
        asked_by = None
        found = _APPROVAL.match(move.reason or "") if move.kind == "approval" else None
        if found:
            approval = get_approval(db, int(found.group(1)))
            approvers = tuple(d["actor"] for d in approval.decisions if d["decision"] == "approve")
            asked_by = approval.requested_by
        periods.append(
            AliasPeriod(
                move.to_version,
                move.at,
                None if following is None else following.at,
                move.kind,
                move.actor,
                approvers,
                move.reason,
                asked_by,
            )
        )
    return periods
