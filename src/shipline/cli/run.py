"""``shipline run`` and ``shipline cache explain``."""

from __future__ import annotations

__all__ = ["app", "ci", "run"]

from typing import Annotated

import typer

from shipline.cli.output import MAX_ID, print_json, print_table, step_progress
from shipline.project import Project

app = typer.Typer(help="The step cache: why steps ran or were reused.", no_args_is_help=True)


def run(
    ctx: typer.Context,
    steps: Annotated[
        list[str] | None, typer.Argument(help="With --force: the steps to rerun.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Rerun steps even when cached (all, or STEPS).")
    ] = False,
    resume: Annotated[
        int | None,
        typer.Option(
            "--resume", min=1, max=MAX_ID, help="Continue failed run RUN from its failed step."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Run the pipeline: ingest, validate, split, train, evaluate, gate, register."""
    from shipline.errors import UsageError

    if steps and not force:
        raise UsageError("step names are only taken with --force (shipline run --force train)")
    project: Project = ctx.obj
    chosen = frozenset(steps or ["*"]) if force else frozenset()
    with step_progress(enabled=not as_json) as on_step:
        record = project.run(chosen, resume, on_step=on_step)
    if as_json:
        print_json(record.to_dict())
    else:
        rows = [
            (s.step, s.status, f"{s.seconds:.2f}s", f"run {s.cached_from}" if s.cached_from else "")
            for s in record.steps
        ]
        print_table(
            f"Run {record.id} ({record.model}): {record.status}",
            ("step", "status", "time", "reused from"),
            rows,
        )
        if record.metrics:
            typer.echo(
                "metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(record.metrics.items()))
            )
        if record.status == "succeeded":
            typer.echo(f"registered {record.model}:{record.model_version}")
        elif record.error:
            reasons = "\n".join(project.failure_reasons(record))
            typer.echo(f"run {record.id} {record.status}: {reasons}", err=True)
    if record.status != "succeeded":
        raise typer.Exit(1)


@app.command("explain")
def explain(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="RUN", help="Run id.", min=1, max=MAX_ID)],
    step: Annotated[str, typer.Argument(help="Step name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Say why STEP of RUN ran or was reused, and which input or setting changed."""
    project: Project = ctx.obj
    answer = project.explain_step(run_id, step)
    if as_json:
        print_json(answer)
        return
    typer.echo(f"run {answer['run']} step {answer['step']}: {answer['status']}, {answer['reason']}")
    for change in answer["changed"]:
        typer.echo(f"  changed: {change['part']}" + (f" {change['key']}" if change["key"] else ""))


def ci(
    ctx: typer.Context,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=10, max=MAX_ID, help="Train on this many random rows."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """For CI on every push: validate, run in a throwaway store, gates vs production; exit 1
    when a gate fails."""
    project: Project = ctx.obj
    result = project.ci(sample)
    if as_json:
        print_json(result.to_dict())
    else:
        print_table(
            f"Gates ({result.status})",
            ("metric", "value", "rule", "verdict"),
            [
                (
                    g["metric"],
                    "-" if g["value"] is None else f"{g['value']:.4f}",
                    g["rule"],
                    "pass" if g["passed"] else "FAIL",
                )
                for g in result.gates
            ],
        )
        production = (
            f"production (version {result.production})" if result.production else "production"
        )
        print_table(
            f"Candidate vs {production}",
            ("metric", "candidate", "production"),
            [
                (
                    c["metric"],
                    f"{c['candidate']:.4f}",
                    "-" if c["production"] is None else f"{c['production']:.4f}",
                )
                for c in result.comparison
            ],
        )
        if result.error:
            typer.echo(f"error: {result.error.splitlines()[-1]}", err=True)
        typer.echo("ci: " + ("passed" if result.passed else "FAILED"))
    if not result.passed:
        raise typer.Exit(1)
