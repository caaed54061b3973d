"""Logging metrics from code, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from shipline.errors import UsageError
from shipline.pipeline import get_run
from shipline.pipeline.metric_log import FLUSH_EVERY, TrackedRun, metric_history
from shipline.store import open_database


def test_logged_metrics_are_stored_in_order_and_summarised(db_url: str) -> None:
    db = open_database(db_url)
    with TrackedRun(db, "alice", "notebook", {"lr": 0.1}) as run:
        for step in range(FLUSH_EVERY + 10):  # crosses one automatic flush
            run.log_metric("loss", 1.0 / (step + 1))
        run.log_metrics({"acc": 0.5}, step=0)
        run.log_metrics({"acc": 0.75}, step=0)  # the same step again replaces it
        run.log_metric("acc", 0.9, step=3)
    history = metric_history(db, run.id, "loss")
    assert len(history) == FLUSH_EVERY + 10 and history[0] == (0, 1.0) and history[9][0] == 9
    assert metric_history(db, run.id, "acc") == [(0, 0.75), (3, 0.9)]
    record = get_run(db, run.id)
    assert record.status == "succeeded" and record.params == {"lr": 0.1}
    assert record.metrics == {"loss": 1.0 / (FLUSH_EVERY + 10), "acc": 0.9}
    db.close()


def test_a_failing_block_fails_the_run_and_keeps_what_was_logged(db_url: str) -> None:
    db = open_database(db_url)
    run = TrackedRun(db, "alice", "notebook")

    def training_loop() -> None:
        with run:
            run.log_metric("loss", 0.5)
            raise RuntimeError("diverged")

    with pytest.raises(RuntimeError):
        training_loop()
    record = get_run(db, run.id)
    assert record.status == "failed" and "diverged" in (record.error or "")
    assert metric_history(db, run.id, "loss") == [(0, 0.5)]
    db.close()


def test_bad_metric_values_are_refused(db_url: str) -> None:
    db = open_database(db_url)
    run = TrackedRun(db, "alice", "notebook")
    for key, value in (("", 1.0), ("x" * 201, 1.0), ("loss", float("nan")), ("loss", float("inf"))):
        with pytest.raises(UsageError):
            run.log_metric(key, value)
    run.end()
    db.close()
