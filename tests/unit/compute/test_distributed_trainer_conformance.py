"""Every distributed trainer keeps the same promises, on a real two-process Dask cluster: one
model trained across both workers, returned as the library's ordinary estimator after the
preprocessing, predicting as well as a model trained in one process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipline.compute import Executor
from shipline.compute.cluster import ComputeTarget, open_executor
from shipline.config.compute import LocalClusterConfig
from shipline.config.distributed_trainer import DISTRIBUTED_TRAINERS
from shipline.training.estimator import TrainingError


@pytest.fixture(scope="module")
def cluster() -> Iterator[Executor]:
    target = ComputeTarget(local=LocalClusterConfig(workers=2, memory_limit="1GiB"))
    with open_executor(target) as opened:
        yield opened


def _rows(task: str, count: int = 4000) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(count, 4)), columns=["a", "b", "c", "d"])
    frame["kind"] = rng.choice(["x", "y"], count)  # one-hot encoded by the preprocessing
    signal = 2 * frame["a"] - frame["b"] + (frame["kind"] == "x") + rng.normal(0, 0.2, count)
    target = (signal > 0).astype(int) if task == "classification" else signal
    return frame, pd.Series(target, name="target")


def _pipeline(trainer: str, task: str) -> Any:
    from shipline.training.estimator import _build_estimator, _with_preprocessing

    names = {
        ("xgboost", "classification"): "xgboost.XGBClassifier",
        ("xgboost", "regression"): "xgboost.XGBRegressor",
        ("lightgbm", "classification"): "lightgbm.LGBMClassifier",
        ("lightgbm", "regression"): "lightgbm.LGBMRegressor",
    }
    params = {"n_estimators": 30}
    if trainer == "lightgbm":
        params["verbose"] = -1
    frame, _ = _rows(task, 10)
    return _with_preprocessing(_build_estimator(names[trainer, task], params), frame, scale=False)


def _train_on_a_worker(trainer: str, task: str) -> dict[str, Any]:
    """Run as a cluster task, as the train step does."""
    from distributed import get_task_stream, get_worker, worker_client

    from shipline.training.distributed_fit import DistributedFit

    frame, target = _rows(task)
    with worker_client(separate_thread=True) as client, get_task_stream(client) as stream:
        fitted = DistributedFit(trainer)(_pipeline(trainer, task), frame, target)
    # The library's own tasks (not the ones that place the rows) ran on every worker.
    placing = ("('concatenate", "('from", "array")
    trained_on = {t["worker"] for t in stream.data if not str(t["key"]).startswith(placing)}
    alone = _pipeline(trainer, task).fit(frame, target)
    predicted, expected = fitted.predict(frame), alone.predict(frame)
    if task == "classification":
        agreement = float(np.mean(predicted == expected))
        score = float(np.mean(predicted == target))
    else:
        agreement = float(np.corrcoef(predicted, expected)[0, 1])
        score = float(1 - np.mean((predicted - target) ** 2) / np.var(target))
    return {
        "class": type(fitted.steps[-1][1]).__module__ + "." + type(fitted.steps[-1][1]).__name__,
        "classes": getattr(fitted, "classes_", None),
        "agreement": agreement,
        "score": score,
        "worker": get_worker().address,
        "trained_on": len(trained_on),
    }


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("trainer", DISTRIBUTED_TRAINERS.names())
def test_a_trainer_trains_one_ordinary_model_across_the_workers(
    cluster: Executor, trainer: str, task: str
) -> None:
    result = cluster.call(_train_on_a_worker, trainer, task)
    assert result["class"].startswith(trainer) and ".dask" not in result["class"]
    assert "Dask" not in result["class"]
    if task == "classification":
        assert list(result["classes"]) == [0, 1]
    assert result["score"] > 0.85, result
    assert result["agreement"] > 0.9, result
    assert result["trained_on"] == 2, result


def _blocks_per_worker() -> dict[str, int]:
    from distributed import wait, worker_client

    from shipline.training.distributed_fit import spread_rows

    rows = np.arange(20, dtype=float).reshape(10, 2)
    with worker_client(separate_thread=True) as client:
        x, _ = spread_rows(client, rows, np.arange(10))
        persisted = client.persist(x)
        wait(persisted)  # type: ignore[no-untyped-call]
        counts: dict[str, int] = {}
        for workers in client.who_has(persisted).values():
            for worker in workers:
                counts[worker] = counts.get(worker, 0) + 1
        assert np.array_equal(persisted.compute(), rows)
    return counts


def test_rows_are_spread_one_block_per_worker(cluster: Executor) -> None:
    counts = cluster.call(_blocks_per_worker)
    assert len(counts) == 2, counts


def test_training_outside_a_cluster_is_refused_with_the_fix() -> None:
    from shipline.training.distributed_fit import DistributedFit

    frame, target = _rows("classification", 50)
    with pytest.raises(TrainingError, match=r"set compute\.dask or SHIPLINE_DASK"):
        DistributedFit("lightgbm")(_pipeline("lightgbm", "classification"), frame, target)
