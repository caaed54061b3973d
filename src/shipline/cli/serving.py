"""``shipline serve``, ``shipline predict`` and ``shipline labels``."""

from __future__ import annotations

__all__ = ["labels_app", "predict", "serve"]

import os
from pathlib import Path
from typing import Annotated

import typer

from shipline.cli.output import print_json, row_progress
from shipline.project import Project

labels_app = typer.Typer(
    help="Ground truth that arrives after the prediction.", no_args_is_help=True
)


def serve(
    ctx: typer.Context,
    targets: Annotated[
        list[str],
        typer.Argument(metavar="NAME@ALIAS...", help="Models to serve, e.g. churn@production."),
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8080,
    poll: Annotated[
        float, typer.Option("--poll", min=0.1, max=3600, help="Seconds between alias checks.")
    ] = 2.0,
    native: Annotated[
        bool, typer.Option("--native", help="Serve native models even where an ONNX form exists.")
    ] = False,
    auth: Annotated[
        bool,
        typer.Option(
            "--auth",
            help="Callers need a token that may predict (checked with the team server).",
        ),
    ] = False,
    grpc_port: Annotated[
        int | None,
        typer.Option(
            "--grpc-port",
            min=1,
            max=65535,
            help="Also serve the Open Inference Protocol over gRPC on this port.",
        ),
    ] = None,
) -> None:
    """Serve models over HTTP: /invocations (SageMaker, MLflow), /v2 (Open Inference), /metrics;
    with --grpc-port, the Open Inference Protocol over gRPC too."""
    from shipline.server.allocator import prefer_system_allocator

    prefer_system_allocator()
    from shipline.server.runner import parse_targets
    from shipline.server.runner import serve as run_server

    project: Project = ctx.obj
    chosen = parse_targets(targets)
    metrics_token = os.environ.get("SHIPLINE_METRICS_TOKEN", "").strip() or None
    if host not in ("127.0.0.1", "::1", "localhost") and not auth:
        typer.echo(
            f"warning: listening on {host}: the prediction server has no authentication; "
            "anyone who can reach this address can score and read model metadata. Put it "
            "behind a proxy or network policy that admits only your clients.",
            err=True,
        )
    grpc = f" and grpc://{host}:{grpc_port}" if grpc_port is not None else ""
    typer.echo(
        f"serving {', '.join(f'{n}@{a}' for n, a in chosen)} on http://{host}:{port}{grpc}",
        err=True,
    )
    run_server(project, chosen, host, port, poll, not native, auth, metrics_token, grpc_port)


def predict(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(metavar="NAME@ALIAS", help="Model to score with (or NAME:VERSION).")
    ],
    input_path: Annotated[
        str,
        typer.Option(
            "--input",
            "-i",
            help="CSV or Parquet file; or a folder or glob of them, local or s3:// (partitioned).",
        ),
    ],
    output_path: Annotated[
        str,
        typer.Option("--output", "-o", help="CSV or Parquet file; a folder for partitioned input."),
    ],
    probabilities: Annotated[
        bool, typer.Option("--probabilities", help="Add proba_<class> columns.")
    ] = False,
    predictions_only: Annotated[
        bool,
        typer.Option(
            "--predictions-only",
            help="Write the id column (data.id_column) and predictions, not the input columns.",
        ),
    ] = False,
) -> None:
    """Batch scoring: the same validation and model code as the server, chunk by chunk;
    partitioned input is scored one file per task on the configured compute (Dask)."""
    from shipline.data.partitions import is_partitioned

    project: Project = ctx.obj
    if is_partitioned(input_path):
        with row_progress("scoring") as advance:
            done = project.score_partitions(
                target, input_path, output_path, probabilities, advance, predictions_only
            )
        typer.echo(
            f"scored {done.rows} rows in {done.partitions} "
            f"partition{'' if done.partitions == 1 else 's'} with "
            f"{done.model}:{done.version} on {done.ran_on} -> {output_path}"
        )
        return
    with row_progress("scoring") as advance:
        scored = project.score_file(
            target, Path(input_path), Path(output_path), probabilities, advance, predictions_only
        )
    typer.echo(f"scored {scored.rows} rows with {scored.model}:{scored.version} -> {output_path}")


@labels_app.command("add")
def labels_add(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV/Parquet with request_id, label[, row].")],
    allow_unknown: Annotated[
        bool,
        typer.Option("--allow-unknown", help="Keep labels of request ids not captured (yet)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Record ground truth for served requests, joined later by request id."""
    project: Project = ctx.obj
    count = project.add_labels(path, allow_unknown)
    if as_json:
        print_json({"labels": count})
    else:
        typer.echo(f"added {count} labels from {path}")
