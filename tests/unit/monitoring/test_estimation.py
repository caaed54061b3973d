"""Label-free estimation (CBPE): estimates track realised quality under covariate shift."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from shipline.monitoring.estimation import ASSUMPTION, estimate_performance

TOLERANCE = 0.03


def _draw(rng: np.random.Generator, rows: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Inputs move with ``shift``; the label's dependence on them does not (no concept drift)."""
    x = rng.normal(shift, 1, (rows, 3))
    chance = 1 / (1 + np.exp(-(1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2])))
    return x, (rng.random(rows) < chance).astype(int)


@pytest.mark.parametrize("shift", [0.0, 0.8, -1.0])
def test_estimated_accuracy_is_close_to_realised_under_covariate_shift(shift: float) -> None:
    rng = np.random.default_rng(11)
    model = LogisticRegression().fit(*_draw(rng, 4000, 0.0))
    x_ref, y_ref = _draw(rng, 2000, 0.0)
    x_cur, y_cur = _draw(rng, 3000, shift)
    result = estimate_performance(
        model.predict_proba(x_ref)[:, 1], y_ref, model.predict_proba(x_cur)[:, 1], 1
    )
    realised = float(np.mean(model.predict(x_cur) == y_cur))
    assert result["estimated"]["accuracy"] == pytest.approx(realised, abs=TOLERANCE)
    predicted = model.predict(x_cur)
    true_positives = float(np.sum((predicted == 1) & (y_cur == 1)))
    realised_precision = true_positives / max(float(np.sum(predicted == 1)), 1.0)
    assert result["estimated"]["precision"] == pytest.approx(realised_precision, abs=TOLERANCE)
    assert result["assumption"] == ASSUMPTION and result["rows"] == 3000


def test_a_shift_that_changes_quality_leaves_the_band() -> None:
    rng = np.random.default_rng(5)
    model = LogisticRegression().fit(*_draw(rng, 4000, 0.0))
    x_ref, y_ref = _draw(rng, 2000, 0.0)
    steady = estimate_performance(
        model.predict_proba(x_ref)[:, 1],
        y_ref,
        model.predict_proba(_draw(rng, 1000, 0.0)[0])[:, 1],
        1,
    )
    assert "accuracy" not in steady["outside_band"]
    moved = estimate_performance(
        model.predict_proba(x_ref)[:, 1],
        y_ref,
        model.predict_proba(_draw(rng, 1000, 1.5)[0])[:, 1],
        1,
    )
    assert "accuracy" in moved["outside_band"]


def test_calibration_is_used_only_when_it_helps() -> None:
    rng = np.random.default_rng(3)
    x, y = _draw(rng, 3000, 0.0)
    model = LogisticRegression().fit(x, y)
    squeezed = 0.5 + (model.predict_proba(x)[:, 1] - 0.5) * 0.3  # badly underconfident
    assert estimate_performance(squeezed, y, squeezed[:500], 1)["calibrated"] is True
    tiny = estimate_performance(np.array([0.2, 0.8]), np.array([0, 1]), np.array([0.6]), 1)
    assert tiny["calibrated"] is False  # too few reference rows to judge


def _draw_three(rng: np.random.Generator, rows: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Three classes; inputs move with ``shift``, P(class | inputs) stays (no concept drift)."""
    x = rng.normal(shift, 1, (rows, 2))
    logits = np.column_stack([1.2 * x[:, 0], -1.2 * x[:, 0] + 0.3, 1.1 * x[:, 1]])
    chance = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=p) for p in chance])
    return x, labels


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_multiclass_estimates_track_realised_quality(shift: float) -> None:
    from sklearn.metrics import f1_score

    from shipline.monitoring.estimation import estimate_multiclass

    rng = np.random.default_rng(21)
    model = LogisticRegression().fit(*_draw_three(rng, 5000, 0.0))
    x_ref, y_ref = _draw_three(rng, 3000, 0.0)
    x_cur, y_cur = _draw_three(rng, 3000, shift)
    result = estimate_multiclass(
        model.predict_proba(x_ref), y_ref, model.predict_proba(x_cur), [0, 1, 2]
    )
    predicted = model.predict(x_cur)
    realised = float(np.mean(predicted == y_cur))
    assert result["estimated"]["accuracy"] == pytest.approx(realised, abs=TOLERANCE)
    macro_f1 = f1_score(y_cur, predicted, average="macro")
    assert result["estimated"]["f1"] == pytest.approx(macro_f1, abs=0.05)
    assert set(result["bands"]) >= {"accuracy", "f1", "roc_auc"}
    assert result["assumption"] == ASSUMPTION
