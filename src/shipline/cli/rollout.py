"""``shipline rollout``: where a version's rollout stands, and pausing, resuming or aborting it."""

from __future__ import annotations

__all__ = ["app"]

from typing import Annotated

import typer

from shipline.cli.output import print_json
from shipline.project import Project

app = typer.Typer(help="Shadow and canary rollouts of a new version.", no_args_is_help=True)


@app.command("status")
def status(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The model.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The model's rollouts, newest first: phase, share, every verdict with its evidence."""
    project: Project = ctx.obj
    found = project.rollouts(name)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        typer.echo(f"{name}: no rollouts")
        return
    for rollout in found:
        typer.echo(
            f"rollout {rollout.id} {name}@{rollout.alias}: v{rollout.stable} -> "
            f"v{rollout.candidate}, {rollout.status}, {rollout.phase} step {rollout.step} "
            f"({rollout.share:.0%} of traffic), started {rollout.started_at} by "
            f"{rollout.started_by}"
        )
        for verdict in rollout.steps:
            typer.echo(f"  {verdict['at']} {verdict['phase']} {verdict['outcome']}: "
                       f"{verdict.get('reason', '')}")  # fmt: skip


def _change(ctx: typer.Context, target: str, action: str, reason: str | None) -> None:
    from shipline.server.runner import parse_targets

    ((name, alias),) = parse_targets([target])
    project: Project = ctx.obj
    rollout = project.change_rollout(name, alias, action, reason)
    typer.echo(f"rollout {rollout.id} {name}@{alias}: {rollout.status}")


@app.command("pause")
def pause(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="NAME@ALIAS")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Hold the rollout at its step: traffic stays split, nothing advances or rolls back."""
    _change(ctx, target, "pause", reason)


@app.command("resume")
def resume(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="NAME@ALIAS")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """Go on from the step it was paused at (its bake time starts again)."""
    _change(ctx, target, "resume", reason)


@app.command("abort")
def abort(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="NAME@ALIAS")],
    reason: Annotated[str | None, typer.Option("--reason")] = None,
) -> None:
    """End the rollout: the stable version takes all traffic again, the alias does not move."""
    _change(ctx, target, "abort", reason)
