"""A captured window measured partition by partition (the cluster path) gives the report the
single-machine path gives: the same statistics, decisions, quality, bias, attribution, CBPE
and histograms. ``InProcess(remote=True)`` runs the cluster path's tasks in this process."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipline.compute import InProcess
from shipline.config.schema import DriftConfig, MonitoringConfig
from shipline.errors import NotFoundError, UsageError
from shipline.monitoring.monitor_report import monitor_version
from shipline.monitoring.traffic import TimeWindow
from shipline.project import Project
from tests.captures import capture_partition
from tests.unit.monitoring.test_labelled_checks import _loans
from tests.unit.monitoring.test_labelled_checks import trained as trained  # noqa: PLC0414

CLUSTER = InProcess(description="partitioned test", remote=True)


def _capture(project: Project, frame: pd.DataFrame, prefix: str, label_every: int) -> None:
    capture_partition(project, "loans@staging", frame, prefix, "repaid", label_every)


def _same(local: Any, partitioned: Any, where: str = "report") -> None:
    """Equal, numbers within 1e-9 relative."""
    if isinstance(local, dict):
        assert set(local) == set(partitioned), where
        for key in local:
            _same(local[key], partitioned[key], f"{where}.{key}")
    elif isinstance(local, list | tuple):
        assert len(local) == len(partitioned), where
        for index, (a, b) in enumerate(zip(local, partitioned, strict=True)):
            _same(a, b, f"{where}[{index}]")
    elif isinstance(local, float) and not isinstance(partitioned, bool):
        assert math.isclose(local, partitioned, rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(local) and math.isnan(partitioned)
        ), (where, local, partitioned)
    else:
        assert local == partitioned, (where, local, partitioned)


def _both(project: Project, window: TimeWindow, monitoring: MonitoringConfig) -> list[Any]:
    version = project.version("loans@staging")
    reports = []
    for executor in (None, CLUSTER):
        _, report = monitor_version(
            project.db(), project.store(), version, monitoring, "bot", window, None, True, executor
        )
        reports.append(report)
    return reports


def test_partitioned_window_gives_the_single_machine_report(project: Project) -> None:
    before = datetime.now(UTC)
    _capture(project, _loans(np.random.default_rng(11), 150), "early", 2)
    started = datetime.now(UTC)
    assert started > before
    rng = np.random.default_rng(12)
    shifted = _loans(rng, 400, concept="tenure")
    shifted["x3"] = shifted["x3"] + 1.5  # one feature drifts, with a histogram to draw
    _capture(project, _loans(rng, 300), "a", 3)
    _capture(project, shifted, "b", 2)
    _capture(project, _loans(rng, 200), "c", 10**6)  # one label only
    window = TimeWindow.resolve(timedelta(hours=1), since=started)
    monitoring = MonitoringConfig.model_validate(
        {
            "quality": {"metric": "accuracy", "min": 0.8},
            "bias": {"max": 0.2},
            "attribution": {"min_ndcg": 0.9},
        }
    )
    local, partitioned = _both(project, window, monitoring)
    assert partitioned.pop("computed_on") == "partitioned test"
    assert "computed_on" not in local
    local.pop("alarms"), partitioned.pop("alarms")
    _same(local, partitioned)
    # What was compared: the three partitions in the window, not the earlier one.
    assert local["rows"] == 900
    assert local["quality"]["captured_rows"] == 900
    assert local["quality"]["labelled_rows"] == 100 + 200 + 1
    assert "roc_auc" in local["quality"]["metrics"]  # the captured probabilities were used
    assert "x3" in local["histograms"] and local["features"]["columns"]
    assert {"estimated_quality", "bias", "attribution"} <= set(local)


def test_a_window_without_labels_or_rows(project: Project) -> None:
    started = datetime.now(UTC)
    rng = np.random.default_rng(21)
    _capture(project, _loans(rng, 120), "quiet", 10**6)
    window = TimeWindow.resolve(timedelta(hours=1), since=started)
    local, partitioned = _both(project, window, MonitoringConfig())
    local.pop("alarms"), partitioned.pop("alarms"), partitioned.pop("computed_on")
    _same(local, partitioned)
    empty = TimeWindow.resolve(timedelta(hours=1), until=started - timedelta(hours=1))
    version = project.version("loans@staging")
    with pytest.raises(NotFoundError, match="no captured traffic"):
        monitor_version(
            project.db(),
            project.store(),
            version,
            MonitoringConfig(),
            "bot",
            empty,
            executor=CLUSTER,
        )


def test_rules_for_unknown_columns_are_refused(project: Project) -> None:
    started = datetime.now(UTC)
    _capture(project, _loans(np.random.default_rng(31), 50), "rules", 10**6)
    override = {"nope": {"method": "ks", "threshold": 0.05}}
    rules = MonitoringConfig(drift=DriftConfig.model_validate({"columns": override}))
    window = TimeWindow.resolve(timedelta(hours=1), since=started)
    version = project.version("loans@staging")
    with pytest.raises(UsageError, match=r"monitoring\.drift\.columns\.nope"):
        monitor_version(
            project.db(), project.store(), version, rules, "bot", window, executor=CLUSTER
        )


def test_the_stored_report_names_where_it_was_measured(project: Project, trained: Path) -> None:
    started = datetime.now(UTC)
    _capture(project, _loans(np.random.default_rng(41), 80), "where", 10**6)
    window = TimeWindow.resolve(timedelta(hours=1), since=started)
    summary, _ = monitor_version(
        project.db(),
        project.store(),
        project.version("loans@staging"),
        MonitoringConfig(),
        "bot",
        window,
        executor=CLUSTER,
    )
    assert project.monitor_report(summary.id)["computed_on"] == "partitioned test"
