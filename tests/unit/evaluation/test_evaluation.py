"""Bias, gates and metrics on small frames whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipline.config.schema import BiasConfig, Gate
from shipline.evaluation import apply_gates, bias_report, compute_metrics


def test_demographic_parity_and_equal_opportunity_by_hand() -> None:
    frame = pd.DataFrame({"gender": ["f", "f", "f", "f", "m", "m", "m", "m"]})
    truth = pd.Series([1, 1, 0, 0, 1, 1, 0, 0])
    predicted = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    parity = bias_report(BiasConfig(sensitive=["gender"], max=0.3), frame, truth, predicted)[
        "columns"
    ]["gender"]
    assert parity["selection_rate"] == {"f": 0.25, "m": 0.75}
    assert parity["value"] == pytest.approx(0.5) and parity["passed"] is False
    config = BiasConfig(sensitive=["gender"], metric="equal_opportunity_difference", max=0.6)
    opportunity = bias_report(config, frame, truth, predicted)["columns"]["gender"]
    assert opportunity["true_positive_rate"] == {"f": 0.5, "m": 1.0}
    assert opportunity["value"] == pytest.approx(0.5) and opportunity["passed"] is True


def test_gates_absolute_comparison_and_direction() -> None:
    gates = [
        Gate(metric="roc_auc", min=0.8),
        Gate(metric="roc_auc", vs="production", max_drop=0.01),
        Gate(metric="log_loss", vs="production", max_drop=0.05),
    ]
    champion = {"roc_auc": 0.90, "log_loss": 0.30}
    better = apply_gates(
        gates, {"roc_auc": 0.895, "log_loss": 0.34}, {"production": champion}, None
    )
    assert better.passed
    worse = apply_gates(gates, {"roc_auc": 0.85, "log_loss": 0.40}, {"production": champion}, None)
    failed = {(r["metric"], r["rule"]) for r in worse.failures()}
    assert failed == {
        ("roc_auc", "drop vs production <= 0.01"),
        ("log_loss", "drop vs production <= 0.05"),
    }
    first = apply_gates(gates, {"roc_auc": 0.85, "log_loss": 0.4}, {"production": None}, None)
    assert first.passed  # nothing in production yet: comparisons pass, and say so
    assert any(r["rule"] == "no production version to compare with" for r in first.rules)
    missing = apply_gates([Gate(metric="roc_auc", min=0.5)], {}, {}, None)
    assert not missing.passed and missing.rules[0]["rule"] == "metric must be computable"


def test_regression_metrics_by_hand() -> None:
    class Constant:
        def predict(self, x: pd.DataFrame) -> np.ndarray:
            return np.full(len(x), 2.0)

    x = pd.DataFrame({"a": [0, 0, 0, 0]})
    metrics = compute_metrics("regression", Constant(), x, pd.Series([1.0, 3.0, 1.0, 3.0]))
    assert metrics["rmse"] == pytest.approx(1.0) and metrics["mae"] == pytest.approx(1.0)
    assert metrics["r2"] == pytest.approx(0.0)
