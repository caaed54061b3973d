"""xgboost's and lightgbm's Dask interfaces as distributed trainers."""

from __future__ import annotations

__all__ = ["LIGHTGBM", "XGBOOST"]

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class XGBoostTrainer:
    """``xgboost.dask``: the workers build one booster together (Rabit collective)."""

    name: str = "xgboost"

    def fit(self, estimator: Any, x: Any, y: Any, client: Any) -> Any:
        """Train with the Dask twin of the estimator; the booster back in the estimator."""
        import xgboost.dask
        from sklearn.base import is_classifier

        twin_class = (
            xgboost.dask.DaskXGBClassifier
            if is_classifier(estimator)
            else xgboost.dask.DaskXGBRegressor
        )
        twin = twin_class(**estimator.get_params())
        twin.client = client
        twin.fit(x, y)
        # The sklearn attributes (classes, objective) travel in xgboost's own model file.
        with tempfile.TemporaryDirectory(prefix="shipline-xgb-") as folder:
            path = Path(folder) / "model.json"
            twin.save_model(path)
            local = type(estimator)(**estimator.get_params())
            local.load_model(path)
        return local


@dataclass(frozen=True)
class LightGBMTrainer:
    """``lightgbm.dask``: the workers train one model over LightGBM's own socket network."""

    name: str = "lightgbm"

    def fit(self, estimator: Any, x: Any, y: Any, client: Any) -> Any:
        """Train with the Dask twin of the estimator, then take its local form."""
        import lightgbm
        from sklearn.base import is_classifier

        twin_class = (
            lightgbm.DaskLGBMClassifier if is_classifier(estimator) else lightgbm.DaskLGBMRegressor
        )
        twin = twin_class(client=client, **estimator.get_params())
        twin.fit(x, y)
        return twin.to_local()


XGBOOST = XGBoostTrainer()
LIGHTGBM = LightGBMTrainer()
