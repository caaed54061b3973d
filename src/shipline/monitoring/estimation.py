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

Multiclass classifiers: each class's probability is calibrated one-vs-rest and the rows are
renormalised; the predicted class is the model's (highest probability). Per class, a row
predicted as it adds p to its true positives and 1 - p to its false positives, any other row p
to its false negatives. Accuracy is the mean probability of the predicted class; precision,
recall, F1 and ROC AUC (one-vs-rest, fractional labels) are macro averages over the classes.
"""

from __future__ import annotations

__all__ = ["ASSUMPTION", "estimate_multiclass", "estimate_performance"]

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
    """Binary: estimated metrics for the current rows, the reference's realised ones, bands."""
    truth = (np.asarray(reference_truth) == positive).astype(float)
    calibrate, calibrated = _calibration(reference_proba, truth, seed)
    reference_p, current_p = calibrate(reference_proba), calibrate(current_proba)
    rng = np.random.default_rng(seed)
    samples = [
        _expected_metrics(reference_p[rng.integers(0, len(reference_p), len(current_p))])
        for _ in range(_BOOTSTRAP)
    ]
    realised = _realised(reference_proba, truth)
    return _report(_expected_metrics(current_p), samples, calibrated, len(current_p), realised)


def estimate_multiclass(
    reference_proba: np.ndarray,
    reference_truth: np.ndarray,
    current_proba: np.ndarray,
    classes: list[Any],
    seed: int = 0,
) -> dict[str, Any]:
    """Multiclass: probabilities of shape (rows, classes), columns in ``classes`` order."""
    names = np.asarray([str(c) for c in classes])
    truth = (np.asarray([str(t) for t in reference_truth])[:, None] == names[None, :]).astype(float)
    calibrators = [
        _calibration(reference_proba[:, k], truth[:, k], seed) for k in range(len(classes))
    ]

    def calibrate(proba: np.ndarray) -> np.ndarray:
        stacked = np.column_stack([f(proba[:, k]) for k, (f, _) in enumerate(calibrators)])
        totals = stacked.sum(axis=1, keepdims=True)
        normalised: np.ndarray = np.where(
            totals > 0, stacked / np.where(totals > 0, totals, 1), proba
        )
        return normalised

    reference_p, current_p = calibrate(reference_proba), calibrate(current_proba)
    reference_pick, current_pick = reference_proba.argmax(axis=1), current_proba.argmax(axis=1)
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(_BOOTSTRAP):
        chosen = rng.integers(0, len(reference_p), len(current_p))
        samples.append(_expected_multiclass(reference_p[chosen], reference_pick[chosen]))
    hits = truth[np.arange(len(truth)), reference_pick]
    realised = {"accuracy": float(hits.mean()) if len(hits) else float("nan")}
    return _report(
        _expected_multiclass(current_p, current_pick),
        samples,
        any(used for _, used in calibrators),
        len(current_p),
        realised,
    )


def _report(
    estimate: dict[str, float],
    samples: list[dict[str, float]],
    calibrated: bool,
    rows: int,
    realised: dict[str, float],
) -> dict[str, Any]:
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
        "rows": rows,
        "estimated": estimate,
        "reference_realised": realised,
        "bands": bands,
        "outside_band": sorted(
            m for m, b in bands.items() if not b["lower"] <= estimate[m] <= b["upper"]
        ),
    }


def _expected_multiclass(p: np.ndarray, picked: np.ndarray) -> dict[str, float]:
    if len(p) == 0:
        return dict.fromkeys(("accuracy", "precision", "recall", "f1", "roc_auc"), float("nan"))
    chosen = np.zeros_like(p, dtype=bool)
    chosen[np.arange(len(p)), picked] = True
    tp = (p * chosen).sum(axis=0)
    fp = ((1 - p) * chosen).sum(axis=0)
    fn = (p * ~chosen).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), np.nan)
    aucs = [_fractional_auc(p[:, k]) for k in range(p.shape[1])]
    return {
        "accuracy": float(p[np.arange(len(p)), picked].mean()),
        "precision": float(np.nanmean(precision)) if np.isfinite(precision).any() else float("nan"),
        "recall": float(np.nanmean(recall)) if np.isfinite(recall).any() else float("nan"),
        "f1": float(np.nanmean(f1)) if np.isfinite(f1).any() else float("nan"),
        "roc_auc": float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan"),
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
