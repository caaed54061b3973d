"""Drift between two partitioned datasets (folders or globs of CSV/Parquet files, local or
``s3://``), one task per column on the configured compute.

A task reads its column from every partition of both sides (Parquet reads just that column;
CSV is parsed a block at a time, keeping only that column) and computes the verdict with the
single-machine code, ``compare_column``: the statistics are exact and equal to those of one
file holding the same rows, so the decisions are the same. A worker holds one column of both
windows at a time (8 bytes a numeric value: 10M rows a side is 160 MB), not the tables.
"""

from __future__ import annotations

__all__ = ["compare_partitions"]

from dataclasses import dataclass

import numpy as np

from shipline.compute import Executor
from shipline.compute.worker_memory import release_memory
from shipline.config.schema import DriftConfig
from shipline.data.partitions import filesystem, find_partitions, partition_format
from shipline.errors import DataFileError
from shipline.monitoring.drift import ColumnDrift, DriftReport, compare_column, require_columns
from shipline.monitoring.drift_files import require_same_columns


@dataclass(frozen=True)
class _ColumnTask:
    name: str
    reference: tuple[str, ...]
    current: tuple[str, ...]


def compare_partitions(
    reference: str, current: str, executor: Executor, config: DriftConfig | None = None
) -> DriftReport:
    """Compare every column the two datasets share; a column on one side only is an error."""
    rules = config or DriftConfig()
    ref_files = find_partitions(reference, "REFERENCE")
    cur_files = find_partitions(current, "CURRENT")
    ref_names, cur_names = _columns(ref_files), _columns(cur_files)
    require_same_columns(ref_names, cur_names, reference, current)
    require_columns(rules, ref_names)
    tasks = [_ColumnTask(n, tuple(ref_files), tuple(cur_files)) for n in ref_names]
    verdicts: list[ColumnDrift] = executor.map(_compare_column, tasks, shared=rules)
    return DriftReport(tuple(verdicts), rules.share, rules.min_rows)


def _columns(files: list[str]) -> list[str]:
    """The column names every partition has, in the first one's order."""
    names = _names(files[0])
    for path in files[1:]:
        other = _names(path)
        if set(other) != set(names):
            odd = sorted(set(other) ^ set(names))[0]
            raise DataFileError(
                f"{path}: its columns differ from {files[0]}'s (column {odd!r}); "
                "every partition must have the same columns"
            )
    return names


def _names(path: str) -> list[str]:
    from pyarrow import csv, parquet

    fs, location = filesystem(path)
    with fs.open(location, "rb") as handle:
        if partition_format(path) == "parquet":
            schema = parquet.ParquetFile(handle).schema_arrow
            index = (schema.pandas_metadata or {}).get("index_columns", [])
            return [n for n in schema.names if n not in index]
        reader = csv.open_csv(handle)
        return list(reader.schema.names)


def _compare_column(task: _ColumnTask, shared: DriftConfig) -> ColumnDrift:
    """Run on a worker: one column of both sides, compared."""
    try:
        reference, current = _read(task.name, task.reference), _read(task.name, task.current)
        return compare_column(task.name, reference, current, shared)
    finally:
        release_memory()


def _read(name: str, files: tuple[str, ...]) -> np.ndarray:
    """Column ``name`` of every partition, as one array, typed as one file would be: dates and
    times as seconds (whichever way a partition stores them), integers widened to floats where
    one partition has fractions or missing values."""
    import pyarrow as pa
    from pyarrow import csv, parquet

    from shipline.data.frame import column_array
    from shipline.monitoring.drift_files import text_dates_as_numbers

    arrays = []
    for path in files:
        fs, location = filesystem(path)
        with fs.open(location, "rb") as handle:
            try:
                if partition_format(path) == "parquet":
                    table = parquet.ParquetFile(handle).read(columns=[name])
                else:
                    options = csv.ConvertOptions(include_columns=[name])
                    table = csv.read_csv(handle, convert_options=options)
            except pa.ArrowInvalid as error:
                message = str(error).splitlines()[0]
                raise DataFileError(f"{path}: cannot be read: {message}") from None
        arrays.append(column_array(table.column(0)))  # the Arrow copy is dropped here
    values = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    # As for one CSV file: dates in a non-ISO format, which Arrow leaves as text, as numbers.
    every_csv = all(partition_format(path) == "csv" for path in files)
    return text_dates_as_numbers(values) if every_csv else values
