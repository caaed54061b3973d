"""Bias drift: the fairness metrics of training, recomputed on labelled traffic.

The sensitive columns and the metric are those the version was evaluated with at training time
(``evaluation.bias``); ``monitoring.bias.max`` bounds how far from 0 they may move in serving.
A sensitive column that is not a model input is not captured, so it is reported, not judged.
"""

from __future__ import annotations

__all__ = ["bias_drift"]

from typing import Any

import numpy as np

from shipline.config.schema import BiasConfig, BiasLimit
from shipline.evaluation.bias import bias_report

_MIN_ROWS = 10


def bias_drift(
    baseline: dict[str, Any] | None,
    columns: dict[str, np.ndarray],
    truth: list[Any],
    predicted: list[Any],
    limit: BiasLimit | None,
) -> dict[str, Any] | None:
    """Per sensitive column: the training value, the value on labelled traffic, the verdict.

    None when the version was trained without ``evaluation.bias``.
    """
    import pandas as pd

    if not baseline or not baseline.get("columns"):
        return None
    trained = baseline["columns"]
    metric = next(iter(trained.values()))["metric"]
    maximum = limit.max if limit is not None else next(iter(trained.values()))["max"]
    result: dict[str, Any] = {"metric": metric, "max": maximum, "rows": len(truth)}
    missing = [c for c in trained if c not in columns]
    present = [c for c in trained if c in columns]
    notes = [f"{c!r} is not a model input, so traffic does not hold it" for c in missing]
    if len(truth) < _MIN_ROWS or not present:
        notes.append(f"needs at least {_MIN_ROWS} labelled rows with a sensitive column")
        return {**result, "columns": {}, "passed": None, "notes": notes}
    # Labels come from files and predictions from the model: compare them as text.
    current = bias_report(
        BiasConfig(sensitive=present, metric=metric, max=maximum),
        pd.DataFrame({c: columns[c] for c in present}),
        pd.Series([str(v) for v in truth]),
        np.asarray([str(v) for v in predicted]),
        positive=str(baseline["positive_class"]),
    )
    judged = {
        column: {
            "training": trained[column]["value"],
            "current": values["value"],
            "passed": values["passed"],
            "selection_rate": values["selection_rate"],
            "true_positive_rate": values["true_positive_rate"],
        }
        for column, values in current["columns"].items()
    }
    passed = all(c["passed"] for c in judged.values())
    return {**result, "columns": judged, "passed": passed, "notes": notes}
