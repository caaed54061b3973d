"""``shipline runs``: list, show and compare pipeline runs."""

from __future__ import annotations

__all__ = ["app"]

from typing import Annotated, Any

import orjson
import typer

from shipline.cli.output import MAX_ID, print_json, print_table, when
from shipline.project import Project

app = typer.Typer(help="Pipeline runs: parameters, metrics, steps, errors.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000)] = 20,
    model: Annotated[str | None, typer.Option("--model", help="Only this model's runs.")] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", help="A metric condition, e.g. 'metrics.roc_auc > 0.9'."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The newest runs (of one model, matching a metric condition)."""
    project: Project = ctx.obj
    runs = project.runs(limit, model, where)
    if as_json:
        print_json(
            [{k: v for k, v in r.to_dict().items() if k not in ("steps", "config")} for r in runs]
        )
        return
    rows = [
        (
            r.id,
            r.model,
            r.status,
            r.trigger,
            r.actor,
            when(r.started_at),
            sum(s.status == "cached" for s in r.steps),
            r.model_version or "",
            ", ".join(f"{k}={v:.3f}" for k, v in sorted(r.metrics.items())[:3]),
        )
        for r in runs
    ]
    print_table(
        "Runs",
        (
            "run",
            "model",
            "status",
            "trigger",
            "by",
            "started (UTC)",
            "cached",
            "version",
            "metrics",
        ),
        rows,
    )


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(metavar="RUN", min=1, max=MAX_ID)],
    as_json: JsonOption = False,
) -> None:
    """One run: parameters, metrics, step timings and cache hits, trigger, user, error."""
    project: Project = ctx.obj
    run = project.get_run(run_id)
    if as_json:
        print_json(run.to_dict())
        return
    typer.echo(f"run {run.id}  {run.model}  {run.status}  trigger: {run.trigger}  by {run.actor}")
    typer.echo(f"  started {when(run.started_at)}, finished {when(run.finished_at or '') or '-'}")
    lineage = run.lineage
    typer.echo(
        f"  git {lineage.get('git_commit') or '-'}"
        f"{' (dirty)' if lineage.get('git_dirty') else ''}, "
        f"config {run.config_digest[:12]}"
    )
    typer.echo("  params: " + ", ".join(f"{k}={v}" for k, v in run.params.items()))
    if run.metrics:
        typer.echo(
            "  metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(run.metrics.items()))
        )
    rows = [
        (s.step, s.status, f"{s.seconds:.3f}s", s.cached_from or "", s.cache_key[:12])
        for s in run.steps
    ]
    print_table("Steps", ("step", "status", "time", "reused from run", "cache key"), rows)
    elsewhere: dict[str, list[str]] = {}
    for s in run.steps:
        if "ran_on" in s.key_parts:
            elsewhere.setdefault(orjson.loads(s.key_parts["ran_on"]), []).append(s.step)
    for where, names in elsewhere.items():
        typer.echo(f"  {', '.join(names)} ran on {where}")
    search = project.search_report(run.id) if run.steps else None
    if search is not None:
        _print_search(search)
    if run.model_version:
        typer.echo(f"  registered {run.model}:{run.model_version}")
    if run.error:
        failed = next((s for s in run.steps if s.error), None)
        # The same reasons `shipline run` prints: the error, then each broken rule.
        first, *rules = project.failure_reasons(run)
        typer.echo(f"  error: {first}")
        for rule in rules:
            typer.echo(f"  {rule}")
        if failed and failed.error:
            typer.echo(failed.error)


def _print_search(search: dict[str, Any]) -> None:
    """Every trial of the run's hyperparameter search, best first."""
    trials = sorted(search["trials"], key=lambda t: t["rank"])
    metric = search["metric"]
    typer.echo(
        f"  search: {search['method']}, {len(trials)} trials, {search['cv']}-fold, by {metric}; "
        f"best {search['best']['params']} ({metric}={search['best']['score']:.4f})"
    )
    rows = [
        (
            str(t["rank"]),
            ", ".join(f"{k}={v}" for k, v in t["params"].items()),
            f"{t['score']:.4f} ± {t['score_std']:.4f}",
            f"{t['fit_seconds']:.2f}s",
        )
        for t in trials
    ]
    print_table("Search trials", ("rank", "params", metric, "fit time"), rows)


@app.command("compare")
def compare(
    ctx: typer.Context,
    a: Annotated[int, typer.Argument(metavar="A", min=1, max=MAX_ID)],
    b: Annotated[int, typer.Argument(metavar="B", min=1, max=MAX_ID)],
    as_json: JsonOption = False,
) -> None:
    """Parameters and metrics of two runs side by side."""
    project: Project = ctx.obj
    first, second = project.get_run(a), project.get_run(b)
    params = sorted(set(first.params) | set(second.params))
    metrics = sorted(set(first.metrics) | set(second.metrics))
    result: dict[str, Any] = {
        "a": first.id,
        "b": second.id,
        "params": {k: {"a": first.params.get(k), "b": second.params.get(k)} for k in params},
        "metrics": {
            k: {
                "a": first.metrics.get(k),
                "b": second.metrics.get(k),
                "delta": (second.metrics[k] - first.metrics[k])
                if k in first.metrics and k in second.metrics
                else None,
            }
            for k in metrics
        },
        "config_changed": first.config_digest != second.config_digest,
        "status": {"a": first.status, "b": second.status},
    }
    if as_json:
        print_json(result)
        return
    rows = [
        (f"param {k}", v["a"], v["b"], "" if v["a"] == v["b"] else "changed")
        for k, v in result["params"].items()
    ]
    rows += [
        (f"metric {k}", _num(v["a"]), _num(v["b"]), _num(v["delta"], signed=True))
        for k, v in result["metrics"].items()
    ]
    print_table(
        f"Run {first.id} vs run {second.id}",
        ("", f"run {first.id}", f"run {second.id}", "difference"),
        rows,
    )


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"
