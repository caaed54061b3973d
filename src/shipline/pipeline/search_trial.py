"""The estimator a hyperparameter search tries: the configured model, whose own joblib calls (a
forest's trees, a column transformer's columns) run inside the trial.

A trial is one task. On a Dask worker, joblib's Dask backend runs every nested joblib call as
more Dask tasks whatever ``n_jobs`` says, so a 60-tree forest's fit became 60 tasks, each tree
pickled back to its trial: the fits cost ~30% more CPU than in one process, and a search on
two workers ran 1.2-1.3x faster than one process instead of nearly 2x.
"""

from __future__ import annotations

__all__ = ["SearchTrial"]

from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator


class SearchTrial(BaseEstimator):  # type: ignore[misc]
    """``estimator``, fitted and used with joblib's sequential backend."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, x: pd.DataFrame, y: pd.Series) -> SearchTrial:
        """Fit the wrapped estimator in place (the search clones this trial first)."""
        import joblib

        with joblib.parallel_config(backend="sequential"):
            self.estimator.fit(x, y)
        return self

    def predict(self, x: pd.DataFrame) -> Any:
        """The wrapped estimator's predictions."""
        import joblib

        with joblib.parallel_config(backend="sequential"):
            return self.estimator.predict(x)

    def predict_proba(self, x: pd.DataFrame) -> Any:
        """The wrapped estimator's class probabilities (AttributeError where it has none, as
        the metrics expect)."""
        import joblib

        with joblib.parallel_config(backend="sequential"):
            return self.estimator.predict_proba(x)

    @property
    def classes_(self) -> Any:
        """The wrapped classifier's classes."""
        return self.estimator.classes_
