"""``shipline predict``: score a CSV or Parquet file in chunks, as the server would."""

from __future__ import annotations

__all__ = ["ScoredFile", "score_file"]

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipline.data.data_file import data_format
from shipline.errors import DataFileError, UsageError
from shipline.scoring.loaded_model import LoadedModel

CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class ScoredFile:
    """A scored file: the version that scored it, the rows and where they were written."""

    model: str
    version: int
    rows: int
    output: Path


def score_file(
    model: LoadedModel,
    source: Path,
    target: Path,
    probabilities: bool = False,
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Write ``source`` plus a ``prediction`` column (and ``proba_<class>`` columns) to
    ``target``, chunk by chunk so files larger than memory work; returns the row count."""
    import pyarrow as pa
    from pyarrow import csv, parquet

    out_format = data_format(target)
    if out_format is None:
        raise UsageError(f"--output {target}: expected a .csv or .parquet file name")
    if target.resolve() == source.resolve():
        raise UsageError("--output must not be the input file")
    if probabilities and model.bundle.task != "classification":
        raise UsageError(
            f"--probabilities: {model.name}:{model.version} is a {model.bundle.task} model; "
            "only classifiers give class probabilities"
        )
    partial = target.with_name(f".{target.name}.partial")
    writer: Any = None
    total = 0
    try:
        for chunk in _chunks(source):
            columns = {
                name: chunk.column(name).to_pylist()
                for name in model.input_names
                if name in chunk.column_names
            }
            missing = [n for n in model.input_names if n not in chunk.column_names]
            if missing:
                raise DataFileError(f"{source}: missing input column {missing[0]!r}")
            result = model.predict(model.frame(columns, chunk.num_rows), probabilities)
            table = chunk.append_column("prediction", pa.array(result.values))
            if result.probabilities is not None and result.classes is not None:
                for index, label in enumerate(result.classes):
                    table = table.append_column(
                        f"proba_{label}", pa.array([p[index] for p in result.probabilities])
                    )
            if writer is None:
                writer = (
                    parquet.ParquetWriter(partial, table.schema)
                    if out_format == "parquet"
                    else csv.CSVWriter(partial, table.schema)
                )
            writer.write_table(table)
            total += chunk.num_rows
            if on_rows is not None:
                on_rows(chunk.num_rows)
    except BaseException:
        if writer is not None:
            writer.close()
        partial.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    partial.replace(target)
    return total


def _chunks(source: Path) -> Iterator[Any]:
    import pyarrow as pa
    from pyarrow import csv, parquet

    fmt = data_format(source)
    if not source.is_file():
        raise DataFileError(f"{source}: no such file")
    try:
        if fmt == "parquet":
            handle = parquet.ParquetFile(source)
            for batch in handle.iter_batches(batch_size=CHUNK_ROWS):
                yield pa.Table.from_batches([batch])
        elif fmt == "csv":
            reader = csv.open_csv(source, read_options=csv.ReadOptions(block_size=8 * 1024 * 1024))
            for batch in reader:
                yield pa.Table.from_batches([batch])
        else:
            raise DataFileError(f"{source}: expected a .csv or .parquet file")
    except pa.ArrowInvalid as error:
        raise DataFileError(f"{source}: cannot be read: {str(error).splitlines()[0]}") from None
