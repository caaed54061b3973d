"""Rollouts as people see them: status, pause, resume, abort (a part of ``Project``)."""

from __future__ import annotations

__all__ = ["RolloutOperations"]

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shipline.registry.rollout import Rollout
    from shipline.settings import Settings
    from shipline.store import Database


class _Opened(Protocol):
    @property
    def settings(self) -> Settings:
        """Resolved settings."""
        ...

    def db(self, read_only: bool = False) -> Database:
        """The metadata database."""
        ...


class RolloutOperations:
    """A model's rollouts and the controls people have over them."""

    def rollouts(self: _Opened, model: str) -> list[Rollout]:
        """The model's rollouts, newest first."""
        from shipline.registry.rollout import list_rollouts

        return list_rollouts(self.db(read_only=True), model)

    def change_rollout(
        self: _Opened, model: str, alias: str, action: str, reason: str | None = None
    ) -> Rollout:
        """Pause, resume or abort the alias's running rollout (the audit chain records who)."""
        from shipline.registry.rollout import change_rollout

        return change_rollout(self.db(), model, alias, action, self.settings.actor, reason)
