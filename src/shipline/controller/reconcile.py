"""One controller pass over one applied model: watch, monitor, guard, run, deliver.

Order, per model: fail runs orphaned by a dead controller (once their lease has expired), run
the scheduled monitoring job (it may open alarms), record the triggers that fired, and, if
events are pending and the guards allow, take the model's lease and run the pipeline once for
all of them. The gates decide; a passing version is staged by the pipeline and the controller
asks for production, which ``deployment.approval`` moves at once or leaves pending for a person.
Failures are recorded and notified; nothing here stops the pass for other models.
"""

from __future__ import annotations

__all__ = ["Controls", "ModelPass", "last_controller_run", "reconcile_model"]

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from shipline.config import ModelConfig
from shipline.config.schema import parse_duration
from shipline.controller.controller_state import ControllerState
from shipline.controller.lease import HeldLease
from shipline.controller.trigger_event import TriggerEvent
from shipline.controller.trigger_watch import detect_triggers, latest_tick
from shipline.errors import ShiplineError
from shipline.monitoring.notification import notify
from shipline.pipeline import RunRecord
from shipline.registry.applied_config import AppliedConfig
from shipline.store import parse_stamp, stamp


@dataclass
class ModelPass:
    """What one pass did for one model."""

    model: str
    new_events: list[int] = field(default_factory=list)
    run: int | None = None
    run_status: str | None = None
    monitor_report: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Controls:
    """Which controller process holds leases, and for how long (who it acts as is its
    state's ``actor``)."""

    holder: str
    lease_ttl: timedelta


def reconcile_model(
    state: ControllerState, applied: AppliedConfig, controls: Controls, now: datetime
) -> ModelPass:
    """Reconcile one model at ``now`` (an injected clock for triggers and schedules)."""
    from pydantic import ValidationError

    result = ModelPass(applied.model)
    try:
        config = ModelConfig.model_validate(applied.document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        _problem(
            state,
            applied.model,
            None,
            f"applied config version {applied.version} no longer "
            f"validates: {where}: {first['msg']}; fix shipline.yaml and apply it again",
        )
        result.notes.append("applied config does not validate")
        return result
    _recover_orphans(state, config, controls, result)
    problems: list[str] = []
    _scheduled_monitoring(state, config, now, result, problems)
    _rollouts(state, config, controls, now, result, problems)
    events, broken = detect_triggers(state, applied, config, now)
    result.new_events = [e.id for e in events]
    problems += broken
    _problem(state, config.name, config, "; ".join(problems) or None)
    pending = state.events(config.name)
    if pending:
        _run_if_allowed(state, config, applied, controls, now, pending, result)
    return result


def _rollouts(
    state: ControllerState,
    config: ModelConfig,
    controls: Controls,
    now: datetime,
    result: ModelPass,
    problems: list[str],
) -> None:
    """Judge the model's running rollouts, one controller at a time (a lease per model)."""
    from shipline.controller.rollout_driver import drive_rollouts

    if not any(r.status == "running" for r in state.active_rollouts(config.name)):
        return
    name = f"rollout:{config.name}"
    if state.acquire(name, controls.holder, controls.lease_ttl) is not None:
        return  # another controller judges this model's rollouts
    try:
        result.notes += drive_rollouts(state, config, now)
    except Exception as error:  # one model's rollout must not stop the pass
        problems.append(f"judging its rollout failed: {type(error).__name__}: {error}")
    finally:
        state.release(name, controls.holder)


def _run_if_allowed(
    state: ControllerState,
    config: ModelConfig,
    applied: AppliedConfig,
    controls: Controls,
    now: datetime,
    pending: list[TriggerEvent],
    result: ModelPass,
) -> None:
    """The guards: cooldown since the last controller run, then one run at a time (lease)."""
    last = last_controller_run(state.runs(config.name, 200))
    if config.retraining.cooldown and last is not None:
        ready = parse_stamp(last.started_at) + parse_duration(config.retraining.cooldown)
        if now < ready:
            result.notes.append(
                f"cooldown until {ready:%Y-%m-%dT%H:%M:%SZ}; {len(pending)} pending"
            )
            return
    name = f"model:{config.name}"
    holder = state.acquire(name, controls.holder, controls.lease_ttl)
    if holder is not None:
        result.notes.append(f"another controller ({holder}) holds {name}")
        return
    with HeldLease(state, name, controls.holder, controls.lease_ttl):
        # Another controller may have served these events between our read and the lease.
        pending = [e for e in state.events(config.name) if e.id in {p.id for p in pending}]
        if pending:
            _run(state, config, applied, pending, result)


def _run(
    state: ControllerState,
    config: ModelConfig,
    applied: AppliedConfig,
    events: list[TriggerEvent],
    result: ModelPass,
) -> None:
    ids = [e.id for e in events]
    trigger = ("controller: " + ", ".join(f"{e.kind}#{e.id}" for e in events))[:100]
    state.set_status(ids, "started")
    try:
        run = state.train(
            config,
            Path(applied.project_dir),
            trigger,
            on_start=lambda run_id: state.set_status(ids, "started", run_id),
        )
    except ShiplineError as error:
        state.set_status(ids, "failed", None, str(error))
        _notify(config, "run.failed", {"model": config.name, "events": ids, "error": str(error)})
        result.run_status = "failed"
        result.notes.append(str(error))
        return
    result.run, result.run_status = run.id, run.status
    _deliver(state, config, run, ids, result)


def _deliver(
    state: ControllerState,
    config: ModelConfig,
    run: RunRecord,
    ids: list[int],
    result: ModelPass,
) -> None:
    """After a run: gates passed → ask for production; rejected or failed → notify."""
    if run.status == "succeeded" and run.model_version is not None:
        promotion = state.promote(  # under the applied policy, read where the alias moves
            config.name,
            run.model_version,
            "production",
            f"retrained by the controller (run {run.id}: {run.trigger})",
        )
        if promotion.moved:
            detail = "production moved"
        elif promotion.approval is not None:
            detail = f"approval {promotion.approval.id} pending"
        else:
            detail = f"production already is version {run.model_version}"
        state.set_status(ids, "done", run.id, f"version {run.model_version}; {detail}")
        staging = [v for v in state.versions(config.name) if "staging" in v.aliases]
        staged = bool(staging) and staging[0].version == run.model_version
        # Say what happened: "staged" only when staging holds the new version.
        done = "staged" if staged else "registered (staging not moved)"
        result.notes.append(f"{config.name}:{run.model_version} {done}; {detail}")
        return
    status = "done" if run.status == "rejected" else "failed"
    reason = run.error or "gates rejected the candidate"
    problem = _notify(
        config,
        f"run.{run.status}",
        {"model": config.name, "run": run.id, "events": ids, "reason": reason},
    )
    state.set_status(ids, status, run.id, reason + (f"; {problem}" if problem else ""))


def _recover_orphans(
    state: ControllerState, config: ModelConfig, controls: Controls, result: ModelPass
) -> None:
    """Events a dead controller started: fail its unfinished run, or deliver a finished one."""
    started = state.events(config.name, ("started",))
    if not started:
        return
    name = f"model:{config.name}"
    if state.acquire(name, controls.holder, controls.lease_ttl) is not None:
        return  # its controller is alive and still renewing the lease
    try:
        by_run: dict[int | None, list[int]] = {}
        for event in started:
            by_run.setdefault(event.run_id, []).append(event.id)
        for run_id, ids in by_run.items():
            run = None if run_id is None else state.get_run(run_id)
            if run is not None and run.status != "running":
                result.notes.append(f"delivered run {run.id} of a controller that stopped")
                _deliver(state, config, run, ids, result)
                continue
            reason = "the controller running it stopped (its lease expired) before it finished"
            if run is not None:
                state.fail_run(run.id, reason)
            state.set_status(ids, "failed", run_id, reason)
            _notify(config, "run.failed", {"model": config.name, "run": run_id, "reason": reason})
            result.notes.append(f"failed orphaned run {run_id}")
    finally:
        state.release(name, controls.holder)


def _scheduled_monitoring(
    state: ControllerState,
    config: ModelConfig,
    now: datetime,
    result: ModelPass,
    problems: list[str],
) -> None:
    """Run ``monitoring.schedule``'s job when a tick has passed since the last one."""
    from shipline.errors import NotFoundError
    from shipline.monitoring.traffic import TimeWindow

    schedule = config.monitoring.schedule
    if not schedule:
        return
    last = state.watched(config.name, "monitoring")
    if last is not None and latest_tick(schedule, now) <= parse_stamp(last):
        return
    state.watch(config.name, "monitoring", stamp(now))
    served = _served_version(state.versions(config.name))
    if served is None:
        result.notes.append("monitoring: no version holds production or staging yet")
        return
    window = TimeWindow.resolve(parse_duration(config.monitoring.window), now=now)
    try:
        summary = state.monitor(served, config, window)
    except NotFoundError as error:
        result.notes.append(f"monitoring: {error}")
        return
    except ShiplineError as error:
        problems.append(f"monitoring {served.ref}: {error}")
        return
    result.monitor_report = summary.id


def _served_version(versions: list[Any]) -> Any:
    for alias in ("production", "staging"):
        holder = next((v for v in versions if alias in v.aliases), None)
        if holder is not None:
            return holder
    return None


def last_controller_run(runs: list[RunRecord]) -> RunRecord | None:
    """The newest of a model's ``runs`` that a controller started (what cooldown counts from)."""
    return next((r for r in runs if r.trigger.startswith("controller")), None)


def _problem(
    state: ControllerState, model: str, config: ModelConfig | None, problem: str | None
) -> None:
    """Record (audited, notified) a problem once while it lasts; clear it when it is gone."""
    if state.watched(model, "problem") == problem:
        return
    state.watch(model, "problem", problem)
    if problem is None:
        return
    state.record_problem(model, problem)
    payload = {"model": model, "problem": problem}
    if config is None:
        from shipline.config.schema import NotificationsConfig

        notify(NotificationsConfig(), "controller.problem", payload)
    else:
        _notify(config, "controller.problem", payload)


def _notify(config: ModelConfig, event: str, payload: dict[str, Any]) -> str | None:
    return notify(config.notifications, event, payload)
