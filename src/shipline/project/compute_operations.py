"""Where the heavy work of a project runs, and the work that needs a cluster to scale:
the compute status and batch scoring of partitioned data (a part of ``Project``)."""

from __future__ import annotations

__all__ = ["ComputeOperations", "ComputeStatus"]

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shipline.artifacts import ContentStore
    from shipline.compute import Executor
    from shipline.compute.dask_executor import WorkerState
    from shipline.config import ModelConfig
    from shipline.config.compute import ComputeConfig
    from shipline.config.schema import DriftConfig
    from shipline.monitoring.drift import DriftReport
    from shipline.pipeline import RunRecord
    from shipline.registry import ModelVersion
    from shipline.scoring.partitioned_scoring import ScoredPartitions
    from shipline.scoring.serving_source import ServingSource
    from shipline.settings import Settings


class _Opened(Protocol):
    """What these methods use of the project they are part of."""

    @property
    def settings(self) -> Settings:
        """Resolved settings."""
        ...

    def config(self) -> ModelConfig:
        """The validated shipline.yaml."""
        ...

    def version(self, ref: str) -> ModelVersion:
        """One version."""
        ...

    def serving_source(self) -> ServingSource:
        """Models, verified."""
        ...

    def model_source(self) -> ServingSource:
        """Models, verified, signatures checked when required."""
        ...

    def executor(
        self, compute: ComputeConfig | None = None, store_url: str | None = None
    ) -> AbstractContextManager[Executor]:
        """The configured compute, open."""
        ...


class _Stored(Protocol):
    def store(self) -> ContentStore:
        """The content store."""
        ...

    def get_run(self, run_id: int) -> RunRecord:
        """One run."""
        ...


@dataclass(frozen=True)
class ComputeStatus:
    """Where work runs and, on a cluster, its workers."""

    where: str
    source: str
    workers: list[WorkerState]


class ComputeOperations:
    """The compute a project's heavy work runs on."""

    @contextmanager
    def executor(
        self: _Opened, compute: ComputeConfig | None = None, store_url: str | None = None
    ) -> Iterator[Executor]:
        """The compute of ``compute`` (default: shipline.yaml's section, else local), with
        ``SHIPLINE_DASK`` winning, open for the block; ``store_url`` is checked from every
        worker first."""
        from shipline.compute import open_executor
        from shipline.compute.cluster import compute_target

        with open_executor(
            compute_target(_compute(self, compute), self.settings.dask), store_url
        ) as executor:
            yield executor

    def compute_status(self: _Opened) -> ComputeStatus:
        """Where this project's work runs now; a Dask cluster's workers and their memory."""
        from shipline.compute.dask_executor import DaskExecutor

        source = "SHIPLINE_DASK" if self.settings.dask else "shipline.yaml compute"
        with self.executor() as executor:
            workers = executor.workers() if isinstance(executor, DaskExecutor) else []
            return ComputeStatus(executor.description, source, workers)

    def score_partitions(
        self: _Opened,
        ref: str,
        source: str,
        output_dir: str,
        probabilities: bool = False,
        progress: Callable[[int], None] | None = None,
        predictions_only: bool = False,
    ) -> ScoredPartitions:
        """Batch-score partitioned data (a folder or glob, local or s3://) into a folder of
        Parquet partitions, one task per input file, on the configured compute."""
        from shipline.data.partitions import find_partitions
        from shipline.scoring.batch_scoring import ScoringOutput
        from shipline.scoring.partitioned_scoring import score_partitions
        from shipline.scoring.shipped_model import ship_version

        version = self.version(ref)
        _, shipped = ship_version(self.model_source().blobs(version), version)
        sources = find_partitions(source)
        output = ScoringOutput(probabilities, inputs=not predictions_only)
        with self.executor() as executor:
            return score_partitions(shipped, sources, output_dir, executor, output, progress)

    def search_report(self: _Stored, run_id: int) -> dict[str, Any] | None:
        """The hyperparameter search of a run: every trial's params, score and time."""
        from shipline.pipeline.hyperparameter_search import search_report

        return search_report(self.store(), self.get_run(run_id))

    def compare_partitions(
        self: _Opened, reference: str, current: str, rules: DriftConfig | None = None
    ) -> DriftReport:
        """Drift between two partitioned datasets (folders or globs, local or s3://), one
        column per task on the configured compute; the same verdicts as one file each."""
        from shipline.monitoring.partitioned_drift import compare_partitions

        with self.executor() as executor:
            return compare_partitions(reference, current, executor, rules)


def _compute(project: _Opened, compute: ComputeConfig | None) -> ComputeConfig:
    from shipline.config.compute import ComputeConfig

    if compute is not None:
        return compute
    if project.settings.config_path.exists():
        return project.config().compute
    return ComputeConfig()
