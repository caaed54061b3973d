"""The authenticated caller of one request and the check of its permissions."""

from __future__ import annotations

__all__ = ["Grant", "Principal"]

from dataclasses import dataclass

from shipline.errors import ForbiddenError
from shipline.identity.role import ANY_MODEL, Permission, Role, parse_role, permits


@dataclass(frozen=True)
class Grant:
    """A role held on one model, or on every model (``*``)."""

    role: Role
    model: str = ANY_MODEL

    @classmethod
    def parse(cls, role: str, model: str | None = None) -> Grant:
        """A grant from text a person typed: a role name, and a model name or ``*`` (every
        model, also when none is given); a clear error for either one unknown or unsafe."""
        from shipline.types import check_name

        target = (model or "").strip() or ANY_MODEL
        return cls(
            parse_role(role), target if target == ANY_MODEL else check_name(target, "model name")
        )

    def covers(self, model: str | None) -> bool:
        """Whether the grant applies to ``model`` (``None``: an operation on no one model,
        which only a grant on every model covers)."""
        return self.model in (ANY_MODEL, model)


@dataclass(frozen=True)
class Principal:
    """Who is calling, how that was proven (``token 12``, ``oidc <subject>``) and what they
    may do."""

    name: str
    via: str
    grants: tuple[Grant, ...]
    token_id: int | None = None

    def may(self, permission: Permission, model: str | None = None) -> bool:
        """Whether any grant covering ``model`` permits ``permission``."""
        return any(g.covers(model) and permits(g.role, permission) for g in self.grants)

    def require_somewhere(self, permission: Permission) -> None:
        """Raise ``ForbiddenError`` unless some grant, on any model, permits ``permission``:
        checked before looking a thing up by id, so a refusal never says whether it exists."""
        if not any(permits(g.role, permission) for g in self.grants):
            self._refuse(permission, None)

    def require(self, permission: Permission, model: str | None = None) -> None:
        """Raise ``ForbiddenError`` unless the principal may do ``permission`` on ``model``."""
        if not self.may(permission, model):
            self._refuse(permission, model)

    def _refuse(self, permission: Permission, model: str | None) -> None:
        scope = f" on model {model!r}" if model else ""
        raise ForbiddenError(
            f"{self.name!r} may not {permission}{scope}: no role of theirs grants it"
        )
