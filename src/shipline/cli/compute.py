"""``shipline compute``: where training, batch scoring and monitoring run."""

from __future__ import annotations

__all__ = ["app"]

from typing import Annotated

import typer

from shipline.cli.output import print_json
from shipline.project import Project

app = typer.Typer(help="Where the heavy work runs: this process or a Dask cluster.")


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The compute in use (shipline.yaml's compute:, or SHIPLINE_DASK) and its workers."""
    project: Project = ctx.obj
    state = project.compute_status()
    if as_json:
        print_json(
            {
                "where": state.where,
                "chosen_by": state.source,
                "workers": [
                    {
                        "address": w.address,
                        "name": w.name,
                        "threads": w.threads,
                        "memory_limit": w.memory_limit,
                        "memory_used": w.memory_used,
                    }
                    for w in state.workers
                ],
            }
        )
        return
    typer.echo(f"compute: {state.where} (from {state.source})")
    if state.workers:
        from rich.console import Console
        from rich.table import Table

        table = Table("worker", "address", "threads", "memory used", "memory limit")
        for w in state.workers:
            table.add_row(
                w.name, w.address, str(w.threads), _size(w.memory_used), _size(w.memory_limit)
            )
        Console().print(table)


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
