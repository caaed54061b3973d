"""Bias and feature-attribution drift on labelled traffic, --since/--until and HTML pages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipline.errors import UsageError
from shipline.monitoring.alarm import list_alarms
from shipline.project import Project
from shipline.scoring import load_version
from shipline.scoring.capture import CaptureBuffer, StoreCaptureSink
from shipline.scoring.labels import add_labels

CONFIG = """\
name: loans
data:
  source: data/loans.csv
  target: repaid
  split: {test_size: 0.3, seed: 7}
training:
  task: classification
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
  bias: {sensitive: [group], max: 0.5}
  explain: {method: permutation, top: 3}
monitoring:
  bias: {max: 0.2}
  attribution: {min_ndcg: 0.9}
"""
_REQUESTS = count()


def _loans(rng: np.random.Generator, rows: int, concept: str = "income") -> pd.DataFrame:
    """Repayment follows income (x1) strongly and tenure (x2) weakly; x3 is noise.

    Under the ``tenure`` concept, repayment follows tenure alone.
    """
    frame = pd.DataFrame(
        {
            "x1": rng.normal(0, 1, rows),
            "x2": rng.normal(0, 1, rows),
            "x3": rng.normal(0, 1, rows),
            "group": rng.choice(["a", "b"], rows),
        }
    )
    score = 3 * frame["x1"] + 0.8 * frame["x2"] if concept == "income" else 3 * frame["x2"]
    frame["repaid"] = (score + rng.normal(0, 0.5, rows) > 0).astype(int)
    return frame


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("labelled") / "loans"
    (folder / "data").mkdir(parents=True)
    _loans(np.random.default_rng(0), 3000).to_csv(folder / "data" / "loans.csv", index=False)
    (folder / "shipline.yaml").write_text(CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
            patch.delenv(key)
        patch.setenv("SHIPLINE_USER", "alice")
        with Project.open(folder) as project:
            run = project.run()
            assert run.status == "succeeded", project.failure_reasons(run)
        yield folder


def _serve_and_label(project: Project, frame: pd.DataFrame, folder: Path) -> None:
    """Capture what the staged version predicts for ``frame``, then label every row."""
    version = project.version("loans@staging")
    model = load_version(project.store(), version)
    inputs = {c: frame[c].to_numpy() for c in model.input_names}
    predicted = model.predict(model.frame(inputs, len(frame))).values
    buffer = CaptureBuffer(StoreCaptureSink(project.db(), project.store()))
    ids = [f"loan-{next(_REQUESTS)}" for _ in range(len(frame))]
    for index, request_id in enumerate(ids):
        columns = {c: [frame[c].iloc[index]] for c in model.input_names}
        buffer.add(version.name, version.version, request_id, columns, [predicted[index]], 1)
    buffer.flush()
    pd.DataFrame({"request_id": ids, "label": frame["repaid"]}).to_csv(
        folder / "labels.csv", index=False
    )
    add_labels(project.db(), project.store(), folder / "labels.csv", "labeller")


def _open_kinds(project: Project) -> set[str]:
    return {a.kind for a in list_alarms(project.db(), False, "loans")}


def test_same_concept_keeps_bias_and_attribution_quiet(project: Project, trained: Path) -> None:
    started = datetime.now(UTC)
    _serve_and_label(project, _loans(np.random.default_rng(1), 600), trained)
    _, report = project.monitor("loans@staging", since=started.isoformat())
    bias, attribution = report["bias"], report["attribution"]
    assert bias["passed"] is True and bias["rows"] == 600
    assert abs(bias["columns"]["group"]["current"]) < 0.2
    assert attribution["passed"] is True and attribution["ndcg"] >= 0.9
    assert attribution["current_ranking"][0] == "x1"
    assert not {"bias", "attribution"} & _open_kinds(project)


def test_changed_concept_and_skewed_groups_open_alarms(project: Project, trained: Path) -> None:
    started = datetime.now(UTC)
    rng = np.random.default_rng(2)
    traffic = _loans(rng, 600, concept="tenure")
    # Group b now arrives with high income only: the model approves it far more often.
    traffic.loc[traffic["group"] == "b", "x1"] = np.abs(traffic.loc[traffic["group"] == "b", "x1"])
    traffic.loc[traffic["group"] == "a", "x1"] = -np.abs(traffic.loc[traffic["group"] == "a", "x1"])
    _serve_and_label(project, traffic, trained)
    summary, report = project.monitor("loans@staging", since=started.isoformat())
    bias, attribution = report["bias"], report["attribution"]
    assert bias["passed"] is False and bias["columns"]["group"]["current"] > 0.5
    assert bias["columns"]["group"]["training"] < 0.2
    assert attribution["passed"] is False and attribution["ndcg"] < 0.9
    assert attribution["current_ranking"][0] == "x2"
    alarms = {a.kind: a for a in list_alarms(project.db(), False, "loans")}
    assert {"bias", "attribution"} <= set(alarms)
    assert alarms["attribution"].evidence["report"] == summary.id
    # The first window alone is clean again: both alarms close.
    _, clean = project.monitor(
        "loans@staging",
        since=(started - timedelta(minutes=5)).isoformat(),
        until=(started - timedelta(microseconds=1)).isoformat(),
    )
    assert clean["bias"]["passed"] is True and clean["attribution"]["passed"] is True
    assert not {"bias", "attribution"} & _open_kinds(project)


def test_since_and_until_are_checked(project: Project) -> None:
    with pytest.raises(UsageError, match="--since: expected an ISO 8601 time"):
        project.monitor("loans@staging", since="yesterday")
    with pytest.raises(UsageError, match="must be before --until"):
        project.monitor("loans@staging", since="2026-11-02T00:00", until="2026-11-01T00:00")
