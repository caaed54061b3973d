"""Request bodies of the management API (validated by pydantic; unknown fields refused)."""

from __future__ import annotations

__all__ = [
    "ConfigBody",
    "DecisionBody",
    "GrantBody",
    "PromoteBody",
    "ReasonBody",
    "TokenBody",
    "UserBody",
    "needs",
]

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shipline.identity import Permission

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


def needs(permission: Permission | str) -> dict[str, Any]:
    """Route options stating the permission the route requires in the OpenAPI document
    (``x-permission``), where the permission-matrix test reads it."""
    return {"openapi_extra": {"x-permission": str(permission)}}
