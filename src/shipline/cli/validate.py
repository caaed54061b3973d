"""``shipline validate``: check shipline.yaml and report every problem at once."""

from __future__ import annotations

__all__ = ["validate"]

from typing import Annotated

import typer

from shipline.cli.output import print_json
from shipline.errors import ConfigError
from shipline.project import Project
from shipline.settings import shown_path


def validate(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check shipline.yaml: every problem with its key path, line, expectation and finding."""
    project: Project = ctx.obj
    path = shown_path(project.settings.config_path)
    try:
        config = project.config()
    except ConfigError as error:
        if as_json:
            problems = [
                {"path": p.path, "line": p.line, "message": p.message} for p in error.problems
            ]
            print_json({"file": error.file, "valid": False, "problems": problems})
            raise typer.Exit(error.exit_code) from None
        raise
    if as_json:
        print_json({"file": str(path), "valid": True, "model": config.name, "problems": []})
    else:
        typer.echo(f"{path}: valid (model {config.name!r}, task {config.training.task})")
