"""``shipline predict``: score a CSV or Parquet file in chunks, as the server would."""

from __future__ import annotations

__all__ = ["ScoredFile", "ScoringOutput", "read_chunks", "score_file", "score_table"]

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


@dataclass(frozen=True)
class ScoringOutput:
    """What a batch-scoring output holds: the predictions, the input columns unless
    ``inputs`` is off (then only the id column, if the signature has one, is kept beside
    them), and ``proba_<class>`` columns with ``probabilities``."""

    probabilities: bool = False
    inputs: bool = True

    def check(self, ref: str, task: str) -> None:
        """Refuse probabilities of a model that gives none."""
        if self.probabilities and task != "classification":
            raise UsageError(
                f"--probabilities: {ref} is a {task} model; only classifiers give class "
                "probabilities"
            )


def score_file(
    model: LoadedModel,
    source: Path,
    target: Path,
    output: ScoringOutput = ScoringOutput(),
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Write ``source``'s rows with a ``prediction`` column (and what ``output`` asks for) to
    ``target``, chunk by chunk so files larger than memory work; returns the row count."""
    from pyarrow import csv, parquet

    out_format = data_format(target)
    if out_format is None:
        raise UsageError(f"--output {target}: expected a .csv or .parquet file name")
    if target.resolve() == source.resolve():
        raise UsageError("--output must not be the input file")
    output.check(f"{model.name}:{model.version}", model.bundle.task)
    partial = target.with_name(f".{target.name}.partial")
    writer: Any = None
    total = 0
    try:
        for chunk in _chunks(source):
            table = score_table(model, chunk, output, str(source))
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


def score_table(model: LoadedModel, chunk: Any, output: ScoringOutput, where: str) -> Any:
    """``chunk`` (an Arrow table) scored: its columns (or only its id column) and the model's
    predictions, validated against the signature exactly as a request to the server would be."""
    import numpy as np
    import pyarrow as pa

    missing = [n for n in model.input_names if n not in chunk.column_names]
    if missing:
        raise DataFileError(f"{where}: missing input column {missing[0]!r}")
    columns = {name: _values(chunk.column(name)) for name in model.input_names}
    result = model.predict(model.frame(columns, chunk.num_rows), output.probabilities)
    kept = chunk.column_names if output.inputs else [model.signature.id_column]
    scored = {name: chunk.column(name) for name in kept if name in chunk.column_names}
    scored["prediction"] = pa.array(result.values)
    if result.probabilities is not None and result.classes is not None:
        shares = np.asarray(result.probabilities, dtype=np.float64)
        for index, label in enumerate(result.classes):
            scored[f"proba_{label}"] = pa.array(shares[:, index])
    return pa.table(scored)


def _values(column: Any) -> Any:
    """Numbers as one float array (missing values NaN, as the server reads JSON nulls);
    anything else as Python values for the signature check to read one by one."""
    import numpy as np
    import pyarrow as pa

    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    return column.to_pylist()


def _chunks(source: Path) -> Iterator[Any]:
    if not source.is_file():
        raise DataFileError(f"{source}: no such file")
    with source.open("rb") as handle:
        yield from read_chunks(handle, data_format(source), str(source))


def read_chunks(handle: Any, fmt: str | None, where: str) -> Iterator[Any]:
    """Arrow tables of at most ``CHUNK_ROWS`` rows (CSV: 8 MiB blocks) from an open file."""
    import pyarrow as pa
    from pyarrow import csv, parquet

    try:
        if fmt == "parquet":
            for batch in parquet.ParquetFile(handle).iter_batches(batch_size=CHUNK_ROWS):
                yield pa.Table.from_batches([batch])
        elif fmt == "csv":
            reader = csv.open_csv(handle, read_options=csv.ReadOptions(block_size=8 * 1024 * 1024))
            for batch in reader:
                yield pa.Table.from_batches([batch])
        else:
            raise DataFileError(f"{where}: expected a .csv or .parquet file")
    except pa.ArrowInvalid as error:
        raise DataFileError(f"{where}: cannot be read: {str(error).splitlines()[0]}") from None
