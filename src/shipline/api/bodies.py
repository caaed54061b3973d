"""Request bodies of the management API (validated by pydantic; unknown fields refused)."""

from __future__ import annotations

__all__ = [
    "ConfigBody",
    "DecisionBody",
    "DigestsBody",
    "GrantBody",
    "MonitorBody",
    "ObservationBody",
    "PromoteBody",
    "ReasonBody",
    "RunUploadBody",
    "TokenBody",
    "UserBody",
    "needs",
    "validated_config",
]

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shipline.config import ModelConfig
from shipline.data.dataset_version import DatasetVersion
from shipline.identity import Permission
from shipline.pipeline.run_record import StepRecord

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObservationBody(_Body):
    """What one prediction server saw of one role's traffic in a rollout."""

    rollout_id: int = Field(ge=1)
    role: Literal["stable", "canary", "shadow"]
    requests: int = Field(ge=0, le=10**9)
    errors: int = Field(ge=0, le=10**9)
    latency: list[int] = Field(min_length=1, max_length=100)


class PromoteBody(_Body):
    """Move an alias to a version (or ask for approval to)."""

    alias: str = Field(pattern=_NAME)
    reason: str | None = Field(default=None, max_length=2000)


class ReasonBody(_Body):
    """Why (optional)."""

    reason: str | None = Field(default=None, max_length=2000)


class DecisionBody(_Body):
    """An approver's decision and why."""

    reason: str | None = Field(default=None, max_length=2000)


class ConfigBody(_Body):
    """A shipline.yaml: its text, the document it resolves to on the client (environment
    references filled in there, never from the server's environment) and the project folder
    the controller runs it in."""

    source: str = Field(max_length=1_000_000)
    document: dict[str, Any]
    project_dir: str = Field(max_length=4096)


class GrantBody(_Body):
    """A role on one model, or on every model (``*``)."""

    role: str
    model: str = Field(default="*", pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]{0,99})$")


class UserBody(_Body):
    """A new user and the roles they start with."""

    name: str = Field(pattern=_NAME)
    roles: list[GrantBody] = Field(default_factory=list, max_length=100)


class TokenBody(_Body):
    """A new token (for yourself unless ``user`` names someone else: admins only)."""

    name: str = Field(pattern=_NAME)
    expires_days: int | None = Field(default=90, ge=1, le=3650)
    user: str | None = Field(default=None, pattern=_NAME)


def validated_config(document: dict[str, Any]) -> ModelConfig:
    """A shipline.yaml document sent by a client, validated here; problems name their path."""
    from pydantic import ValidationError

    from shipline.errors import ConfigError, Problem

    try:
        return ModelConfig.model_validate(document)
    except ValidationError as error:
        problems = [
            Problem(".".join(str(p) for p in e["loc"]), e["msg"])
            for e in error.errors(include_url=False)
        ]
        raise ConfigError("shipline.yaml", problems) from None


def needs(permission: Permission | str) -> dict[str, Any]:
    """Route options stating the permission the route requires in the OpenAPI document
    (``x-permission``), where the permission-matrix test reads it."""
    return {"openapi_extra": {"x-permission": str(permission)}}


class DigestsBody(_Body):
    """Content digests (BLAKE3, hex)."""

    digests: list[str] = Field(max_length=100_000)


class RunUploadBody(_Body):
    """The training steps a remote-mode client ran, their outputs uploaded before."""

    config: dict[str, Any]
    trigger: str = Field(default="manual", max_length=200)
    lineage: dict[str, Any]
    params: dict[str, Any]
    steps: list[StepRecord] = Field(max_length=10)
    dataset: DatasetVersion | None = None
    error: str | None = Field(default=None, max_length=200_000)


class MonitorBody(_Body):
    """Monitor a version's served traffic over a window (the model's applied monitoring
    settings decide the rest)."""

    ref: str = Field(max_length=200)
    window: str | None = Field(default=None, max_length=20)
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)
    histograms: bool = False
