"""``shipline status``: one screen per model, gathered from the store in one place."""

from __future__ import annotations

__all__ = ["model_status"]

from datetime import datetime
from typing import Any

from shipline.config import ModelConfig
from shipline.config.schema import parse_duration
from shipline.config.trigger_kind import TRIGGER_KINDS
from shipline.controller.reconcile import last_controller_run
from shipline.controller.trigger_event import list_events, pending_events
from shipline.controller.trigger_watch import get_watch
from shipline.monitoring.alarm import list_alarms
from shipline.pipeline.run_record import list_runs
from shipline.registry import list_approvals, versions_of
from shipline.registry.applied_config import latest_applied
from shipline.store import Database, parse_stamp


def model_status(db: Database, model: str, now: datetime) -> dict[str, Any]:
    """Versions behind each alias, last run and its trigger, open alarms, pending approvals,
    pending triggers and the next scheduled events of one model."""
    versions = versions_of(db, model)
    aliases = {alias: v.version for v in versions for alias in v.aliases}
    runs = list_runs(db, model, 1)
    applied = latest_applied(db, model)
    last_run = None
    if runs:
        run = runs[0]
        served = [e.to_dict() for e in list_events(db, model, 200) if e.run_id == run.id]
        last_run = {
            "id": run.id,
            "status": run.status,
            "trigger": run.trigger,
            "started_at": run.started_at,
            "version": run.model_version,
            "events": served,
        }
    return {
        "model": model,
        "applied_config": None
        if applied is None
        else {"version": applied.version, "at": applied.applied_at, "by": applied.applied_by},
        "aliases": dict(sorted(aliases.items())),
        "latest_version": versions[-1].version if versions else None,
        "last_run": last_run,
        "open_alarms": [a.to_dict() for a in list_alarms(db, False, model)],
        "pending_approvals": [
            a.to_dict() for a in list_approvals(db, "pending") if a.model == model
        ],
        "pending_triggers": [e.to_dict() for e in pending_events(db, model)],
        "problem": get_watch(db, model, "problem"),
        "next": [] if applied is None else _next_events(db, applied.document, now),
    }


def _next_events(db: Database, document: dict[str, Any], now: datetime) -> list[dict[str, str]]:
    from croniter import croniter
    from pydantic import ValidationError

    try:
        config = ModelConfig.model_validate(document)
    except ValidationError:
        return []
    upcoming = []
    for trigger in config.retraining.triggers:
        at = TRIGGER_KINDS.get(trigger.kind).next_at(trigger.value, now)
        if at is not None:
            event = f"retrain ({trigger.kind} {trigger.value})"
            upcoming.append({"event": event, "at": at.isoformat()})
    if config.monitoring.schedule:
        at = croniter(config.monitoring.schedule, now).get_next(datetime)
        upcoming.append({"event": "monitoring", "at": at.isoformat()})
    if config.retraining.cooldown:
        last = last_controller_run(list_runs(db, config.name, 200))
        if last is not None:
            ends = parse_stamp(last.started_at) + parse_duration(config.retraining.cooldown)
            if ends > now:
                upcoming.append({"event": "cooldown ends", "at": ends.isoformat()})
    return sorted(upcoming, key=lambda e: e["at"])
