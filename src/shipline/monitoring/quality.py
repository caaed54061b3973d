"""Model quality once ground truth arrives: captured predictions joined with labels.

Labels (``shipline labels add``) are matched to captured rows by request id and row. The task's
metrics on the matched rows are compared with the training-time metrics and with
``monitoring.quality``. Rows without a label yet are left out, and counted.
"""

from __future__ import annotations

__all__ = ["LabelledRows", "labelled_quality", "labelled_rows"]

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import select, tuple_

from shipline.config.schema import QualityRule
from shipline.store import Database
from shipline.store.tables import labels

_CHUNK = 500


@dataclass(frozen=True)
class LabelledRows:
    """The rows of a window that have a label: their positions in the window and true values."""

    positions: np.ndarray
    truth: list[Any]
    captured: int


def labelled_rows(db: Database, request_ids: list[str], rows: list[int]) -> LabelledRows:
    """Join a window's captured rows with the labels stored for them."""
    keys = list(zip(request_ids, rows, strict=True))
    found = _labels(db, keys)
    positions = [index for index, key in enumerate(keys) if key in found]
    return LabelledRows(
        np.asarray(positions, dtype=np.int64), [found[keys[i]] for i in positions], len(keys)
    )


def labelled_quality(
    task: str,
    labelled: LabelledRows,
    predictions: np.ndarray,
    rule: QualityRule | None,
    training: dict[str, float],
    probabilities: np.ndarray | None = None,
    classes: list[Any] | None = None,
) -> dict[str, Any]:
    """Metrics on the labelled share of the window, against training and the rule; with the
    captured class probabilities, roc_auc and log_loss too."""
    result: dict[str, Any] = {
        "captured_rows": labelled.captured,
        "labelled_rows": len(labelled.truth),
    }
    if not labelled.truth:
        return {**result, "metrics": {}, "passed": None, "note": "no labels for these requests yet"}
    metrics = _metrics(task, labelled.truth, predictions[labelled.positions].tolist())
    if probabilities is not None and classes:
        metrics |= _probability_metrics(labelled.truth, probabilities[labelled.positions], classes)
    result |= {
        "metrics": metrics,
        "training_metrics": {k: training[k] for k in metrics if k in training},
        "rule": None if rule is None else rule.model_dump(),
        "passed": None,
    }
    if rule is not None and rule.metric in metrics:
        value = metrics[rule.metric]
        result["passed"] = (rule.min is None or value >= rule.min) and (
            rule.max is None or value <= rule.max
        )
    elif rule is not None:
        result["note"] = (
            f"{rule.metric} needs class probabilities, which these captures do not hold "
            "(captured before probabilities were recorded)"
            if probabilities is None
            else f"{rule.metric} cannot be computed on these labels (a single class?)"
        )
    return result


def _probability_metrics(
    truth: list[Any], probabilities: np.ndarray, classes: list[Any]
) -> dict[str, float]:
    """roc_auc (one-vs-rest for several classes) and log_loss from captured probabilities."""
    from sklearn import metrics as sk

    names = [str(c) for c in classes]
    index = {name: position for position, name in enumerate(names)}
    known = [i for i, value in enumerate(truth) if str(value) in index]
    if not known:
        return {}
    y = np.asarray([index[str(truth[i])] for i in known])
    proba = np.asarray(probabilities[known], dtype=float)
    values = {"log_loss": float(sk.log_loss(y, proba, labels=list(range(len(names)))))}
    if len(set(y.tolist())) > 1:
        values["roc_auc"] = float(
            sk.roc_auc_score(y, proba[:, 1])
            if len(names) == 2
            else sk.roc_auc_score(y, proba, multi_class="ovr", labels=list(range(len(names))))
        )
    return values


def _labels(db: Database, keys: list[tuple[str, int]]) -> dict[tuple[str, int], Any]:
    found: dict[tuple[str, int], Any] = {}
    with db.read() as conn:
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            query = select(labels.c.request_id, labels.c.row, labels.c.value).where(
                tuple_(labels.c.request_id, labels.c.row).in_(chunk)
            )
            for row in conn.execute(query):
                found[(row.request_id, row.row)] = orjson.loads(row.value)
    return found


def _metrics(task: str, y_true: list[Any], y_pred: list[Any]) -> dict[str, float]:
    from sklearn import metrics as sk

    if task == "regression":
        truth, predicted = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
        values = {
            "rmse": math.sqrt(sk.mean_squared_error(truth, predicted)),
            "mae": sk.mean_absolute_error(truth, predicted),
            "mape": sk.mean_absolute_percentage_error(truth, predicted),
        }
        if len(truth) > 1:
            values["r2"] = sk.r2_score(truth, predicted)
        return {k: float(v) for k, v in values.items()}
    # Labels come from files and predictions from the model: compare them as text.
    truth_text, predicted_text = [str(v) for v in y_true], [str(v) for v in y_pred]
    classes = sorted(set(truth_text) | set(predicted_text))
    average = "binary" if len(classes) == 2 else "macro"
    positive = {"pos_label": classes[-1]} if average == "binary" else {}
    return {
        "accuracy": float(sk.accuracy_score(truth_text, predicted_text)),
        "precision": float(
            sk.precision_score(
                truth_text, predicted_text, average=average, zero_division=0, **positive
            )
        ),
        "recall": float(
            sk.recall_score(
                truth_text, predicted_text, average=average, zero_division=0, **positive
            )
        ),
        "f1": float(
            sk.f1_score(truth_text, predicted_text, average=average, zero_division=0, **positive)
        ),
    }
