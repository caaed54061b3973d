"""The ``data:`` and ``training:`` sections of ``shipline.yaml`` (and the task's metric names)."""

from __future__ import annotations

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "DataChecks",
    "DataConfig",
    "SplitConfig",
    "TrainingConfig",
]

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from shipline.config.compute import SearchConfig
from shipline.config.section import Section
from shipline.config.value_types import (
    ColumnName,
    DottedPath,
    Entrypoint,
    RelativePattern,
    Share,
)

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2", "mape")


class SplitConfig(Section):
    """How the held-out evaluation split is drawn."""

    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 42
    by: ColumnName | None = None


class DataChecks(Section):
    """Rules the validate step applies to every new data version."""

    max_missing: Share = 0.05
    min_rows: int = Field(1, ge=1)


class DataConfig(Section):
    """Where the training data comes from and how it is used."""

    source: str = Field(min_length=1)
    target: ColumnName
    id_column: ColumnName | None = None
    exclude: list[ColumnName] = Field(default_factory=list)
    split: SplitConfig = Field(default_factory=SplitConfig)
    checks: DataChecks = Field(default_factory=DataChecks)

    @model_validator(mode="after")
    def _target_is_used(self) -> DataConfig:
        if self.target in self.exclude:
            raise ValueError(f"target {self.target!r} cannot also be in 'exclude'")
        if self.id_column is not None and self.id_column == self.target:
            raise ValueError(f"id_column and target are both {self.target!r}")
        return self


class TrainingConfig(Section):
    """What is trained: an estimator by dotted path, or a bring-your-own entrypoint."""

    task: Literal["classification", "regression"]
    estimator: DottedPath | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    entrypoint: Entrypoint | None = None
    # Files the training code reads besides the data (globs): their bytes enter the cache key.
    deps: list[RelativePattern] = Field(default_factory=list)
    search: SearchConfig | None = None

    @model_validator(mode="after")
    def _one_way_to_train(self) -> TrainingConfig:
        if self.estimator and self.entrypoint:
            raise ValueError("give either 'estimator' or 'entrypoint', not both")
        if self.entrypoint and self.params:
            raise ValueError("'params' applies to 'estimator'; an entrypoint reads its own")
        if self.entrypoint and self.search:
            raise ValueError("'search' tunes 'estimator'; an entrypoint tunes itself")
        if self.search is not None:
            _check_search_metric(self.task, self.search.metric)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Without a search the document (and every digest and cache key) is as before.
        dumped: dict[str, Any] = handler(self)
        if dumped.get("search") is None:
            dumped.pop("search", None)
        return dumped


def _check_search_metric(task: str, metric: str) -> None:
    known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    if metric not in known:
        raise ValueError(
            f"search.metric: {metric!r} is not a {task} metric; expected one of " + ", ".join(known)
        )
