"""Logging 10,000 metric values from Python: shipline's API against MLflow's log_metric.

Both write to their default local store in a fresh folder (shipline: SQLite under
.shipline/; MLflow: its default tracking store), in one process, same run. Only the
start-run → 10,000 calls → end-run span is timed. Target: at least 10x faster.
"""

from __future__ import annotations

import os
import tempfile
import time

COUNT = 10_000


def _shipline(folder: str) -> float:
    from shipline.project import Project

    os.chdir(folder)
    with Project.open(folder) as project:
        # Open (and create) the database before timing, as the MLflow side warms up too.
        project.db()
        start = time.perf_counter()
        with project.start_run("bench") as run:
            for step in range(COUNT):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
        elapsed = time.perf_counter() - start
        assert len(project.metric_history(run.id, "loss")) == COUNT
    return elapsed


def _mlflow(folder: str) -> float:
    import mlflow

    os.chdir(folder)
    with mlflow.start_run():
        mlflow.log_metric("warmup", 0.0)  # creates the store before timing
    start = time.perf_counter()
    with mlflow.start_run() as run:
        for step in range(COUNT):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    elapsed = time.perf_counter() - start
    history = mlflow.tracking.MlflowClient().get_metric_history(run.info.run_id, "loss")
    assert len(history) == COUNT
    return elapsed


def main() -> None:
    """Run both and print the ratio."""
    ours = _shipline(tempfile.mkdtemp(prefix="shipline-bench-"))
    theirs = _mlflow(tempfile.mkdtemp(prefix="mlflow-bench-"))
    import mlflow

    print(
        f"{COUNT} metric values: shipline {ours:.3f} s ({COUNT / ours:,.0f}/s), "
        f"mlflow {mlflow.__version__} {theirs:.3f} s ({COUNT / theirs:,.0f}/s)"
    )
    ratio = theirs / ours
    verdict = "met" if ratio >= 10 else "MISSED"
    print(f"ratio mlflow/shipline: {ratio:.1f}x (target >= 10x: {verdict})")
    print(f"mlflow tracking store: {mlflow.get_tracking_uri()}")


if __name__ == "__main__":
    main()
