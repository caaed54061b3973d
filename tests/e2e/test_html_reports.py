"""HTML monitoring reports open in a real browser, whole, with their plots and nothing fetched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipline.scaffold import create_project


def _shipline(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "shipline", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _open(browser: Any, page_path: Path) -> tuple[Any, list[str]]:
    """The page, and every request it made that was not for the file itself."""
    page = browser.new_page()
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(page_path.as_uri())
    return page, [url for url in fetched if url != page_path.as_uri()]


def test_monitor_html_shows_scores_histograms_and_history(tmp_path: Path, browser: Any) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    assert _shipline(folder, "run").returncode == 0
    features = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(
        columns=["benign", "sample_id"]
    )
    features.to_csv(folder / "same.csv", index=False)
    (features * 1.6).to_csv(folder / "shifted.csv", index=False)
    assert _shipline(folder, "monitor", "cancer@staging", "--current", "same.csv").returncode == 0
    drifted = _shipline(
        folder, "monitor", "cancer@staging", "--current", "shifted.csv", "--html", "report.html"
    )
    assert drifted.returncode == 1, drifted.stderr
    page, fetched = _open(browser, folder / "report.html")
    assert fetched == []
    assert "monitoring report 2" in page.title()
    assert page.locator("svg[aria-label='drift score per column'] rect.score").count() == 31
    histograms = page.locator("svg[aria-label^='histogram ']")
    assert histograms.count() >= 15
    first = histograms.first.locator("rect.current")
    assert first.count() == 20 and first.first.bounding_box() is not None
    assert page.locator("svg[aria-label='reports over time'] polyline.series").count() >= 2
    assert "DATASET DRIFT" in page.inner_text("body")
    page.close()
    shown = _shipline(folder, "monitor", "show", "1", "--html", "first.html")
    assert shown.returncode == 0
    page, _ = _open(browser, folder / "first.html")
    assert "no dataset drift" in page.inner_text("body")
    assert page.locator("svg[aria-label^='histogram ']").count() == 0
    page.close()


def test_drift_html_for_two_files(tmp_path: Path, browser: Any) -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"age": rng.normal(40, 10, 3000), "plan": rng.choice(["basic", "pro"], 3000)}
    )
    current = pd.DataFrame(
        {"age": rng.normal(48, 10, 3000), "plan": rng.choice(["basic", "pro", "team"], 3000)}
    )
    reference.to_csv(tmp_path / "ref.csv", index=False)
    current.to_csv(tmp_path / "cur.csv", index=False)
    result = _shipline(tmp_path, "drift", "ref.csv", "cur.csv", "--html", "drift.html")
    assert result.returncode == 1
    page, fetched = _open(browser, tmp_path / "drift.html")
    assert fetched == [] and "Drift: cur.csv against ref.csv" in page.title()
    labels = page.locator("svg[aria-label^='histogram ']")
    assert labels.count() == 2
    assert page.locator("svg[aria-label='histogram plan'] rect.current").count() == 3
    page.close()


def test_html_to_a_missing_folder_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    pd.DataFrame({"a": [1.0, 2.0, 3.0]}).to_csv(tmp_path / "ref.csv", index=False)
    result = _shipline(tmp_path, "drift", "ref.csv", "ref.csv", "--html", "nowhere/d.html")
    assert result.returncode != 0 and "folder nowhere does not exist" in result.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.fixture(autouse=True)
def _no_shipline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
        monkeypatch.delenv(key)
