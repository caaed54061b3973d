"""Performance estimated without labels: confidence-based estimation (CBPE) for classifiers.

Assumption, stated in every report: no concept drift. The relation between inputs and the
label (P(y | x)) is the same as in the reference; only the inputs moved. Under it, a calibrated
probability is the chance that the prediction is right, so the expected confusion matrix of
the current rows follows from their probabilities alone.

Steps (binary classifiers):
1. Reference: the version's held-out split with its true labels (its probabilities are honest;
   the training split's would be overconfident).
2. Calibration: isotonic regression on the reference probabilities, kept only when it lowers the
   expected calibration error on a held-out half of the reference.
3. Current: the calibrated probability p of the positive class; for a row predicted positive the
   expected true positives gain p and false positives 1 - p, for one predicted negative the true
   negatives gain 1 - p and false negatives p. Accuracy, precision, recall and F1 follow; ROC AUC
   is the AUC of p against fractional labels (p as positive weight, 1 - p as negative weight).
4. Alert band: the same estimate on bootstrap chunks of the reference of the current size; the
   band is the mean ± 3 standard deviations.
"""

from __future__ import annotations

__all__ = ["ASSUMPTION", "estimate_performance"]

from typing import Any

import numpy as np

ASSUMPTION = (
    "no concept drift: P(label | inputs) is the same as in the reference; only the inputs changed"
)
_BINS = 10
_BOOTSTRAP = 50


def estimate_performance(
    reference_proba: np.ndarray,
    reference_truth: np.ndarray,
    current_proba: np.ndarray,
    positive: Any,
    seed: int = 0,
) -> dict[str, Any]:
    """Estimated metrics for the current rows, the reference's realised ones, and alert bands."""
    truth = (np.asarray(reference_truth) == positive).astype(float)
    calibrate, calibrated = _calibration(reference_proba, truth, seed)
    reference_p, current_p = calibrate(reference_proba), calibrate(current_proba)
    estimate = _expected_metrics(current_p)
    rng = np.random.default_rng(seed)
    size = len(current_p)
    samples = [
        _expected_metrics(reference_p[rng.integers(0, len(reference_p), size)])
        for _ in range(_BOOTSTRAP)
    ]
    bands = {}
    for metric in estimate:
        values = np.array([s[metric] for s in samples if not np.isnan(s[metric])])
        if values.size:
            mean, spread = float(values.mean()), float(values.std())
            bands[metric] = {"lower": mean - 3 * spread, "upper": mean + 3 * spread}
    return {
        "method": "CBPE",
        "assumption": ASSUMPTION,
        "calibrated": calibrated,
        "rows": size,
        "estimated": estimate,
        "reference_realised": _realised(reference_proba, truth),
        "bands": bands,
        "outside_band": sorted(
            m for m, b in bands.items() if not b["lower"] <= estimate[m] <= b["upper"]
        ),
    }


def _calibration(proba: np.ndarray, truth: np.ndarray, seed: int) -> tuple[Any, bool]:
    """Isotonic calibration if it lowers the calibration error on a held-out half."""
    from sklearn.isotonic import IsotonicRegression

    def identity(p: np.ndarray) -> np.ndarray:
        clipped: np.ndarray = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
        return clipped

    if len(proba) < 40 or len(np.unique(truth)) < 2:
        return identity, False
    order = np.random.default_rng(seed).permutation(len(proba))
    fit, check = order[: len(order) // 2], order[len(order) // 2 :]
    trial = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
        proba[fit], truth[fit]
    )
    if _ece(trial.predict(proba[check]), truth[check]) >= _ece(proba[check], truth[check]):
        return identity, False
    model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(proba, truth)
    return (lambda p: np.asarray(model.predict(np.asarray(p, dtype=float)), dtype=float)), True


def _ece(proba: np.ndarray, truth: np.ndarray) -> float:
    edges = np.linspace(0.0, 1.0, _BINS + 1)
    which = np.clip(np.digitize(proba, edges[1:-1]), 0, _BINS - 1)
    error = 0.0
    for index in range(_BINS):
        members = which == index
        if members.any():
            error += members.mean() * abs(proba[members].mean() - truth[members].mean())
    return float(error)


def _expected_metrics(p: np.ndarray) -> dict[str, float]:
    predicted = p >= 0.5
    tp, fp = float(p[predicted].sum()), float((1 - p[predicted]).sum())
    tn, fn = float((1 - p[~predicted]).sum()), float(p[~predicted].sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else float("nan")
    return {
        "accuracy": (tp + tn) / len(p) if len(p) else float("nan"),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": _fractional_auc(p),
    }


def _fractional_auc(p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(p) < 2:
        return float("nan")
    scores = np.concatenate([p, p])
    labels = np.concatenate([np.ones(len(p)), np.zeros(len(p))])
    weights = np.concatenate([p, 1 - p])
    if weights[: len(p)].sum() == 0 or weights[len(p) :].sum() == 0:
        return float("nan")
    return float(roc_auc_score(labels, scores, sample_weight=weights))


def _realised(proba: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    predicted = (proba >= 0.5).astype(float)
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "f1": float(f1_score(truth, predicted, zero_division=0)),
    }
