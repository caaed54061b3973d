"""Which features the model relies on: permutation importance on held-out data."""

from __future__ import annotations

__all__ = ["permutation_report"]

from typing import Any

import pandas as pd

from shipline.config.schema import ExplainConfig


def permutation_report(
    config: ExplainConfig, model: Any, x: pd.DataFrame, y: pd.Series, task: str, seed: int
) -> dict[str, Any]:
    """The top features by mean drop in score when the feature is shuffled."""
    from sklearn.inspection import permutation_importance

    scoring = "r2" if task == "regression" else "accuracy"
    result = permutation_importance(
        model, x, y, scoring=scoring, n_repeats=5, random_state=seed, n_jobs=1
    )
    ranked = sorted(
        zip(x.columns, result.importances_mean, result.importances_std, strict=True),
        key=lambda item: -item[1],
    )
    top = [
        {"feature": str(name), "importance": float(mean), "std": float(std)}
        for name, mean, std in ranked[: config.top]
    ]
    return {"method": config.method, "scoring": scoring, "repeats": 5, "features": top}
