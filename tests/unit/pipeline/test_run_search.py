"""Finding runs by a metric condition, evaluated by SQLite and PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipline.errors import UsageError
from shipline.pipeline.run_record import finish_run, list_runs, start_run
from shipline.pipeline.run_search import parse_metric_filter
from shipline.store import Database, open_database


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.close()


def _runs(db: Database) -> None:
    for index, auc in enumerate((0.5, 0.91, 0.95, 0.99)):
        run_id = start_run(db, "alice", "churn" if index else "fraud", "test", {}, "0" * 64, {}, {})
        finish_run(db, "alice", run_id, "succeeded", {"roc_auc": auc, "log-loss": 1 - auc})


def test_a_metric_condition_selects_runs_in_the_database(db: Database) -> None:
    _runs(db)

    def found(text: str, model: str | None = None) -> list[float]:
        return [r.metrics["roc_auc"] for r in list_runs(db, model, 50, parse_metric_filter(text))]

    assert found("metrics.roc_auc > 0.9") == [0.99, 0.95, 0.91]
    assert found("roc_auc >= 0.95") == [0.99, 0.95]
    assert found("metrics.roc_auc < 0.6") == [0.5]
    assert found("metrics.roc_auc = 0.95") == [0.95]
    assert found("metrics.roc_auc != 0.95", "churn") == [0.99, 0.91]
    assert found("metrics.log-loss <= 0.05") == [0.99]  # a name with a dash
    assert found("metrics.missing > 0") == []
    assert len(list_runs(db, None, 2, parse_metric_filter("roc_auc > 0"))) == 2


@pytest.mark.parametrize(
    "text",
    ["", "metrics.auc", "auc > high", "auc >> 1", "metrics.a'b > 1", "auc > 1; DROP TABLE runs"],
)
def test_a_malformed_condition_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(UsageError, match=r"metrics\.roc_auc > 0\.9"):
        parse_metric_filter(text)
