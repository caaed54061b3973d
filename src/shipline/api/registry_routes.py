"""Versions, aliases, promotions, approvals, rollbacks and applied configs."""

from __future__ import annotations

__all__ = ["router"]

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from shipline.api.bodies import (
    ConfigBody,
    DecisionBody,
    ObservationBody,
    PromoteBody,
    ReasonBody,
    needs,
    validated_config,
)
from shipline.api.credentials import ServerState, caller, state
from shipline.config import ModelConfig
from shipline.errors import NotFoundError, UsageError
from shipline.identity import Permission, Principal
from shipline.registry import AliasMove, Approval, ModelVersion, Promotion
from shipline.registry.alias_period import AliasPeriod
from shipline.registry.applied_config import AppliedConfig, Change
from shipline.registry.rollout import Rollout
from shipline.scoring.serving_source import RolloutView
from shipline.types import parse_reference

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
Server = Annotated[ServerState, Depends(state)]
_Name = Annotated[str, Query(max_length=100)]


def _promotion_permission(alias: str) -> Permission:
    return Permission.PROMOTE_PRODUCTION if alias == "production" else Permission.PROMOTE_STAGING


@router.get("/versions", **needs(Permission.READ))
def list_versions(who: Caller, server: Server, model: _Name | None = None) -> list[ModelVersion]:
    """Registered versions, oldest first (of one model when given)."""
    from shipline.registry import list_model_versions

    who.require(Permission.READ, model)
    return list_model_versions(server.db, model)


@router.get("/versions/{ref}", **needs(Permission.READ))
def get_version(ref: str, who: Caller, server: Server) -> ModelVersion:
    """One version by ``name``, ``name:N`` or ``name@alias``."""
    from shipline.registry import resolve_model_version

    reference = parse_reference(ref, "model")
    who.require(Permission.READ, None if reference is None else reference.name)
    with server.db.read() as conn:
        return resolve_model_version(conn, ref)


@router.get(
    "/versions/{ref}/blobs/{digest}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
    **needs(Permission.READ),
)
def version_blob(ref: str, digest: str, who: Caller, server: Server) -> Response:
    """A file of a version (its bundle, ONNX form, card or signature) by digest, for
    prediction servers in remote mode; they verify the bytes against the digest."""
    from shipline.registry import resolve_model_version

    reference = parse_reference(ref, "model")
    who.require(Permission.READ, None if reference is None else reference.name)
    with server.db.read() as conn:
        version = resolve_model_version(conn, ref)
    onnx = (version.details.get("serving_forms") or {}).get("onnx") or {}
    signed = version.details.get("signed") or {}
    files = {version.bundle_digest, version.card_digest, onnx.get("digest"), signed.get("digest")}
    if digest not in files:
        raise NotFoundError(f"{version.ref} has no file blake3:{digest[:64]}")
    return Response(server.store.read_bytes(digest), media_type="application/octet-stream")


@router.get("/models/{name}/aliases/history", **needs(Permission.READ))
def alias_history(
    name: str, who: Caller, server: Server, alias: _Name | None = None
) -> list[AliasMove]:
    """Every move of the model's aliases (of one alias when given), oldest first."""
    from shipline.registry import alias_history as history

    who.require(Permission.READ, name)
    return history(server.db, name, alias)


@router.get("/models/{name}/aliases/{alias}/periods", **needs(Permission.READ))
def alias_periods(name: str, alias: str, who: Caller, server: Server) -> list[AliasPeriod]:
    """Which version held the alias from when to when, who moved it, who approved it."""
    from shipline.registry.alias_period import alias_periods as periods

    who.require(Permission.READ, name)
    return periods(server.db, name, alias)


@router.get("/models/{name}/aliases/{alias}/rollout", **needs(Permission.READ))
def alias_rollout(name: str, alias: str, who: Caller, server: Server) -> RolloutView | None:
    """The alias's running or paused rollout with its candidate version (null when none)."""
    from shipline.scoring.serving_source import LocalServingSource

    who.require(Permission.READ, name)
    return LocalServingSource(server.db, server.store).rollout(name, alias)


@router.get("/models/{name}/rollouts", **needs(Permission.READ))
def rollouts(name: str, who: Caller, server: Server) -> list[Rollout]:
    """The model's rollouts, newest first, with every verdict and its evidence."""
    from shipline.registry.rollout import list_rollouts

    who.require(Permission.READ, name)
    return list_rollouts(server.db, name)


@router.post("/models/{name}/aliases/{alias}/rollout/{action}", **needs(Permission.ROLL_BACK))
def change_rollout(
    name: str, alias: str, action: str, body: ReasonBody, who: Caller, server: Server
) -> Rollout:
    """Pause, resume or abort the alias's rollout (who may roll the alias back may stop it)."""
    from shipline.registry.rollout import change_rollout as change

    who.require(Permission.ROLL_BACK, name)
    return change(server.db, name, alias, action, who.name, body.reason)


@router.post("/rollouts/observations", status_code=201, **needs(Permission.CAPTURE))
def rollout_observations(
    body: Annotated[list[ObservationBody], Body(max_length=100)], who: Caller, server: Server
) -> dict[str, int]:
    """A prediction server's reports of each rollout version's traffic."""
    from shipline.registry.rollout import get_rollout
    from shipline.registry.rollout_observation import RolloutObservation, record_observations

    who.require_somewhere(Permission.CAPTURE)
    for rollout_id in {o.rollout_id for o in body}:  # a server reports for its own models
        who.require(Permission.CAPTURE, get_rollout(server.db, rollout_id).model)
    reports = [
        RolloutObservation(o.rollout_id, o.role, o.requests, o.errors, tuple(o.latency))
        for o in body
    ]
    try:
        return {"recorded": record_observations(server.db, reports, who.name)}
    except ValueError as error:
        raise UsageError(str(error)) from None


@router.post("/models/{name}/versions/{version}/promote", **needs("promote-<alias>"))
def promote(name: str, version: int, body: PromoteBody, who: Caller, server: Server) -> Promotion:
    """Move an alias, or open an approval when the model's applied policy says manual."""
    from shipline.registry import promote as promote_version

    who.require(_promotion_permission(body.alias), name)
    return promote_version(server.db, name, version, body.alias, who.name, None, body.reason)


@router.post("/models/{name}/aliases/{alias}/rollback", **needs(Permission.ROLL_BACK))
def rollback(name: str, alias: str, body: ReasonBody, who: Caller, server: Server) -> Promotion:
    """Move the alias back to its previous holder, under the promotion policy."""
    from shipline.registry.approval import roll_back

    who.require(Permission.ROLL_BACK, name)
    return roll_back(server.db, name, alias, who.name, body.reason)


@router.get("/approvals", **needs(Permission.READ))
def list_approvals(
    who: Caller, server: Server, status: _Name | None = None, model: _Name | None = None
) -> list[Approval]:
    """Promotion approvals, newest first."""
    from shipline.registry import list_approvals as approvals

    who.require(Permission.READ, model)
    return [a for a in approvals(server.db, status) if model is None or a.model == model]


def _approval_model(server: ServerState, who: Principal, approval_id: int) -> str:
    from shipline.registry.approval import get_approval

    who.require_somewhere(Permission.APPROVE)
    return get_approval(server.db, approval_id).model


@router.post("/approvals/{approval_id}/approve", **needs(Permission.APPROVE))
def approve(approval_id: int, body: DecisionBody, who: Caller, server: Server) -> Approval:
    """Approve a pending promotion (four-eyes: not its authors or requester)."""
    from shipline.registry import approve as approve_promotion

    who.require(Permission.APPROVE, _approval_model(server, who, approval_id))
    return approve_promotion(server.db, approval_id, who.name, body.reason)


@router.post("/approvals/{approval_id}/reject", **needs(Permission.APPROVE))
def reject(approval_id: int, body: DecisionBody, who: Caller, server: Server) -> Approval:
    """Reject a pending promotion for good (a reason is required)."""
    from shipline.registry import reject as reject_promotion

    who.require(Permission.APPROVE, _approval_model(server, who, approval_id))
    return reject_promotion(server.db, approval_id, who.name, body.reason or "")


@router.get("/models/{name}/config", **needs(Permission.READ))
def applied_config(name: str, who: Caller, server: Server) -> AppliedConfig | None:
    """The model's latest applied config (its desired state), if any."""
    from shipline.registry.applied_config import latest_applied

    who.require(Permission.READ, name)
    return latest_applied(server.db, name)


@router.post("/models/{name}/config/plan", **needs(Permission.READ))
def plan(name: str, body: ConfigBody, who: Caller, server: Server) -> list[Change]:
    """What applying the config would change against the applied one."""
    from shipline.registry.applied_config import latest_applied, plan_changes

    who.require(Permission.READ, name)
    config = _validated(name, body)
    latest = latest_applied(server.db, name)
    return plan_changes(None if latest is None else latest.document, config.model_dump(mode="json"))


@router.post("/models/{name}/config/apply", **needs(Permission.APPLY))
def apply(name: str, body: ConfigBody, who: Caller, server: Server) -> dict[str, Any]:
    """Record the config as the model's desired state (a new version when it changed)."""
    from shipline.registry.applied_config import apply_config

    who.require(Permission.APPLY, name)
    config = _validated(name, body)
    applied, changes = apply_config(
        server.db, config, body.source, Path(body.project_dir), who.name
    )
    return {"applied": applied, "changes": changes}


def _validated(name: str, body: ConfigBody) -> ModelConfig:
    if not Path(body.project_dir).is_absolute():
        raise UsageError(f"project_dir must be an absolute path, got {body.project_dir!r}")
    config = validated_config(body.document)
    if config.name != name:
        raise UsageError(f"the config is for model {config.name!r}, not {name!r}")
    return config
