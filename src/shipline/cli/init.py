"""``shipline init``: scaffold a working project."""

from __future__ import annotations

__all__ = ["init"]

from pathlib import Path
from typing import Annotated

import typer


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to create the project in.")],
    task: Annotated[
        str, typer.Option("--task", help="classification (breast cancer) or regression (diabetes).")
    ] = "classification",
) -> None:
    """Create a project: shipline.yaml, a scikit-learn dataset as CSV, a README."""
    from shipline.scaffold import create_project

    written = create_project(folder, task)
    for path in written:
        typer.echo(f"wrote {path}")
    typer.echo(f"next: cd {folder} && shipline run")
