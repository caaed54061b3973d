"""What a controller in remote mode reads and changes: applied configs, watched values,
trigger events, leases, problems, runs it must close."""

from __future__ import annotations

__all__ = ["router"]

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from shipline.api.bodies import needs
from shipline.api.credentials import ServerState, caller, state
from shipline.controller.trigger_event import EventStatus, TriggerEvent
from shipline.identity import Permission, Principal
from shipline.monitoring.rollout_evidence import RolloutEvidence
from shipline.registry.applied_config import AppliedConfig
from shipline.registry.rollout import Rollout

router = APIRouter(prefix="/controller")
Caller = Annotated[Principal, Depends(caller)]
Server = Annotated[ServerState, Depends(state)]
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WatchBody(_Body):
    """A watched value (any JSON)."""

    value: Any = None


class EventBody(_Body):
    """A trigger that fired."""

    kind: str = Field(pattern=_NAME)
    key: str = Field(max_length=500)
    evidence: dict[str, Any]
    status: EventStatus = EventStatus.PENDING
    detail: str | None = Field(default=None, max_length=10_000)


class StatusBody(_Body):
    """Events moving to a status, with the run that served them."""

    ids: list[int] = Field(max_length=10_000)
    status: EventStatus
    run_id: int | None = None
    detail: str | None = Field(default=None, max_length=10_000)


class LeaseBody(_Body):
    """Take or renew a lease for this long."""

    holder: str = Field(max_length=200)
    ttl_s: float = Field(gt=0, le=86_400)


class ProblemBody(_Body):
    """What keeps the controller from doing its job for a model."""

    problem: str = Field(max_length=10_000)


@router.get("/configs", **needs(Permission.READ))
def applied_configs(who: Caller, server: Server) -> list[AppliedConfig]:
    """Every model's latest applied config."""
    from shipline.registry.applied_config import list_applied

    who.require(Permission.READ)
    return list_applied(server.db)


@router.get("/{model}/watch/{name}", **needs(Permission.CONTROL))
def watched(model: str, name: str, who: Caller, server: Server) -> WatchBody:
    """A value the controller remembers for a model."""
    from shipline.controller.trigger_watch import get_watch

    who.require(Permission.CONTROL, model)
    return WatchBody(value=get_watch(server.db, model, name))


@router.put("/{model}/watch/{name}", **needs(Permission.CONTROL))
def watch(model: str, name: str, body: WatchBody, who: Caller, server: Server) -> WatchBody:
    """Remember a value for a model."""
    from shipline.controller.trigger_watch import set_watch
    from shipline.types import check_name

    who.require(Permission.CONTROL, model)
    set_watch(server.db, check_name(model, "model name"), check_name(name, "name"), body.value)
    return body


@router.post("/{model}/events", **needs(Permission.CONTROL))
def record_event(model: str, body: EventBody, who: Caller, server: Server) -> TriggerEvent | None:
    """Record a trigger event unless its key was seen; the new event, or null."""
    from shipline.controller.trigger_event import record_event as record
    from shipline.types import check_name

    who.require(Permission.CONTROL, model)
    return record(
        server.db,
        who.name,
        check_name(model, "model name"),
        body.kind,
        body.key,
        body.evidence,
        body.status,
        body.detail,
    )


@router.get("/{model}/events", **needs(Permission.CONTROL))
def events(
    model: str,
    who: Caller,
    server: Server,
    status: Annotated[list[EventStatus] | None, Query()] = None,
) -> list[TriggerEvent]:
    """The model's events in these statuses (default: pending), oldest first."""
    from shipline.controller.trigger_event import pending_events

    who.require(Permission.CONTROL, model)
    return pending_events(server.db, model, tuple(status or [EventStatus.PENDING]))


@router.post("/events/status", **needs(Permission.CONTROL))
def set_status(body: StatusBody, who: Caller, server: Server) -> dict[str, int]:
    """Move events to a status; each event's model must be the caller's to control."""
    from shipline.controller.trigger_event import models_of
    from shipline.controller.trigger_event import set_status as move

    who.require_somewhere(Permission.CONTROL)
    known = models_of(server.db, body.ids)
    for model in set(known.values()):
        who.require(Permission.CONTROL, model)
    move(server.db, who.name, list(known), body.status, body.run_id, body.detail)
    return {"moved": len(known)}


def _lease_model(name: str) -> str | None:
    return name.removeprefix("model:") if name.startswith("model:") else None


@router.post("/leases/{name}", **needs(Permission.CONTROL))
def acquire(name: str, body: LeaseBody, who: Caller, server: Server) -> dict[str, str | None]:
    """Take or renew a lease: ``holder`` null when this caller holds it now."""
    from datetime import timedelta

    from shipline.controller.lease import acquire as take

    who.require(Permission.CONTROL, _lease_model(name))
    return {"holder": take(server.db, name, body.holder, timedelta(seconds=body.ttl_s))}


@router.delete("/leases/{name}", **needs(Permission.CONTROL))
def release(
    name: str, who: Caller, server: Server, holder: Annotated[str, Query(max_length=200)]
) -> dict[str, bool]:
    """Give a lease up (if ``holder`` still has it)."""
    from shipline.controller.lease import release as give_up

    who.require(Permission.CONTROL, _lease_model(name))
    give_up(server.db, name, holder)
    return {"released": True}


@router.post("/{model}/problem", **needs(Permission.CONTROL))
def record_problem(model: str, body: ProblemBody, who: Caller, server: Server) -> ProblemBody:
    """Put a controller problem in the audit log."""
    who.require(Permission.CONTROL, model)
    with server.db.write(who.name) as tx:
        tx.record("controller.problem", f"model:{model}", None, {"problem": body.problem})
    return body


@router.post("/runs/{run_id}/fail", **needs(Permission.CONTROL))
def fail_run(run_id: int, body: ProblemBody, who: Caller, server: Server) -> dict[str, int]:
    """Close a run its controller left running (it stopped before the run finished)."""
    from shipline.errors import ConflictError
    from shipline.pipeline.run_record import finish_run, get_run

    who.require_somewhere(Permission.CONTROL)
    run = get_run(server.db, run_id)
    who.require(Permission.CONTROL, run.model)
    if run.status != "running":
        raise ConflictError(f"run {run_id} is {run.status}, not running")
    finish_run(server.db, who.name, run_id, "failed", {}, body.problem, None)
    return {"run": run_id}


class VerdictBody(_Body):
    """A controller's verdict on a rollout step it judged (phase and step as it saw them)."""

    phase: str = Field(pattern=r"^(shadow|canary)$")
    step: int = Field(ge=0, le=100)
    outcome: str = Field(pattern=r"^(hold|advance|rollback)$")
    verdict: dict[str, Any]


@router.get("/{model}/rollouts", **needs(Permission.CONTROL))
def active_rollouts(model: str, who: Caller, server: Server) -> list[Rollout]:
    """The model's running or paused rollouts."""
    from shipline.registry.rollout import list_rollouts

    who.require(Permission.CONTROL, model)
    return [r for r in list_rollouts(server.db, model) if r.active]


@router.get("/rollouts/{rollout_id}/evidence", **needs(Permission.CONTROL))
def rollout_evidence(rollout_id: int, who: Caller, server: Server) -> RolloutEvidence:
    """The evidence of the rollout's current step until now (computed here, beside the data)."""
    from datetime import UTC, datetime

    from shipline.monitoring.rollout_evidence import gather_evidence
    from shipline.registry.rollout import get_rollout

    who.require_somewhere(Permission.CONTROL)
    rollout = get_rollout(server.db, rollout_id)
    who.require(Permission.CONTROL, rollout.model)
    return gather_evidence(server.db, server.store, rollout, datetime.now(UTC))


@router.post("/rollouts/{rollout_id}/verdicts", **needs(Permission.CONTROL))
def conclude_rollout_step(
    rollout_id: int, body: VerdictBody, who: Caller, server: Server
) -> Rollout:
    """Record the verdict on the step the controller judged, and act on it."""
    from dataclasses import replace

    from shipline.monitoring.rollout_evidence import conclude_step
    from shipline.registry.rollout import get_rollout

    who.require_somewhere(Permission.CONTROL)
    rollout = get_rollout(server.db, rollout_id)
    who.require(Permission.CONTROL, rollout.model)
    judged = replace(rollout, phase=body.phase, step=body.step)
    return conclude_step(server.db, judged, body.outcome, body.verdict, who.name)
