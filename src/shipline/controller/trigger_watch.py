"""What changed since the controller last looked, through each configured trigger kind.

Watched values live in ``watch_state`` per model, so a restarted controller carries on where
the last one stopped. Each change becomes a trigger event whose key names it (a tick, a digest,
an alarm id); recording is idempotent, so a change seen twice fires once. What each kind
watches is its own business (``shipline.controller.trigger_kinds`` for shipline's kinds); this
module hands every kind a ``TriggerWatch`` over the store.
"""

from __future__ import annotations

__all__ = ["WatchedFileError", "detect_triggers", "get_watch", "latest_tick", "set_watch"]

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from shipline.config import ModelConfig
from shipline.config.trigger_kind import TRIGGER_KINDS, OpenAlarm, WatchedFileError
from shipline.controller.controller_state import ControllerState
from shipline.controller.trigger_event import TriggerEvent
from shipline.controller.trigger_kinds import latest_tick
from shipline.registry.applied_config import AppliedConfig
from shipline.store import Database, upsert
from shipline.store.tables import watch_state

_ACTOR = "controller"


def get_watch(db: Database, model: str, name: str) -> Any:
    """A watched value (JSON), or None."""
    with db.read() as conn:
        value = conn.execute(
            select(watch_state.c.value).where(
                watch_state.c.model == model, watch_state.c.name == name
            )
        ).scalar()
    return None if value is None else orjson.loads(value)


def set_watch(db: Database, model: str, name: str, value: Any) -> None:
    """Remember a watched value."""
    with db.write(_ACTOR) as tx:
        tx.conn.execute(
            upsert(db.dialect, watch_state, ["model", "name"]),
            [{"model": model, "name": name, "value": orjson.dumps(value).decode()}],
        )


def detect_triggers(
    state: ControllerState, applied: AppliedConfig, config: ModelConfig, now: datetime
) -> tuple[list[TriggerEvent], list[str]]:
    """Record an event for every trigger that fired since the last look.

    Returns the new events and the problems of triggers that could not be checked (a missing
    file); one broken trigger does not keep the others from being checked.
    """
    problems: list[str] = []
    watch = _StateWatch(state, config, Path(applied.project_dir), applied.applied_at, now)
    for trigger in config.retraining.triggers:
        watch.kind = trigger.kind
        try:
            TRIGGER_KINDS.get(trigger.kind).look(trigger.value, watch)
        except WatchedFileError as error:
            problems.append(str(error))
    return watch.fired, problems


@dataclass
class _StateWatch:
    """A ``TriggerWatch`` over the controller's state, for one model and one look."""

    state: ControllerState
    config: ModelConfig
    project_dir: Path
    applied_at: str
    now: datetime
    kind: str = ""
    fired: list[TriggerEvent] = field(default_factory=list)

    def remembered(self, name: str) -> Any:
        return self.state.watched(self.config.name, name)

    def remember(self, name: str, value: Any) -> None:
        self.state.watch(self.config.name, name, value)

    def fire(self, key: str, evidence: dict[str, Any], skipped: str | None = None) -> None:
        status = "pending" if skipped is None else "skipped"
        event = self.state.record_event(self.config.name, self.kind, key, evidence, status, skipped)
        if event is not None and skipped is None:
            self.fired.append(event)

    def has_versions(self) -> bool:
        return bool(self.state.versions(self.config.name))

    def open_alarms(self) -> Sequence[OpenAlarm]:
        return self.state.open_alarms(self.config.name)
