"""The ``compute:`` section: where training, batch scoring and monitoring run.

``local`` (the default) runs everything in shipline's own process. ``dask`` runs the heavy
work on a Dask cluster: an existing one by scheduler address, or one started on this machine
for the duration of the command. ``SHIPLINE_DASK`` in the environment overrides the file, so
the same ``shipline.yaml`` runs on a laptop and on a cluster.
"""

from __future__ import annotations

__all__ = [
    "ComputeConfig",
    "DaskConfig",
    "LocalClusterConfig",
    "SearchConfig",
    "parse_bytes",
]

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from shipline.config.section import Section

_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?", re.IGNORECASE)
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_ADDRESS = re.compile(r"(tcp|tls|ucx)://[A-Za-z0-9.\-\[\]:]+:\d{1,5}")


def parse_bytes(text: str) -> int:
    """``2GiB``, ``512MB``, ``1e9``-free plain sizes as a number of bytes."""
    match = _BYTES.fullmatch(text.strip())
    if not match:
        raise ValueError(f"expected a size such as '512MiB' or '2GiB', got {text!r}")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def _check_size(text: str) -> str:
    if parse_bytes(text) < 2**26:
        raise ValueError(f"a worker needs at least 64MiB, got {text!r}")
    return text


def _check_address(text: str) -> str:
    if not _ADDRESS.fullmatch(text):
        raise ValueError(
            f"expected a Dask scheduler address such as 'tcp://10.0.0.5:8786', got {text!r}"
        )
    return text


Size = Annotated[str, AfterValidator(_check_size)]
SchedulerAddress = Annotated[str, AfterValidator(_check_address)]


class LocalClusterConfig(Section):
    """A Dask cluster of worker processes started on this machine for one command."""

    workers: int = Field(2, ge=1, le=256)
    threads_per_worker: int = Field(1, ge=1, le=256)
    memory_limit: Size | None = None


class DaskConfig(Section):
    """A Dask cluster: an existing scheduler's address, or a local cluster to start."""

    address: SchedulerAddress | None = None
    local: LocalClusterConfig | None = None

    @model_validator(mode="after")
    def _one_cluster(self) -> DaskConfig:
        if (self.address is None) == (self.local is None):
            raise ValueError("give either 'address' (a running scheduler) or 'local', not both")
        return self


class ComputeConfig(Section):
    """Where the heavy work runs; ``compute: local`` is the default."""

    dask: DaskConfig | None = None
    # One model trained across every worker by its library's Dask interface (xgboost, lightgbm).
    distributed_training: bool = False

    @model_validator(mode="before")
    @classmethod
    def _local_shorthand(cls, value: Any) -> Any:
        return {} if value == "local" else value

    @property
    def is_local(self) -> bool:
        """Everything runs in shipline's own process."""
        return self.dask is None


class SearchConfig(Section):
    """A hyperparameter search: every trial on the compute cluster, the best one refitted."""

    method: Literal["grid", "random"]
    params: dict[str, list[Any]] = Field(min_length=1)
    n_iter: int | None = Field(None, ge=1, le=100_000)
    cv: int = Field(3, ge=2, le=50)
    metric: str

    @model_validator(mode="after")
    def _consistent(self) -> SearchConfig:
        empty = [name for name, values in self.params.items() if not values]
        if empty:
            raise ValueError(f"params.{empty[0]}: give at least one value to try")
        if self.method == "random" and self.n_iter is None:
            raise ValueError("a random search needs 'n_iter' (how many draws)")
        if self.method == "grid" and self.n_iter is not None:
            raise ValueError("'n_iter' applies to method 'random'; a grid tries every point")
        return self
