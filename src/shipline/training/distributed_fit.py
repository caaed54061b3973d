"""``compute.distributed_training: true``: one model trained across every Dask worker by its
library's own Dask interface (a ``DistributedTrainer``: xgboost's, lightgbm's).

The train step runs on a worker, as always on a cluster. There the preprocessing is fitted on
the training rows, the preprocessed matrix is cut into one block per worker and scattered, and
the library trains across the workers; the step gets back an ordinary (non-Dask) fitted
estimator, put after the preprocessing as the model's last step, so the bundle, evaluation,
ONNX conversion and serving are those of a model trained in one process.
"""

from __future__ import annotations

__all__ = ["DistributedFit", "spread_rows"]

from typing import TYPE_CHECKING, Any

from shipline.config.distributed_trainer import DISTRIBUTED_TRAINERS

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def spread_rows(client: Any, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """``x`` and ``y`` as Dask arrays of one block of rows per running worker, each block held
    by its own worker (so every worker trains on a share)."""
    import dask.array
    import numpy as np

    arrays: Any = dask.array  # untyped
    # Paused workers (near their memory limit) start no task: training would wait on them.
    known = client.scheduler_info(n_workers=-1)["workers"]
    workers = sorted(a for a, w in known.items() if w.get("status", "running") == "running")
    if not workers:
        from shipline.training.estimator import TrainingError

        raise TrainingError("no Dask worker is running (all are paused near their memory limit)")
    bounds = np.linspace(0, len(x), min(len(workers), len(x)) + 1).astype(int)
    blocks_x, blocks_y = [], []
    for worker, start, end in zip(workers, bounds[:-1], bounds[1:], strict=False):
        # Scattered from inside a task, data stays on this worker: a task pinned to the
        # block's worker takes its copy from here.
        here = client.scatter([x[start:end], y[start:end]])
        part_x, part_y = (
            client.submit(np.array, future, workers=[worker], allow_other_workers=False)
            for future in here
        )
        blocks_x.append(arrays.from_delayed(part_x, (end - start, x.shape[1]), x.dtype))
        blocks_y.append(arrays.from_delayed(part_y, (end - start,), y.dtype))
    return arrays.concatenate(blocks_x), arrays.concatenate(blocks_y)


class DistributedFit:
    """The train step's ``fit`` under ``compute.distributed_training``: preprocessing here, the
    estimator across the cluster's workers."""

    def __init__(self, trainer: str) -> None:
        self.trainer = DISTRIBUTED_TRAINERS.get(trainer)

    def __call__(self, model: Any, x: pd.DataFrame, y: pd.Series) -> Any:
        import numpy as np
        from distributed import worker_client
        from sklearn.pipeline import Pipeline

        from shipline.training.estimator import TrainingError

        if not _on_a_worker():
            raise TrainingError(
                "compute.distributed_training: true trains across a Dask cluster's workers, "
                "but this run trains in this process (compute: local, or SHIPLINE_DASK=local); "
                "set compute.dask or SHIPLINE_DASK to a cluster"
            )
        *preprocess, (name, estimator) = model.steps
        matrix = Pipeline(preprocess).fit_transform(x, y) if preprocess else x
        if hasattr(matrix, "toarray"):  # one-hot output may be sparse
            matrix = matrix.toarray()
        rows = np.asarray(matrix, dtype=np.float64)
        # Leaving the worker's thread pool while the library trains, so this worker trains too.
        with worker_client(separate_thread=True) as client:
            dask_x, dask_y = spread_rows(client, rows, np.asarray(y))
            fitted = self.trainer.fit(estimator, dask_x, dask_y, client)
        return Pipeline([*preprocess, (name, fitted)])


def _on_a_worker() -> bool:
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True
