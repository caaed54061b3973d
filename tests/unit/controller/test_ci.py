"""`shipline ci`: gates judged against the team's production, nothing written to its registry."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from shipline.project import Project
from shipline.scaffold import create_project
from tests.served import shipline_env


def _ci(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipline", "ci", *args],
        cwd=folder,
        env=shipline_env("ci-bot"),
        capture_output=True,
        text=True,
        check=False,
    )


def test_ci_judges_against_production_and_registers_nothing(
    project: Project, folder: Path, write_config: Callable[[str], None]
) -> None:
    write_config("")
    project.apply()  # production: auto, as applied (a local file alone decides nothing)
    assert project.run().status == "succeeded"
    assert project.promote("churn", 1, "production").moved
    production = project.version("churn@production")
    passing = _ci(folder, "--sample", "200", "--json")
    assert passing.returncode == 0, passing.stderr
    result = json.loads(passing.stdout)
    assert result["passed"] is True and result["production"] == production.version
    assert result["rows"] == 60  # the held-out 30% of the 200 sampled rows
    compared = {c["metric"]: c for c in result["comparison"]}
    assert compared["accuracy"]["production"] == production.metrics["accuracy"]
    config = folder / "shipline.yaml"
    worse = (
        config.read_text()
        .replace(
            "- {metric: accuracy, min: 0.6}", "- {metric: accuracy, vs: production, max_drop: 0.01}"
        )
        .replace("sklearn.linear_model.LogisticRegression", "sklearn.dummy.DummyClassifier")
    )
    config.write_text(worse)
    failing = _ci(folder, "--sample", "200")
    assert failing.returncode == 1 and "FAIL" in failing.stdout and "ci: FAILED" in failing.stdout
    assert "drop vs production" in failing.stdout
    assert [v.version for v in project.versions("churn")] == [production.version]
    assert len(project.runs(model="churn")) == 1


def test_ci_refuses_a_bad_config(folder: Path, write_config: Callable[[str], None]) -> None:
    write_config("")
    config = folder / "shipline.yaml"
    config.write_text(config.read_text().replace("task: classification", "task: clustering"))
    result = _ci(folder)
    assert result.returncode == 2 and "shipline.yaml" in result.stderr


def test_init_writes_a_ci_workflow_that_calls_shipline_ci(tmp_path: Path) -> None:
    written = create_project(tmp_path / "p", "classification")
    workflow = tmp_path / "p" / ".github" / "workflows" / "shipline.yml"
    assert workflow in written
    steps = yaml.safe_load(workflow.read_text())["jobs"]["model"]["steps"]
    assert any(str(s.get("run", "")).startswith("shipline ci") for s in steps)
