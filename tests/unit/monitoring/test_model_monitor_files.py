"""SageMaker Model Monitor files: the documented shapes, with values checked by hand."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipline.monitoring.model_monitor_files import constraints, statistics
from shipline.project import Project
from shipline.scaffold import create_project


def test_statistics_and_constraints_shapes_and_values() -> None:
    columns = {
        "age": np.array([21, 35, 50, 64], dtype=np.int64),
        "income": np.array([1.5, np.nan, -2.0, 4.5]),
        "plan": np.asarray(["basic", "pro", None, "basic"], dtype=object),
    }
    stats = statistics(columns)
    assert stats["version"] == 0 and stats["dataset"] == {"item_count": 4}
    age, income, plan = stats["features"]
    assert age["inferred_type"] == "Integral" and income["inferred_type"] == "Fractional"
    numbers = income["numerical_statistics"]
    assert numbers["common"] == {"num_present": 3, "num_missing": 1}
    assert numbers["mean"] == pytest.approx(4 / 3) and numbers["sum"] == pytest.approx(4.0)
    assert numbers["std_dev"] == pytest.approx(np.std([1.5, -2.0, 4.5]))
    assert (numbers["min"], numbers["max"]) == (-2.0, 4.5)
    buckets = numbers["distribution"]["kll"]["buckets"]
    assert len(buckets) == 10 and sum(b["count"] for b in buckets) == 3
    assert numbers["distribution"]["kll"]["sketch"]["data"] == [[-2.0, 1.5, 4.5]]
    assert plan["inferred_type"] == "String"
    strings = plan["string_statistics"]
    assert (
        strings["common"] == {"num_present": 3, "num_missing": 1} and strings["distinct_count"] == 2
    )
    assert strings["distribution"]["categorical"]["buckets"] == [
        {"value": "basic", "count": 2},
        {"value": "pro", "count": 1},
    ]
    implied = constraints(stats)
    by_name = {f["name"]: f for f in implied["features"]}
    assert by_name["age"]["num_constraints"] == {"is_non_negative": True}
    assert by_name["income"]["num_constraints"] == {"is_non_negative": False}
    assert by_name["income"]["completeness"] == pytest.approx(0.75)
    assert by_name["plan"]["string_constraints"] == {"domains": ["basic", "pro"]}
    config = implied["monitoring_config"]
    assert config["evaluate_constraints"] == "Enabled"
    assert config["distribution_constraints"]["comparison_threshold"] == 0.1


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
        monkeypatch.delenv(key)
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    with Project.open(folder) as opened:
        assert opened.run().status == "succeeded"
        yield opened


def test_export_and_violations_of_a_report(project: Project) -> None:
    folder = project.settings.project_dir
    frame = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(columns=["benign", "sample_id"])
    shifted = frame * 1.6
    shifted.loc[:50, "mean area"] = np.nan
    shifted.to_csv(folder / "shifted.csv", index=False)
    summary, _ = project.monitor("cancer@staging", folder / "shifted.csv")
    written = project.export_model_monitor_files("cancer@staging", folder / "mm", summary.id)
    assert [p.name for p in written] == [
        "statistics.json",
        "constraints.json",
        "constraint_violations.json",
    ]
    stats = json.loads((folder / "mm" / "statistics.json").read_text())
    assert (
        len(stats["features"]) == 30 and stats["dataset"]["item_count"] == 426
    )  # the training split
    violations = json.loads((folder / "mm" / "constraint_violations.json").read_text())[
        "violations"
    ]
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("mean area", "completeness_check") in kinds
    assert sum(1 for _, kind in kinds if kind == "baseline_drift_check") >= 15
