"""Verbs built when used answer exactly as the same verbs registered up front with typer."""

from __future__ import annotations

import importlib

import pytest
import typer
from typer.testing import CliRunner

from shipline.cli.app import app
from shipline.cli.command_table import COMMANDS


def _registered_up_front() -> typer.Typer:
    """The root as it was built before: every verb registered with typer at import."""
    root = typer.Typer(
        name="shipline",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @root.callback()
    def _root() -> None:
        """One shipline.yaml drives a model from data to production and back."""

    for name, (module, attribute) in COMMANDS.items():
        defined = getattr(importlib.import_module(f"shipline.cli.{module}"), attribute)
        if isinstance(defined, typer.Typer):
            root.add_typer(defined, name=name)
        else:
            root.command(name)(defined)
    return root


EAGER = _registered_up_front()


def _help(application: typer.Typer, args: list[str]) -> tuple[int, str]:
    done = CliRunner().invoke(application, args, prog_name="shipline")
    return done.exit_code, done.output


@pytest.mark.parametrize("verb", list(COMMANDS))
def test_each_verb_has_the_help_typer_gives_a_registered_verb(verb: str) -> None:
    lazy = _help(app, [verb, "--help"])
    assert lazy[0] == 0 and f"shipline {verb}" in lazy[1]
    assert lazy == _help(EAGER, [verb, "--help"])


def test_the_root_lists_every_verb_in_order_and_suggests_close_names() -> None:
    lines = _help(app, ["--help"])[1].split("Commands:")[1].splitlines()
    listed = [line.split()[0] for line in lines if line.startswith("  ") and line[2] != " "]
    assert listed == list(COMMANDS)
    code, output = _help(app, ["rn"])
    assert code == 2 and "Did you mean 'run', 'runs'?" in output
    code, output = _help(app, ["runs", "lst"])
    assert code == 2 and "No such command 'lst'" in output
