"""A step run on a Dask worker: what the worker needs travels with the task, its inputs come
from the shared content store and its outputs go back there; the worker sees no database."""

from __future__ import annotations

__all__ = ["ClusterStep", "require_same_code", "run_cluster_step"]

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipline.compute import ComputeError, Executor
from shipline.config.schema import ModelConfig
from shipline.errors import ShiplineError
from shipline.pipeline.step import StepContext, StepInputs, encode
from shipline.store import Database


@dataclass(frozen=True)
class ClusterStep:
    """One step's work as a task: its function, config, inputs and the project files its
    training code imports (a worker on another machine has no checkout)."""

    name: str
    run: Callable[[StepContext, StepInputs], dict[str, Any]]
    outputs: dict[str, str]
    config: ModelConfig
    store_url: str
    inputs: dict[str, str]
    kinds: dict[str, str]
    # Input digests the submitting side checked against the metadata store as model bundles.
    models: frozenset[str]
    project_files: dict[str, bytes]
    actor: str
    run_id: int
    lineage: dict[str, Any]


class NoMetadataOnWorker(Database):
    """The database a worker-side step is given: none; reaching for it is a bug, said so."""

    def __init__(self) -> None:  # no engine: nothing to connect to
        self.shown_url = "(none on a Dask worker)"

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        """Refused."""
        raise ShiplineError("a step running on a Dask worker cannot read the metadata store")
        yield  # pragma: no cover

    @contextlib.contextmanager
    def write(self, actor: str) -> Iterator[Any]:
        """Refused."""
        raise ShiplineError("a step running on a Dask worker cannot write the metadata store")
        yield  # pragma: no cover


def require_same_code(executor: Executor) -> None:
    """Refuse workers that run other shipline code than this process: the steps they run
    would be cached under this process's code digest."""
    from shipline.pipeline.code_fingerprint import package_digest

    here = package_digest()
    other = {w: d for w, d in executor.everywhere(package_digest).items() if d != here}
    if other:
        raise ComputeError(
            f"Dask workers {', '.join(sorted(other))} run other shipline code than this "
            f"process (package digest {next(iter(other.values()))[:12]} there, {here[:12]} "
            "here): install the same shipline on them and restart them"
        )


def run_cluster_step(task: ClusterStep) -> dict[str, str]:
    """Run on a worker: the step's outputs, stored, by name → digest."""
    import joblib

    from shipline.compute.worker_memory import release_memory
    from shipline.compute.worker_store import worker_store

    store = worker_store(task.store_url)
    with tempfile.TemporaryDirectory(prefix="shipline-step-") as scratch:
        project = Path(scratch)
        for name, data in task.project_files.items():
            path = project / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        context = StepContext(
            task.config,
            project,
            NoMetadataOnWorker(),
            store,
            task.actor,
            task.run_id,
            task.lineage,
        )
        inputs = StepInputs(store, task.kinds, task.inputs, {}, verified_models=task.models)
        # Estimators with n_jobs (and a hyperparameter search) spread over the cluster; joblib's
        # Dask backend leaves the worker's thread pool while it waits, so this worker runs
        # trials too.
        try:
            with joblib.parallel_config(backend="dask"):
                produced = task.run(context, inputs)
            return {
                name: store.put_bytes(encode(kind, produced[name])).digest
                for name, kind in task.outputs.items()
            }
        finally:
            release_memory()  # the step's frames, freed, back to the system
