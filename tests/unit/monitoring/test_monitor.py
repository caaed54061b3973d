"""`shipline monitor`: a served version's traffic (or a file) against its training data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from shipline.audit import list_events
from shipline.config.schema import DriftConfig
from shipline.data.frame import ColumnValues, as_array
from shipline.errors import NotFoundError, UsageError
from shipline.monitoring.monitor_report import list_reports, monitor_version
from shipline.monitoring.traffic import TimeWindow
from shipline.project import Project
from shipline.scoring.capture import CaptureBuffer, StoreCaptureSink
from tests.served import trained_example


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_example(tmp_path_factory.mktemp("monitor") / "cancer")


def _features(trained: Path) -> pd.DataFrame:
    return pd.read_csv(trained / "data" / "breast_cancer.csv").drop(columns=["benign", "sample_id"])


def test_training_like_data_does_not_drift_and_shifted_data_does(
    project: Project, trained: Path
) -> None:
    _features(trained).to_csv(trained / "same.csv", index=False)
    summary, report = project.monitor("cancer@staging", trained / "same.csv")
    assert summary.dataset_drift is False and report["features"]["drifted"] == 0
    assert report["features"]["compared"] == 30 and report["rows"] == 569
    assert summary.prediction_drift is False
    estimated = report["estimated_quality"]
    assert estimated["method"] == "CBPE" and "no concept drift" in estimated["assumption"]
    realised = json.loads(json.dumps(project.version("cancer@staging").metrics))["accuracy"]
    assert estimated["estimated"]["accuracy"] == pytest.approx(realised, abs=0.1)
    shifted = _features(trained) * 1.6
    shifted.to_csv(trained / "shifted.csv", index=False)
    summary, report = project.monitor("cancer@staging", trained / "shifted.csv")
    assert summary.dataset_drift is True and report["features"]["drifted"] >= 15
    assert (
        report["prediction"]["column"] == "prediction" and report["prediction"]["drifted"] is True
    )
    stored = [r.id for r in list_reports(project.db(), "cancer")]
    assert summary.id in stored and project.monitor_report(summary.id)["rows"] == 569
    event = list_events(project.db(), action="monitor.report")[-1]
    assert event.actor == "monitor-bot" and json.loads(event.after)["report"] == summary.id


def test_captured_traffic_in_the_window(project: Project, trained: Path) -> None:
    version = project.version("cancer@staging")
    features = _features(trained).sample(120, random_state=0)  # a random sample: no real drift
    buffer = CaptureBuffer(StoreCaptureSink(project.db(), project.store()))
    for index, (_, row) in enumerate(features.iterrows()):
        columns = {name: [float(value)] for name, value in row.items()}
        buffer.add(version.name, version.version, f"req-{index}", columns, [1], 1)
    buffer.flush()
    summary, report = project.monitor("cancer@staging")
    assert report["rows"] == 120 and report["source"].startswith("captures ")
    assert summary.dataset_drift is False
    later = datetime.now(UTC) + timedelta(days=3)
    with pytest.raises(NotFoundError, match="no captured traffic"):
        monitor_version(
            project.db(),
            project.store(),
            version,
            project.config().monitoring,
            "x",
            TimeWindow(later - timedelta(hours=1), later),
        )


def test_bad_input_is_refused(project: Project, trained: Path) -> None:
    _features(trained).drop(columns=["mean area"]).to_csv(trained / "narrow.csv", index=False)
    with pytest.raises(UsageError, match="missing input column 'mean area'"):
        project.monitor("cancer@staging", trained / "narrow.csv")
    with pytest.raises(UsageError, match="--window"):
        project.monitor("cancer@staging", None, "3 days")
    with pytest.raises(NotFoundError):
        project.monitor("cancer@production")


def test_the_cli(trained: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}

    def shipline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "shipline", *args],
            cwd=trained,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    _features(trained).to_csv(trained / "same.csv", index=False)
    (_features(trained) * 1.6).to_csv(trained / "shifted.csv", index=False)
    ok = shipline("monitor", "cancer@staging", "--current", "same.csv", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["features"]["dataset_drift"] is False
    drifted = shipline("monitor", "check", "cancer@staging", "--current", "shifted.csv")
    assert drifted.returncode == 1 and "DRIFTED" in drifted.stdout
    listed = json.loads(shipline("monitor", "list", "--json").stdout)
    assert listed[0]["dataset_drift"] is True and listed[1]["dataset_drift"] is False
    shown = shipline("monitor", "show", str(listed[0]["id"]), "--json")
    assert json.loads(shown.stdout)["source"] == "file shifted.csv"
    exported = shipline(
        "monitor", "export", "cancer@staging", "--to", "mm", "--report", str(listed[0]["id"])
    )
    assert exported.returncode == 0 and "constraint_violations.json" in exported.stdout
    assert json.loads((trained / "mm" / "constraints.json").read_text())["version"] == 0
    missing = shipline("monitor", "show", "9999")
    assert missing.returncode == 1 and "no monitoring report 9999" in missing.stderr


def test_quality_once_labels_arrive(project: Project, trained: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score

    from shipline.scoring import load_version
    from shipline.scoring.labels import add_labels

    version = project.version("cancer@staging")
    model = load_version(project.store(), version)
    frame = pd.read_csv(trained / "data" / "breast_cancer.csv").sample(120, random_state=1)
    features = frame.drop(columns=["benign", "sample_id"])
    predicted = model.predict(
        model.frame({c: features[c].tolist() for c in features.columns}, 120)
    ).values
    buffer = CaptureBuffer(StoreCaptureSink(project.db(), project.store()))
    ids = [f"q-{i}" for i in range(120)]
    for index, request_id in enumerate(ids):
        columns = {c: [float(features[c].iloc[index])] for c in features.columns}
        buffer.add(version.name, version.version, request_id, columns, [predicted[index]], 1)
    buffer.flush()
    truth = frame["benign"].tolist()
    pd.DataFrame({"request_id": ids[:80], "label": truth[:80]}).to_csv(
        trained / "labels.csv", index=False
    )
    assert add_labels(project.db(), project.store(), trained / "labels.csv", "labeller") == 80
    config = trained / "shipline.yaml"
    original = config.read_text()
    try:
        config.write_text(original + "monitoring:\n  quality: {metric: accuracy, min: 0.0}\n")
        _, report = project.monitor("cancer@staging", window="1h")
        quality = report["quality"]
        assert (quality["labelled_rows"], quality["passed"]) == (80, True)
        assert quality["metrics"]["accuracy"] == pytest.approx(
            accuracy_score(truth[:80], predicted[:80])
        )
        assert quality["metrics"]["f1"] == pytest.approx(f1_score(truth[:80], predicted[:80]))
        assert "accuracy" in quality["training_metrics"]
        config.write_text(original + "monitoring:\n  quality: {metric: accuracy, min: 1.01}\n")
        _, failing = project.monitor("cancer@staging", window="1h")
        assert failing["quality"]["passed"] is False
        config.write_text(original + "monitoring:\n  quality: {metric: roc_auc, min: 0.5}\n")
        _, no_probabilities = project.monitor("cancer@staging", window="1h")
        assert no_probabilities["quality"]["passed"] is None
        assert "probabilities" in no_probabilities["quality"]["note"]
    finally:
        config.write_text(original)


def test_the_reference_is_stored_sorted_at_registration(project: Project, trained: Path) -> None:
    from dataclasses import replace

    import numpy as np

    from shipline.monitoring.drift import compare_column, compare_columns
    from shipline.monitoring.reference_columns import load_reference
    from shipline.scoring import load_version

    version = project.version("cancer@staging")
    recorded = version.facts.training_data
    assert recorded is not None and recorded.reference and recorded.reference_predictions
    model = load_version(project.store(), version)
    stored = load_reference(project.db(), project.store(), version, model)
    details = dict(version.details)
    details["training_data"] = {k: details["training_data"][k] for k in ("train", "test")}
    older = replace(version, details=details)  # as registered before the reference existed
    rows = load_reference(project.db(), project.store(), older, model)
    assert stored.presorted and not rows.presorted
    assert list(stored.columns) == list(rows.columns) and len(stored.columns) == 30
    split = {name: as_array(values) for name, values in rows.columns.items()}
    for name, values in stored.columns.items():
        assert np.array_equal(as_array(values), np.sort(split[name]), equal_nan=True), name
    assert sorted(stored.predictions.tolist()) == stored.predictions.tolist()
    current: dict[str, ColumnValues] = {n: v * 1.2 for n, v in split.items()}
    assert compare_columns(stored.columns, current, reference_sorted=True) == compare_columns(
        rows.columns, current
    )
    served = rows.predictions[::-1]
    assert compare_column("prediction", stored.predictions, served, DriftConfig(), True) == (
        compare_column("prediction", rows.predictions, served, DriftConfig())
    )
