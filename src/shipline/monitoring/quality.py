"""Model quality once ground truth arrives: captured predictions joined with labels.

Labels (``shipline labels add``) are matched to captured rows by request id and row. The task's
metrics on the matched rows are compared with the training-time metrics and with
``monitoring.quality``. Rows without a label yet are left out, and counted.
"""

from __future__ import annotations

__all__ = ["LabelledRows", "labelled_quality", "labelled_rows"]

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from sqlalchemy import select, tuple_

from shipline.config.schema import QualityRule
from shipline.evaluation.metrics import label_metrics, probability_metrics
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
    predicted = predictions[labelled.positions].tolist()
    metrics = label_metrics(task, labelled.truth, predicted, classes)
    if probabilities is not None and classes:
        metrics |= probability_metrics(labelled.truth, probabilities[labelled.positions], classes)
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
