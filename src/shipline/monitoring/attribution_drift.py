"""Feature-attribution drift: does the model still rely on the features it relied on?

Permutation importance is recomputed on recent labelled traffic, with the scoring of training
(accuracy or R²). The current ranking is compared with the training ranking by nDCG, with the
training importances (negative ones as 0) as relevance, as SageMaker Clarify does: 1 means the
same order of the features that mattered; below ``monitoring.attribution.min_ndcg`` (0.9 by
default) the alarm opens.
"""

from __future__ import annotations

__all__ = ["attribution_drift"]

from typing import Any

import numpy as np

from shipline.config.schema import AttributionLimit
from shipline.scoring import LoadedModel

MIN_ROWS = 30
_REPEATS = 5


def attribution_drift(
    model: LoadedModel,
    baseline: dict[str, Any] | None,
    columns: dict[str, np.ndarray],
    truth: list[Any],
    task: str,
    limit: AttributionLimit | None,
    seed: int = 0,
) -> dict[str, Any] | None:
    """The nDCG of the current importance ranking against training; None without a baseline."""
    if not baseline or not baseline.get("features"):
        return None
    minimum = limit.min_ndcg if limit is not None else 0.9
    trained = {f["feature"]: max(float(f["importance"]), 0.0) for f in baseline["features"]}
    result: dict[str, Any] = {"min_ndcg": minimum, "rows": len(truth), "scoring": None}
    if len(truth) < MIN_ROWS:
        note = f"needs at least {MIN_ROWS} labelled rows, found {len(truth)}"
        return {**result, "ndcg": None, "passed": None, "note": note}
    if not any(trained.values()):
        note = "no feature had a positive importance at training"
        return {**result, "ndcg": None, "passed": None, "note": note}
    current, scoring = _importances(model, columns, truth, task, seed)
    names = list(current)
    relevance = np.asarray([[trained.get(n, 0.0) for n in names]])
    scores = np.asarray([[current[n] for n in names]])
    from sklearn.metrics import ndcg_score

    ndcg = float(ndcg_score(relevance, scores, k=len(trained)))
    ranked = sorted(current, key=lambda n: -current[n])
    return {
        **result,
        "scoring": scoring,
        "ndcg": ndcg,
        "passed": ndcg >= minimum,
        "training_ranking": list(trained),
        "current_ranking": ranked[: len(trained)],
        "current_importance": {n: current[n] for n in ranked[: len(trained)]},
    }


def _importances(
    model: LoadedModel, columns: dict[str, np.ndarray], truth: list[Any], task: str, seed: int
) -> tuple[dict[str, float], str]:
    import pandas as pd
    from sklearn.inspection import permutation_importance

    estimator = model.bundle.estimator
    frame = pd.DataFrame(model.frame(columns, len(truth)))
    if task == "regression":
        target = np.asarray(truth, dtype=float)
        scoring = "r2"
    else:
        # Labels come from files as JSON values; the estimator knows its classes' own types.
        by_text = {str(c): c for c in model.bundle.classes or []}
        target = np.asarray([by_text.get(str(v), v) for v in truth])
        scoring = "accuracy"
    found = permutation_importance(
        estimator, frame, target, scoring=scoring, n_repeats=_REPEATS, random_state=seed, n_jobs=1
    )
    means = zip(frame.columns, found.importances_mean, strict=True)
    return {str(name): float(value) for name, value in means}, scoring
