"""The task's quality metrics, one definition for training-time evaluation and for monitoring.

Labels are compared as text (labels from files arrive as JSON values, predictions as the
model's own types). For binary precision, recall and f1 the positive class is the model's last
class (scikit-learn's ``classes_`` order; without them, the larger of the labels seen).
``roc_auc`` and ``log_loss`` need class probabilities in the order of ``classes``; ``roc_auc``
for several classes needs every class among the labels.
"""

from __future__ import annotations

__all__ = [
    "PROBABILITY_METRICS",
    "compute_metrics",
    "label_metrics",
    "predict_proba",
    "probability_metrics",
]

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

# The classification metrics computed from class probabilities rather than labels.
PROBABILITY_METRICS = frozenset({"roc_auc", "log_loss"})


def predict_proba(model: Any, x: pd.DataFrame) -> np.ndarray | None:
    """Class probabilities when the model offers them, else None."""
    if not hasattr(model, "predict_proba"):
        return None
    try:
        return np.asarray(model.predict_proba(x))
    except (AttributeError, NotImplementedError):
        return None


def compute_metrics(
    task: str, model: Any, x: pd.DataFrame, y: pd.Series, wanted: str | None = None
) -> dict[str, float]:
    """Every metric of the task that can be computed (roc_auc and log_loss need
    probabilities); with ``wanted``, only the predictions that metric needs are made."""
    truth = np.asarray(y).tolist()
    if task == "regression":
        return label_metrics(task, truth, np.asarray(model.predict(x)).tolist())
    classes = getattr(model, "classes_", None)
    known = None if classes is None else [c.item() if hasattr(c, "item") else c for c in classes]
    values: dict[str, float] = {}
    if wanted is None or wanted not in PROBABILITY_METRICS:
        values = label_metrics(task, truth, np.asarray(model.predict(x)).tolist(), known)
    probabilities = None if wanted in values else predict_proba(model, x)
    if probabilities is not None:
        values |= probability_metrics(truth, probabilities, known or sorted(set(truth)))
    return values


def label_metrics(
    task: str, truth: Sequence[Any], predicted: Sequence[Any], classes: Sequence[Any] | None = None
) -> dict[str, float]:
    """Metrics from labels and predictions alone (r2 needs two rows)."""
    from sklearn import metrics as sk

    if task == "regression":
        actual, guessed = np.asarray(truth, dtype=float), np.asarray(predicted, dtype=float)
        values = {
            "rmse": math.sqrt(sk.mean_squared_error(actual, guessed)),
            "mae": sk.mean_absolute_error(actual, guessed),
            "mape": sk.mean_absolute_percentage_error(actual, guessed),
        }
        if len(actual) > 1:
            values["r2"] = sk.r2_score(actual, guessed)
        return {k: float(v) for k, v in values.items()}
    truth_text, predicted_text = [str(v) for v in truth], [str(v) for v in predicted]
    seen = set(truth_text) | set(predicted_text)
    average = "binary" if len(seen) == 2 else "macro"
    options: dict[str, Any] = {"average": average, "zero_division": 0}
    if average == "binary":
        options["pos_label"] = _positive(seen, truth, classes)
    return {
        "accuracy": float(sk.accuracy_score(truth_text, predicted_text)),
        "precision": float(sk.precision_score(truth_text, predicted_text, **options)),
        "recall": float(sk.recall_score(truth_text, predicted_text, **options)),
        "f1": float(sk.f1_score(truth_text, predicted_text, **options)),
    }


def _positive(seen: set[str], truth: Sequence[Any], classes: Sequence[Any] | None) -> str:
    """The positive class of a binary problem, as text: the model's last class, else the
    largest label (numbers compared as numbers)."""
    if classes and str(classes[-1]) in seen:
        return str(classes[-1])
    try:
        return str(sorted(set(truth))[-1])
    except TypeError:  # labels of mixed types
        return sorted(seen)[-1]


def probability_metrics(
    truth: Sequence[Any], probabilities: np.ndarray, classes: Sequence[Any]
) -> dict[str, float]:
    """roc_auc (one-vs-rest for several classes) and log_loss; labels not among ``classes``
    are left out."""
    from sklearn import metrics as sk

    names = [str(c) for c in classes]
    index = {name: position for position, name in enumerate(names)}
    known = [i for i, value in enumerate(truth) if str(value) in index]
    if not known:
        return {}
    y = np.asarray([index[str(truth[i])] for i in known])
    proba = np.asarray(probabilities, dtype=float)[known]
    positions = list(range(len(names)))
    values = {"log_loss": float(sk.log_loss(y, proba, labels=positions))}
    present = len(set(y.tolist()))
    if len(names) == 2 and present == 2:
        values["roc_auc"] = float(sk.roc_auc_score(y, proba[:, 1]))
    elif len(names) > 2 and present == len(names):
        values["roc_auc"] = float(sk.roc_auc_score(y, proba, multi_class="ovr", labels=positions))
    return values
