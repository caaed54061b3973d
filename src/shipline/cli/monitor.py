"""``shipline monitor``: check a served version for drift; list and show stored reports."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["alarms", "app"]

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from shipline.cli.output import MAX_ID, print_json, print_table, when
from shipline.project import Project


class _DefaultToCheck(TyperGroup):
    """``shipline monitor NAME@ALIAS`` means ``shipline monitor check NAME@ALIAS``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["check", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


if TYPE_CHECKING:
    from shipline.monitoring.monitor_record import MonitorReport

app = typer.Typer(
    cls=_DefaultToCheck, help="Drift of served traffic against training data.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@app.command("check")
def check(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="NAME@ALIAS", help="The version to check (or NAME:VERSION).")
    ],
    current: Annotated[
        Path | None, typer.Option("--current", help="Compare this CSV/Parquet instead of captures.")
    ] = None,
    window: Annotated[
        str | None, typer.Option("--window", help="Captured traffic of the last 90s/30m/6h/2d/1w.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Traffic from this time (ISO 8601, UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Traffic up to this time (default: now).")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare traffic with the training data; exit 1 when a monitoring rule breaks."""
    project: Project = ctx.obj
    summary, report = project.monitor(target, current, window, since, until, html is not None)
    if html is not None:
        project.write_monitor_html(summary.id, html)
    from shipline.monitoring.monitor_record import MonitorReport

    typed = MonitorReport.model_validate(report)
    if as_json:
        print_json({"report": summary.id, **report})
    else:
        _render(summary.id, typed)
    broken = [kind for kind, check in typed.checks().items() if check.passed is False]
    if summary.dataset_drift or summary.prediction_drift or broken:
        raise typer.Exit(1)


def _render(report_id: int, report: MonitorReport) -> None:
    features = report.features
    verdicts = {True: "DRIFT", False: "ok", None: "skipped"}
    rows = [
        (
            c.column,
            c.method or "-",
            "-" if c.statistic is None else f"{c.statistic:.4g}",
            verdicts[c.drifted],
            ", ".join(c.unseen) or c.note or "",
        )
        for c in [*features.columns, report.prediction]
    ]
    print_table(
        f"Report {report_id}: {report.model}:{report.version} vs training data, "
        f"{report.rows} rows from {report.source}",
        ("column", "method", "statistic", "verdict", "notes"),
        rows,
    )
    verdict = "DRIFTED" if features.dataset_drift else "no dataset drift"
    where = f" (measured on {report.computed_on})" if report.computed_on else ""
    typer.echo(
        f"features: {features.drifted} of {features.compared} drifted: {verdict}; "
        f"predictions: {'DRIFT' if report.prediction.drifted else 'ok'}{where}"
    )
    _render_checks(report)


def _render_checks(report: MonitorReport) -> None:
    judged = {True: "ok", False: "ALARM", None: "not judged"}
    quality = report.quality
    if quality:
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(quality.metrics.items()))
        if quality.passed is None:
            # Say why the rule was not judged: no rule, no labels yet, or a missing input.
            verdict_text = f"not judged: {quality.note}" if quality.note else "no rule set"
        else:
            verdict_text = ("passes" if quality.passed else "FAILS") + " monitoring.quality"
        typer.echo(
            f"quality on {quality.labelled_rows} of {quality.captured_rows} labelled rows: "
            f"{metrics or '-'} ({verdict_text})"
        )
    bias = report.bias.evidence() if report.bias else None
    if report.bias and bias is not None:
        values = ", ".join(
            f"{column} {c['current']:.3f} (training {c['training']:.3f})"
            for column, c in bias["columns"].items()
        )
        typer.echo(
            f"bias ({bias['metric']}, max {bias['max']}): "
            f"{values or '; '.join(bias['notes'])}: {judged[report.bias.passed]}"
        )
    attribution = report.attribution.evidence() if report.attribution else None
    if report.attribution and attribution is not None:
        ndcg = attribution["ndcg"]
        typer.echo(
            "attribution: "
            + (f"nDCG {ndcg:.3f} (min {attribution['min_ndcg']})" if ndcg is not None else "")
            + (report.attribution.note or "")
            + f": {judged[report.attribution.passed]}"
        )


@app.command("export")
def export(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            metavar="NAME@ALIAS", help="The version whose training data is the baseline."
        ),
    ],
    to: Annotated[Path, typer.Option("--to", help="Folder to write the files into.")],
    report: Annotated[
        int | None,
        typer.Option("--report", min=1, max=MAX_ID, help="Also write this report's violations."),
    ] = None,
) -> None:
    """Write SageMaker Model Monitor files: statistics.json, constraints.json (and violations)."""
    project: Project = ctx.obj
    for path in project.export_model_monitor_files(target, to, report):
        typer.echo(f"wrote {path}")


@app.command("list")
def list_(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Stored monitoring reports, newest first."""
    project: Project = ctx.obj
    reports = project.monitor_reports(model)
    if as_json:
        print_json([r.to_dict() for r in reports])
        return
    rows = [
        (
            r.id,
            f"{r.model}:{r.version}",
            when(r.created_at),
            r.rows,
            "DRIFT" if r.dataset_drift else "ok",
            f"{r.drifted_share:.0%}",
            {True: "DRIFT", False: "ok", None: "-"}[r.prediction_drift],
            r.source,
        )
        for r in reports
    ]
    print_table(
        "Monitoring reports",
        ("id", "version", "at (UTC)", "rows", "data", "drifted", "predictions", "source"),
        rows,
    )


@app.command("show")
def show(
    ctx: typer.Context,
    report_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=MAX_ID)],
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write it as a self-contained HTML page.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """One stored report in full."""
    project: Project = ctx.obj
    report = project.monitor_report(report_id)
    if html is not None:
        project.write_monitor_html(report_id, html)
    if as_json:
        print_json(report)
    else:
        from shipline.monitoring.monitor_record import MonitorReport

        _render(report_id, MonitorReport.model_validate(report))


def alarms(
    ctx: typer.Context,
    include_closed: Annotated[bool, typer.Option("--all", help="Closed alarms too.")] = False,
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Open alarms: monitoring rules that broke and have not held since."""
    project: Project = ctx.obj
    found = project.alarms(include_closed, model)
    if as_json:
        print_json([a.to_dict() for a in found])
        return
    rows = [
        (
            a.id,
            a.kind,
            f"{a.model}:{a.version}",
            a.status,
            when(a.opened_at),
            when(a.closed_at or "") or "-",
            f"report {a.evidence.get('report')}",
        )
        for a in found
    ]
    print_table(
        "Alarms",
        ("id", "kind", "version", "status", "opened (UTC)", "closed (UTC)", "evidence"),
        rows,
    )
