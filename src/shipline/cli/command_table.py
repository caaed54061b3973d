"""Where each ``shipline`` verb is defined, loaded only when it is used.

Building every verb up front (importing its module and turning its signature into click
parameters) cost ~35 ms of every command, 28 of them in typer turning ~60 signatures into
click commands. The root group lists the verbs from this table and builds the one asked for;
help builds them all, as before.
"""

from __future__ import annotations

__all__ = ["COMMANDS", "LazyCommands"]

import importlib
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

# The contexts and commands below are typer's own click classes (typer vendors click), which
# it does not export: typed as Any.

# Verb → (module in shipline.cli, attribute): a function is one command, a Typer a group of
# them. In help's order: the commands, then the groups.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "init"),
    "validate": ("validate", "validate"),
    "run": ("run", "run"),
    "ci": ("run", "ci"),
    "promote": ("models", "promote"),
    "rollback": ("models", "rollback"),
    "approve": ("models", "approve"),
    "reject": ("models", "reject"),
    "approvals": ("models", "approvals"),
    "serve": ("serving", "serve"),
    "predict": ("serving", "predict"),
    "drift": ("drift", "drift"),
    "alarms": ("monitor", "alarms"),
    "plan": ("delivery", "plan"),
    "apply": ("delivery", "apply"),
    "controller": ("delivery", "controller"),
    "status": ("delivery", "status"),
    "build": ("image", "build"),
    "server": ("team", "server"),
    "login": ("team", "login"),
    "logout": ("team", "logout"),
    "whoami": ("team", "whoami"),
    "runs": ("runs", "app"),
    "cache": ("run", "app"),
    "data": ("data", "app"),
    "models": ("models", "app"),
    "rollout": ("rollout", "app"),
    "labels": ("serving", "labels_app"),
    "monitor": ("monitor", "app"),
    "audit": ("audit", "app"),
    "compute": ("compute", "app"),
    "k8s": ("kubernetes", "app"),
    "container": ("image", "container_app"),
    "users": ("team", "users_app"),
    "tokens": ("team", "tokens_app"),
}


class LazyCommands(TyperGroup):
    """The root group: lists every verb of ``COMMANDS``, builds one when it is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._built: dict[str, Any] = {}

    def list_commands(self, ctx: Any) -> list[str]:
        """Every verb, in help's order."""
        return list(dict.fromkeys([*super().list_commands(ctx), *COMMANDS]))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """The verb ``args`` start with; for an unknown one, typer's error with close names."""
        if args and args[0] not in COMMANDS and args[0] not in self.commands:
            # typer suggests close names from ``self.commands``: only a typo pays to fill it.
            for name in COMMANDS:
                self.commands.setdefault(name, self.get_command(ctx, name))
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The verb ``cmd_name``, built on first use (None when there is no such verb)."""
        found = super().get_command(ctx, cmd_name) or self._built.get(cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        module, attribute = COMMANDS[cmd_name]
        defined = getattr(importlib.import_module(f"shipline.cli.{module}"), attribute)
        command = self._built[cmd_name] = _as_child(cmd_name, defined)
        return command


def _as_child(name: str, defined: Any) -> Any:
    """``defined`` (a function or a Typer) built exactly as typer builds a verb of the root."""
    # Through a stand-in root with the real root's settings, so that groups get the same help
    # style and no completion options of their own, and a group of one command stays a group.
    root = typer.Typer(rich_markup_mode=None, add_completion=False)
    root.callback()(_no_options)
    if isinstance(defined, typer.Typer):
        root.add_typer(defined, name=name)
    else:
        root.command(name)(defined)
    built = typer.main.get_command(root)
    assert isinstance(built, TyperGroup)
    return built.commands[name]


def _no_options() -> None:
    """The stand-in root's callback (a root with a callback is always a group)."""
