"""Quality metrics of a model on a labelled frame."""

from __future__ import annotations

__all__ = ["compute_metrics", "predict_proba"]

import math
from typing import Any

import numpy as np
import pandas as pd


def predict_proba(model: Any, x: pd.DataFrame) -> np.ndarray | None:
    """Class probabilities when the model offers them, else None."""
    if not hasattr(model, "predict_proba"):
        return None
    try:
        return np.asarray(model.predict_proba(x))
    except (AttributeError, NotImplementedError):
        return None


def compute_metrics(task: str, model: Any, x: pd.DataFrame, y: pd.Series) -> dict[str, float]:
    """Every metric of the task that can be computed (roc_auc and log_loss need probabilities)."""
    from sklearn import metrics as sk

    predicted = model.predict(x)
    if task == "regression":
        truth = np.asarray(y, dtype=float)
        values = {
            "rmse": math.sqrt(sk.mean_squared_error(truth, predicted)),
            "mae": sk.mean_absolute_error(truth, predicted),
            "r2": sk.r2_score(truth, predicted),
            "mape": sk.mean_absolute_percentage_error(truth, predicted),
        }
        return {k: float(v) for k, v in values.items()}
    classes = np.unique(np.asarray(y))
    average = "binary" if len(classes) == 2 else "macro"
    positive = {"pos_label": classes[-1]} if average == "binary" else {}
    values = {
        "accuracy": sk.accuracy_score(y, predicted),
        "precision": sk.precision_score(y, predicted, average=average, zero_division=0, **positive),
        "recall": sk.recall_score(y, predicted, average=average, zero_division=0, **positive),
        "f1": sk.f1_score(y, predicted, average=average, zero_division=0, **positive),
    }
    probabilities = predict_proba(model, x)
    if probabilities is not None:
        labels = list(getattr(model, "classes_", classes))
        if len(labels) == 2:
            values["roc_auc"] = sk.roc_auc_score(y, probabilities[:, 1])
        elif len(np.unique(np.asarray(y))) == len(labels):
            values["roc_auc"] = sk.roc_auc_score(y, probabilities, multi_class="ovr", labels=labels)
        values["log_loss"] = sk.log_loss(y, probabilities, labels=labels)
    return {k: float(v) for k, v in values.items()}
