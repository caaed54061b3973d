"""Fairness of a classifier's decisions across the groups of sensitive columns."""

from __future__ import annotations

__all__ = ["bias_report"]

from typing import Any

import numpy as np
import pandas as pd

from shipline.config.schema import BiasConfig


def bias_report(
    config: BiasConfig,
    frame: pd.DataFrame,
    y: pd.Series,
    predicted: np.ndarray,
    positive: Any = None,
) -> dict[str, Any]:
    """Per sensitive column: rates per group and the gap between the extreme groups.

    Demographic parity difference: the largest gap in the share predicted positive.
    Equal opportunity difference: the largest gap in the true positive rate.
    The positive class, unless given, is the last class in sorted order (1 for 0/1 labels).
    """
    if positive is None:
        positive = np.sort(pd.unique(np.asarray(y)))[-1]
    hit = np.asarray(predicted) == positive
    actual = np.asarray(y) == positive
    columns: dict[str, Any] = {}
    for column in config.sensitive:
        groups = frame[column].astype("string").fillna("<missing>").to_numpy()
        selection, opportunity = {}, {}
        for group in np.unique(groups):
            members = groups == group
            selection[str(group)] = float(hit[members].mean())
            positives = members & actual
            if positives.any():
                opportunity[str(group)] = float(hit[positives].mean())
        rates = selection if config.metric == "demographic_parity_difference" else opportunity
        gap = float(max(rates.values()) - min(rates.values())) if len(rates) > 1 else 0.0
        columns[column] = {
            "metric": config.metric,
            "value": gap,
            "max": config.max,
            "passed": gap <= config.max,
            "selection_rate": selection,
            "true_positive_rate": opportunity,
        }
    return {"positive_class": _plain(positive), "columns": columns}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
