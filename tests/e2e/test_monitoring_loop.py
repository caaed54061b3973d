"""Monitoring through a live server: serve, send traffic, label it, and watch the alarms."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from shipline.scaffold import create_project
from tests.served import Server, captured_rows, shipline_env, start_server

MONITORING = """\
monitoring:
  window: 1h
  quality: {metric: accuracy, min: 0.9}
"""
BATCH = 10


def _shipline(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipline", *args],
        cwd=folder,
        env=shipline_env("monitor-bot"),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Server]]:
    folder = tmp_path_factory.mktemp("loop") / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    config.write_text(config.read_text() + MONITORING)
    assert _shipline(folder, "run").returncode == 0
    server = start_server(folder, "cancer@staging")
    yield folder, server
    assert server.stop() == 0


def _send(server: Server, frame: pd.DataFrame) -> list[tuple[str, int, Any]]:
    """POST the rows in batches; (request id, row, true label) of every row served."""
    served = []
    features = frame.drop(columns=["benign", "sample_id"])
    for start in range(0, len(frame), BATCH):
        rows = features.iloc[start : start + BATCH]
        response = httpx.post(
            f"{server.url}/invocations",
            json={"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        request_id = response.headers["x-request-id"]
        labels = frame["benign"].iloc[start : start + BATCH].tolist()
        served += [(request_id, row, label) for row, label in enumerate(labels)]
    return served


def _send_and_wait(server: Server, frame: pd.DataFrame) -> list[tuple[str, int, Any]]:
    """Send, then wait for the rows to be written (captures are flushed every 2 s)."""
    before = captured_rows(server)
    sent = _send(server, frame)
    deadline = time.monotonic() + 120
    while captured_rows(server) < before + len(frame):
        if time.monotonic() > deadline:
            pytest.fail("captured rows were not written within 120 s")
        time.sleep(0.3)  # poll interval
    return sent


def _open_alarms(folder: Path) -> set[str]:
    return {a["kind"] for a in json.loads(_shipline(folder, "alarms", "--json").stdout)}


def _data(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "data" / "breast_cancer.csv")


def test_clean_traffic_raises_no_alarm(served: tuple[Path, Server]) -> None:
    folder, server = served
    since = datetime.now(UTC).isoformat()
    _send_and_wait(server, _data(folder).sample(200, random_state=3))
    result = _shipline(folder, "monitor", "cancer@staging", "--since", since, "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["features"]["dataset_drift"] is False and report["rows"] == 200
    assert _open_alarms(folder) == set()


def test_shifted_traffic_then_wrong_labels_open_drift_and_quality_alarms(
    served: tuple[Path, Server],
) -> None:
    folder, server = served
    since = datetime.now(UTC).isoformat()
    shifted = _data(folder).sample(200, random_state=4)
    numeric = shifted.columns.drop(["benign", "sample_id"])
    shifted[numeric] = shifted[numeric] * 1.6
    sent = _send_and_wait(server, shifted)
    drifted = _shipline(folder, "monitor", "cancer@staging", "--since", since, "--json")
    assert drifted.returncode == 1
    assert json.loads(drifted.stdout)["features"]["dataset_drift"] is True
    alarms = json.loads(_shipline(folder, "alarms", "--json").stdout)
    drift = next(a for a in alarms if a["kind"] == "drift")
    assert drift["status"] == "open" and "mean radius" in drift["evidence"]["drifted"]
    # Ground truth arrives: the shifted inputs fooled the model on most rows.
    truth = pd.DataFrame(
        [(request_id, row, 1 - label) for request_id, row, label in sent],
        columns=["request_id", "row", "label"],
    )
    truth.to_csv(folder / "labels.csv", index=False)
    assert _shipline(folder, "labels", "add", "labels.csv").returncode == 0
    checked = _shipline(folder, "monitor", "cancer@staging", "--since", since, "--json")
    quality = json.loads(checked.stdout)["quality"]
    assert checked.returncode == 1 and quality["labelled_rows"] == 200
    assert quality["passed"] is False and quality["metrics"]["accuracy"] < 0.9
    assert {"drift", "quality"} <= _open_alarms(folder)
    # Clean traffic again: the drift alarm closes (quality has no labels there, so it stays).
    since = datetime.now(UTC).isoformat()
    _send_and_wait(server, _data(folder).sample(200, random_state=5))
    clean = _shipline(folder, "monitor", "cancer@staging", "--since", since, "--json")
    assert json.loads(clean.stdout)["features"]["dataset_drift"] is False
    assert "drift" not in _open_alarms(folder)
    every = json.loads(_shipline(folder, "alarms", "--all", "--json").stdout)
    closed = next(a for a in every if a["id"] == drift["id"])
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert np.isfinite(quality["metrics"]["f1"])


def test_roc_auc_and_log_loss_are_judged_from_captured_probabilities(
    served: tuple[Path, Server],
) -> None:
    folder, server = served
    since = datetime.now(UTC).isoformat()
    sent = _send_and_wait(server, _data(folder).sample(120, random_state=6))
    truth = pd.DataFrame(sent, columns=["request_id", "row", "label"])
    truth.to_csv(folder / "right.csv", index=False)
    assert _shipline(folder, "labels", "add", "right.csv").returncode == 0
    config = folder / "shipline.yaml"
    original = config.read_text()
    try:
        config.write_text(
            original.replace("{metric: accuracy, min: 0.9}", "{metric: roc_auc, min: 0.8}")
        )
        checked = _shipline(folder, "monitor", "cancer@staging", "--since", since, "--json")
        quality = json.loads(checked.stdout)["quality"]
        assert quality["labelled_rows"] == 120 and quality["passed"] is True, quality
        assert quality["metrics"]["roc_auc"] > 0.95 and quality["metrics"]["log_loss"] < 0.5
        shown = _shipline(folder, "monitor", "cancer@staging", "--since", since)
        assert "roc_auc=" in shown.stdout and "passes monitoring.quality" in shown.stdout
        # Without labels the rule cannot be judged, and the readable output says why.
        later = datetime.now(UTC).isoformat()
        _send_and_wait(server, _data(folder).sample(40, random_state=7))
        unlabelled = _shipline(folder, "monitor", "cancer@staging", "--since", later)
        assert "not judged: no labels for these requests yet" in unlabelled.stdout
    finally:
        config.write_text(original)
