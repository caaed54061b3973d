"""Desired state and the loop that keeps it: ``plan``, ``apply``, ``controller``, ``status``."""

from __future__ import annotations

__all__ = ["apply", "controller", "plan", "status"]

from datetime import datetime
from typing import Annotated, Any

import typer

from shipline.cli.output import print_json, print_table, when
from shipline.project import Project

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
_SIGNS = {"add": "+", "remove": "-", "change": "~"}


def _show_changes(changes: list[Any]) -> None:
    for change in changes:
        sign = _SIGNS[change.action]
        if change.action == "change":
            detail = f"{change.before!r} -> {change.after!r}"
        else:
            detail = repr(change.after if change.action == "add" else change.before)
        typer.echo(f"  {sign} [{change.section}] {change.path}: {detail}")


def plan(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show what `shipline apply` would change for this model (terraform-style)."""
    project: Project = ctx.obj
    changes = project.plan()
    if as_json:
        print_json([c.to_dict() for c in changes])
        return
    if not changes:
        typer.echo("No changes: the applied config matches shipline.yaml.")
        return
    typer.echo(f"Applying shipline.yaml would make {len(changes)} change(s):")
    _show_changes(changes)


def apply(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Record shipline.yaml as the model's desired state; the controller acts on it."""
    project: Project = ctx.obj
    applied, changes = project.apply()
    if as_json:
        print_json(
            {
                "model": applied.model,
                "version": applied.version,
                "digest": applied.digest,
                "changes": [c.to_dict() for c in changes],
            }
        )
        return
    if not changes:
        typer.echo(f"No changes: {applied.model} stays at applied config {applied.version}.")
        return
    _show_changes(changes)
    typer.echo(f"Applied config {applied.version} of {applied.model}.")


def controller(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="One pass, then exit (for cron, tests).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, max=86400, help="Seconds between passes.")
    ] = 30.0,
    lease: Annotated[
        float,
        typer.Option(
            "--lease", min=1.0, max=86400, help="Seconds a dead controller's lease lasts."
        ),
    ] = 60.0,
    now: Annotated[
        datetime | None,
        typer.Option("--now", help="Evaluate schedules at this time instead of the clock (UTC)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Reconcile every applied model: triggers, scheduled monitoring, guarded runs, delivery."""
    from datetime import UTC

    project: Project = ctx.obj
    pinned = None if now is None else (now if now.tzinfo else now.replace(tzinfo=UTC))
    loop = project.controller(interval, lease, pinned)

    def show(passes: list[Any]) -> None:
        if as_json:
            print_json([p.to_dict() for p in passes])
            return
        for done in passes:
            parts = [f"new triggers {done.new_events}" if done.new_events else ""]
            if done.monitor_report is not None:
                parts.append(f"monitoring report {done.monitor_report}")
            if done.run is not None:
                parts.append(f"run {done.run} {done.run_status}")
            parts += done.notes
            typer.echo(f"{done.model}: " + ("; ".join(p for p in parts if p) or "nothing to do"))

    if once:
        show(loop.run_pass())
    else:
        loop.run_forever(show)


def status(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Argument(help="One model (default: all).")] = None,
    as_json: JsonOption = False,
) -> None:
    """One screen per model: aliases, last run and trigger, alarms, approvals, what is next."""
    project: Project = ctx.obj
    found = project.status(model)
    if as_json:
        print_json(found)
        return
    for entry in found:
        _render_status(entry)


def _render_status(entry: dict[str, Any]) -> None:
    applied = entry["applied_config"]
    typer.echo(
        f"== {entry['model']} ("
        + (f"applied config {applied['version']}" if applied else "config not applied")
        + ")"
    )
    aliases = ", ".join(f"{a} -> {v}" for a, v in entry["aliases"].items()) or "none"
    typer.echo(f"aliases: {aliases}; latest version: {entry['latest_version'] or '-'}")
    run = entry["last_run"]
    if run:
        typer.echo(
            f"last run: {run['id']} {run['status']} at {when(run['started_at'])} "
            f"(trigger: {run['trigger']})"
        )
        for event in run["events"]:
            typer.echo(f"  because {event['kind']}: {event['evidence']}")
    if entry["problem"]:
        typer.echo(f"PROBLEM: {entry['problem']}")
    rows = [
        *(("alarm", a["kind"], f"open since {when(a['opened_at'])}") for a in entry["open_alarms"]),
        *(
            ("approval", f"#{a['id']} {entry['model']}:{a['version']} -> {a['alias']}", "pending")
            for a in entry["pending_approvals"]
        ),
        *(("trigger", f"#{e['id']} {e['kind']}", "pending") for e in entry["pending_triggers"]),
        *(("next", n["event"], when(n["at"])) for n in entry["next"]),
    ]
    if rows:
        print_table("", ("what", "which", "state"), rows)
