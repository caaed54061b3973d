"""``shipline monitor`` of a captured window on a Dask cluster, partition by partition.

Captures are stored as Parquet partitions (per model, version and flush). The client never
holds the window's columns; workers read partitions from the content store:

1. one task per partition: its rows inside the window, its column names, whether every row
   holds class probabilities, and its request keys, which the client joins with the labels in
   the metadata store (workers have no database);
2. one map of mixed tasks: per input column, that column of the training split and of every
   partition, compared by ``compare_column`` (and binned for the HTML page when it drifted);
   the predictions' drift (the model on the training split against what was served); per
   partition the class probabilities the model gives its rows (for CBPE); per partition with
   labels, those rows' inputs, predictions and probabilities.

The client reduces in partition order, the order the single-machine path reads them, and runs
the same quality, bias, attribution and estimation code on the reduced arrays: the statistics
are computed by the same code on the same values, so the decisions are the same. A worker holds
one column of the window at a time; the client holds the request keys (about 50 bytes a row),
the class probabilities (8 bytes a class a row) and the labelled rows.
"""

from __future__ import annotations

__all__ = ["measure_window"]

import io
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from shipline.artifacts import ContentStore
from shipline.compute import Executor
from shipline.config.schema import DriftConfig, MonitoringConfig
from shipline.data.frame import column_array
from shipline.monitoring.drift import ColumnDrift, DriftReport, compare_column, require_columns
from shipline.monitoring.measurement import (
    class_probabilities,
    estimated_quality,
    is_classifier,
    labelled_checks,
    prediction_rules,
    reference_predictions,
    report_head,
)
from shipline.monitoring.quality import LabelledRows, labelled_rows
from shipline.monitoring.report_html import MAX_HISTOGRAMS, column_histograms
from shipline.monitoring.traffic import (
    TimeWindow,
    Traffic,
    capture_digests,
    in_window,
    missing_inputs,
    no_traffic,
    split_digest,
)
from shipline.registry import ModelVersion
from shipline.scoring.shipped_model import ShippedModel, loaded_on_worker, ship_version
from shipline.store import Database


@dataclass(frozen=True)
class _Job:
    """What every task of one report shares; sent once to each worker."""

    store_url: str
    window: TimeWindow
    training_split: str
    inputs: tuple[str, ...]
    rules: DriftConfig
    histograms: bool
    model: ShippedModel

    def open_partition(self, digest: str) -> Any:
        """A capture partition, verified, as a Parquet file."""
        from pyarrow import parquet

        from shipline.compute.worker_store import worker_store

        return parquet.ParquetFile(io.BytesIO(worker_store(self.store_url).read_bytes(digest)))

    def partition(self, digest: str, columns: list[str], handle: Any = None) -> Any:
        """A capture partition's rows inside the window (``columns`` of them, where present)."""
        handle = handle or self.open_partition(digest)
        wanted = [c for c in columns if c in handle.schema_arrow.names]
        return in_window(handle.read(columns=[*wanted, "captured_at"]), self.window)

    def window_column(self, digests: tuple[str, ...], name: str) -> Any:
        """Column ``name`` of every partition's rows in the window, as one Arrow column."""
        import pyarrow as pa

        tables = [self.partition(digest, [name]) for digest in digests]
        return pa.concat_tables(tables, promote_options="permissive").column(name)

    def training(self, names: list[str]) -> dict[str, np.ndarray]:
        """Columns of the version's training split."""
        from pyarrow import parquet

        from shipline.compute.worker_store import worker_store

        data = worker_store(self.store_url).read_bytes(self.training_split)
        table = parquet.read_table(io.BytesIO(data), columns=names)
        return {name: column_array(table.column(name)) for name in names}


class _Task(Protocol):
    """One piece of a report, run on a worker."""

    def run(self, job: _Job) -> Any:
        """Compute this piece."""
        ...


def _run(task: _Task, shared: _Job) -> Any:
    """Run on a worker: one task of the report, then Arrow's cached memory given back."""
    from shipline.compute.worker_memory import release_memory

    try:
        return task.run(shared)
    finally:
        release_memory()


@dataclass(frozen=True)
class _Keys:
    """One partition's rows in the window and what the client needs to know of them."""

    rows: int
    names: tuple[str, ...]
    probabilities: bool
    keys: Any  # Arrow table: request_id, row


@dataclass(frozen=True)
class _PartitionKeys:
    digest: str

    def run(self, job: _Job) -> _Keys:
        handle = job.open_partition(self.digest)
        table = job.partition(self.digest, ["request_id", "row", "probabilities"], handle)
        # As in one table of the whole window: rows outside it cannot lack probabilities.
        complete = table.num_rows == 0 or (
            "probabilities" in table.column_names and table.column("probabilities").null_count == 0
        )
        names = tuple(handle.schema_arrow.names)
        return _Keys(table.num_rows, names, complete, table.select(["request_id", "row"]))


@dataclass(frozen=True)
class _ColumnDrift:
    name: str
    digests: tuple[str, ...]

    def run(self, job: _Job) -> tuple[ColumnDrift, dict[str, Any]]:
        reference = job.training([self.name])[self.name]
        current = column_array(job.window_column(self.digests, self.name))
        verdict = compare_column(self.name, reference, current, job.rules)
        bins = (
            column_histograms({self.name: reference}, {self.name: current}, [self.name])
            if job.histograms and verdict.drifted
            else {}
        )
        return verdict, bins


@dataclass(frozen=True)
class _PredictionDrift:
    digests: tuple[str, ...]

    def run(self, job: _Job) -> ColumnDrift:
        model = loaded_on_worker(job.model)
        reference = reference_predictions(model, job.training(list(job.inputs)))
        served = np.asarray(job.window_column(self.digests, "prediction").to_pylist())
        return compare_column("prediction", reference, served, prediction_rules(job.rules))


@dataclass(frozen=True)
class _Probabilities:
    digest: str

    def run(self, job: _Job) -> np.ndarray | None:
        table = job.partition(self.digest, list(job.inputs))
        columns = {name: column_array(table.column(name)) for name in job.inputs}
        return class_probabilities(loaded_on_worker(job.model), columns)


@dataclass(frozen=True)
class _Labelled:
    """A partition's labelled rows: inputs, served predictions and probabilities."""

    columns: dict[str, np.ndarray]
    predictions: list[Any]
    probabilities: list[Any] | None


@dataclass(frozen=True)
class _LabelledRows:
    digest: str
    positions: np.ndarray

    def run(self, job: _Job) -> _Labelled:
        import pyarrow as pa

        wanted = [*job.inputs, "prediction", "probabilities"]
        table = job.partition(self.digest, wanted)
        taken = pa.array(self.positions)
        columns = {name: column_array(table.column(name))[self.positions] for name in job.inputs}
        probabilities = (
            table.column("probabilities").take(taken).to_pylist()
            if "probabilities" in table.column_names
            else None
        )
        return _Labelled(columns, table.column("prediction").take(taken).to_pylist(), probabilities)


def measure_window(
    db: Database,
    store: ContentStore,
    version: ModelVersion,
    monitoring: MonitoringConfig,
    window: TimeWindow,
    histograms: bool,
    executor: Executor,
) -> dict[str, Any]:
    """Every check of a monitoring report over the captured window, on ``executor``'s workers;
    the same report the single-machine path writes for the same rows."""
    model, shipped = ship_version(store, version)
    digests = tuple(capture_digests(db, version, window))
    inputs = tuple(model.input_names)
    rules = monitoring.drift
    require_columns(rules, list(inputs))
    training = split_digest(db, version, "train")
    job = _Job(store.url, window, training, inputs, rules, histograms, shipped)
    parts: list[_Keys] = executor.map(_run, [_PartitionKeys(d) for d in digests], shared=job)
    rows = sum(part.rows for part in parts)
    if rows == 0:
        raise no_traffic(version, window)
    problem = missing_inputs(version, list(inputs), sorted({n for p in parts for n in p.names}))
    if problem is not None:
        raise problem
    labels = [_labels(db, part) for part in parts]
    plan = _Plan.of(inputs, digests, parts, labels, is_classifier(version))
    done = plan.results(executor.map(_run, plan.tasks, shared=job))
    report = report_head(version, f"captures {window.describe()}", rows, *done.drift(rules))
    if histograms:
        report["histograms"] = done.histograms()
    estimated = estimated_quality(
        db, store, version, model, done.probabilities(), monitoring.estimated_quality
    )
    if estimated is not None:
        report["estimated_quality"] = estimated
    complete = all(p.probabilities for p in parts)
    traffic, labelled = _reduce_labelled(inputs, done.labelled, labels, rows, complete)
    return report | labelled_checks(model, version, traffic, labelled, monitoring)


@dataclass(frozen=True)
class _Plan:
    """The second map's tasks: one per column, the predictions, per partition the class
    probabilities (classifiers) and the labelled rows (where there are labels)."""

    tasks: list[_Task]
    columns: int
    probabilities: int

    @classmethod
    def of(
        cls,
        inputs: tuple[str, ...],
        digests: tuple[str, ...],
        parts: list[_Keys],
        labels: list[LabelledRows],
        classifier: bool,
    ) -> _Plan:
        """The tasks for these partitions."""
        tasks: list[_Task] = [_ColumnDrift(name, digests) for name in inputs]
        tasks.append(_PredictionDrift(digests))
        scored = [d for d, part in zip(digests, parts, strict=True) if part.rows]
        probabilities = [_Probabilities(digest) for digest in scored] if classifier else []
        tasks += probabilities
        tasks += [
            _LabelledRows(d, found.positions)
            for d, found in zip(digests, labels, strict=True)
            if len(found.positions)
        ]
        return cls(tasks, len(inputs), len(probabilities))

    def results(self, results: list[Any]) -> _Results:
        """The map's results, by kind."""
        after_prediction = self.columns + 1
        split = after_prediction + self.probabilities
        return _Results(
            results[: self.columns],
            results[self.columns],
            results[after_prediction:split],
            results[split:],
        )


@dataclass(frozen=True)
class _Results:
    columns: list[tuple[ColumnDrift, dict[str, Any]]]
    prediction: ColumnDrift
    probability_parts: list[np.ndarray | None]
    labelled: list[_Labelled]

    def drift(self, rules: DriftConfig) -> tuple[DriftReport, ColumnDrift]:
        """The features' report and the predictions' verdict."""
        verdicts = tuple(verdict for verdict, _ in self.columns)
        return DriftReport(verdicts, rules.share, rules.min_rows), self.prediction

    def histograms(self) -> dict[str, Any]:
        """The drifted columns' bins, as many as the page shows."""
        drifted = [bins for verdict, bins in self.columns if verdict.drifted][:MAX_HISTOGRAMS]
        return {name: h for bins in drifted for name, h in bins.items()}

    def probabilities(self) -> np.ndarray | None:
        """Every row's class probabilities, in partition order (None: not a classifier)."""
        parts = self.probability_parts
        if not parts or any(p is None for p in parts):
            return None
        return np.concatenate([p for p in parts if p is not None])


def _labels(db: Database, part: _Keys) -> LabelledRows:
    """Which of a partition's rows have labels, joined where the database is."""
    keys = part.keys
    return labelled_rows(db, keys.column("request_id").to_pylist(), keys.column("row").to_pylist())


def _reduce_labelled(
    inputs: tuple[str, ...],
    parts: list[_Labelled],
    labels: list[LabelledRows],
    rows: int,
    complete: bool,
) -> tuple[Traffic, LabelledRows]:
    """The labelled rows of every partition, in order, as one window of labelled traffic."""
    truth = [value for found in labels for value in found.truth]
    if parts:
        columns = {n: np.concatenate([p.columns[n] for p in parts]) for n in inputs}
    else:
        columns = {n: np.empty(0) for n in inputs}
    predictions = np.asarray([value for part in parts for value in part.predictions])
    probabilities = None
    if complete and all(p.probabilities is not None for p in parts):
        listed = [value for part in parts for value in part.probabilities or []]
        probabilities = np.asarray(listed, dtype=float)
    traffic = Traffic(columns, predictions, "labelled captures", None, probabilities)
    return traffic, LabelledRows(np.arange(len(truth), dtype=np.int64), truth, rows)
