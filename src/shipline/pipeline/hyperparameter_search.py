"""``training.search``: grid or random search with scikit-learn's searchers, scored by
shipline's own metric definitions, every trial recorded, the best refitted on all the
training rows. Trials run wherever joblib sends them: on the Dask workers when the step runs
on the cluster (the joblib Dask backend), on this machine's cores otherwise."""

from __future__ import annotations

__all__ = ["LOWER_IS_BETTER", "MetricScorer", "SearchFit", "param_grid_size", "search_report"]

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from shipline.artifacts import BlobReader
from shipline.config.compute import SearchConfig
from shipline.evaluation import compute_metrics
from shipline.pipeline.run_record import RunRecord
from shipline.training import TrainingError

LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss"})


@dataclass(frozen=True)
class MetricScorer:
    """A scikit-learn scorer for one of shipline's metrics (negated where lower is better:
    scikit-learn maximises)."""

    task: str
    metric: str

    def __call__(self, estimator: Any, x: pd.DataFrame, y: pd.Series) -> float:
        value = compute_metrics(self.task, estimator, x, y, self.metric).get(self.metric, math.nan)
        return -value if self.metric in LOWER_IS_BETTER else value


def param_grid_size(params: dict[str, list[Any]]) -> int:
    """How many points a grid over ``params`` has."""
    return math.prod(len(values) for values in params.values())


@dataclass
class SearchFit:
    """The ``fit`` the train step hands to training: search, keep the report, return the
    best model refitted on every training row."""

    search: SearchConfig
    task: str
    seed: int
    report: dict[str, Any] = field(default_factory=dict)

    def __call__(self, model: Any, x: pd.DataFrame, y: pd.Series) -> Any:
        from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold

        from shipline.pipeline.search_trial import SearchTrial

        # Each trial's own joblib calls stay inside its task (see search_trial).
        trial = SearchTrial(model)
        grid = {f"estimator__{name}": values for name, values in self._grid(model).items()}
        folds: Any = (StratifiedKFold if self.task == "classification" else KFold)(
            n_splits=self.search.cv, shuffle=True, random_state=self.seed % 2**32
        )
        scorer = MetricScorer(self.task, self.search.metric)
        common: dict[str, Any] = {"scoring": scorer, "cv": folds, "refit": True, "n_jobs": -1}
        if self.search.method == "grid":
            searcher: Any = GridSearchCV(trial, grid, **common)
        else:
            draws = min(self.search.n_iter or 1, param_grid_size(grid))
            searcher = RandomizedSearchCV(
                trial, grid, n_iter=draws, random_state=self.seed % 2**32, **common
            )
        with _trials_spread(x, y):
            searcher.fit(x, y)
        self.report = self._report(searcher.cv_results_, searcher.best_index_)
        return searcher.best_estimator_.estimator

    def _grid(self, model: Any) -> dict[str, list[Any]]:
        """The search space in the pipeline's names (``max_depth`` → ``model__max_depth``),
        every name checked against the estimator first."""
        known = set(model.get_params(deep=True))
        grid: dict[str, list[Any]] = {}
        for name, values in self.search.params.items():
            full = name if name in known else f"model__{name}"
            if full not in known:
                choices = sorted(
                    k.removeprefix("model__") for k in known if k.startswith("model__")
                )
                close = difflib.get_close_matches(name, choices, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TrainingError(f"training.search.params.{name}: no such parameter{hint}")
            grid[full] = values
        return grid

    def _report(self, results: dict[str, Any], best: int) -> dict[str, Any]:
        sign = -1.0 if self.search.metric in LOWER_IS_BETTER else 1.0
        trials = [
            {
                "params": {_shown(k): _plain(v) for k, v in params.items()},
                "score": sign * float(results["mean_test_score"][i]),
                "score_std": float(results["std_test_score"][i]),
                "fit_seconds": round(float(results["mean_fit_time"][i]) * self.search.cv, 4),
                "rank": int(results["rank_test_score"][i]),
            }
            for i, params in enumerate(results["params"])
        ]
        return {
            "method": self.search.method,
            "metric": self.search.metric,
            "cv": self.search.cv,
            "best": trials[best],
            "trials": trials,
        }


def search_report(store: BlobReader, run: RunRecord) -> dict[str, Any] | None:
    """The search a run's train step made (every trial), or None without one."""
    import orjson

    trained = next((s for s in run.steps if s.step == "train" and "search" in s.outputs), None)
    if trained is None:
        return None
    report: dict[str, Any] | None = orjson.loads(store.read_bytes(trained.outputs["search"]))
    return report


def _trials_spread(x: pd.DataFrame, y: pd.Series) -> Any:
    """On a Dask worker: the training rows sent to every worker up front, so the trials are
    not all queued where the data happens to be. Elsewhere: joblib as configured."""
    import contextlib

    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return contextlib.nullcontext()
    import joblib

    return joblib.parallel_config(backend="dask", scatter=[x, y])


def _shown(name: str) -> str:
    """A searched parameter's name as the config gives it."""
    return name.removeprefix("estimator__").removeprefix("model__")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
