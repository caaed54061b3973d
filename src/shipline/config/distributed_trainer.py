"""What a distributed trainer is: the plug-in point for libraries that train one model across
a Dask cluster's workers with their own Dask interface (``compute.distributed_training``).

A trainer is named after the package whose estimators it trains (``xgboost``, ``lightgbm``):
``training.estimator``'s package chooses it, and the name is checked when ``shipline.yaml`` is
loaded. Add one with ``DISTRIBUTED_TRAINERS.register(...)`` or an entry point in the
``shipline.distributed_trainers`` group; ``shipline.training.distributed_fit`` uses it.
"""

from __future__ import annotations

__all__ = ["DISTRIBUTED_TRAINERS", "DistributedTrainer"]

from typing import Any, Protocol

from shipline.plugin import PluginRegistry


class DistributedTrainer(Protocol):
    """A library's own way to train one model across the workers of a Dask cluster."""

    @property
    def name(self) -> str:
        """The package whose estimators it trains (the first part of ``training.estimator``)."""
        ...

    def fit(self, estimator: Any, x: Any, y: Any, client: Any) -> Any:
        """Train ``estimator``'s parameters on Dask arrays ``x`` (rows x features, one block per
        worker) and ``y`` through ``client``; return the fitted ordinary estimator."""
        ...


DISTRIBUTED_TRAINERS: PluginRegistry[DistributedTrainer] = PluginRegistry(
    "shipline.distributed_trainers",
    "distributed trainer",
    {
        "xgboost": "shipline.training.boosting_trainers:XGBOOST",
        "lightgbm": "shipline.training.boosting_trainers:LIGHTGBM",
    },
)
