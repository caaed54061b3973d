"""``shipline drift``: compare two data files the way Evidently's DataDriftPreset does."""

from __future__ import annotations

__all__ = ["drift"]

from pathlib import Path
from typing import Annotated

import typer

from shipline.cli.output import print_json, print_table
from shipline.errors import UsageError
from shipline.project import Project


def drift(
    ctx: typer.Context,
    reference: Annotated[
        str,
        typer.Argument(
            help="Reference CSV or Parquet (e.g. training data); or a folder or glob of "
            "them, local or s3://, compared one column per task on the configured compute."
        ),
    ],
    current: Annotated[str, typer.Argument(help="Current CSV or Parquet (or folder, glob).")],
    share: Annotated[
        float,
        typer.Option(
            "--share", min=0.0, max=1.0, help="Drifted share that makes the dataset drift."
        ),
    ] = 0.5,
    strict: Annotated[
        bool, typer.Option("--strict", help="Chi-square homogeneity; KS needs a minimum effect.")
    ] = False,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", help="Override, e.g. --column age=psi:0.2 (repeatable)."),
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="Also write a self-contained HTML report here.")
    ] = None,
    min_rows: Annotated[
        int,
        typer.Option("--min-rows", min=1, max=10**9, help="Fewer values: no verdict on a column."),
    ] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Per-column drift with Evidently's default tests; exit 1 when the dataset drifted."""
    from shipline.data.partitions import is_partitioned
    from shipline.monitoring import compare_files, drift_rules

    rules = drift_rules(share, strict, column or [], min_rows)
    if is_partitioned(reference) or is_partitioned(current):
        if html is not None:
            raise UsageError("--html needs single files; partitioned data gets the table/JSON")
        project: Project = ctx.obj
        report = project.compare_partitions(reference, current, rules)
    elif html is None:
        report = compare_files(Path(reference), Path(current), rules)
    else:
        from shipline.artifacts.local_file import write_atomically
        from shipline.monitoring.drift_files import compare_files_page

        report, page = compare_files_page(Path(reference), Path(current), rules)
        write_atomically(html, page.encode())
    if as_json:
        print_json(report.to_dict())
    else:
        rows = [
            (
                c.column,
                c.kind,
                c.method or "-",
                "-" if c.statistic is None else f"{c.statistic:.4g}",
                "-" if c.threshold is None else c.threshold,
                {True: "DRIFT", False: "ok", None: "no verdict"}[c.drifted],
                ", ".join(c.unseen) or c.note or "",
            )
            for c in report.columns
        ]
        print_table(
            "Drift",
            ("column", "kind", "method", "statistic", "threshold", "verdict", "notes"),
            rows,
        )
        verdict = "DRIFTED" if report.dataset_drift else "no dataset drift"
        if report.compared == 0 and report.short_of_data:
            verdict = f"not enough data (each column needs {report.min_rows} values)"
        typer.echo(
            f"{report.drifted} of {report.compared} columns drifted ({report.share:.0%}; "
            f"threshold {report.share_threshold:.0%}): {verdict}"
        )
    if report.dataset_drift:
        raise typer.Exit(1)
