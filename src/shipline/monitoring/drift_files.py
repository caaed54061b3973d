"""``shipline drift REFERENCE CURRENT``: drift between two CSV or Parquet files, no model needed."""

from __future__ import annotations

__all__ = [
    "ParquetColumns",
    "compare_files",
    "drift_rules",
    "read_columns",
    "require_same_columns",
    "text_dates_as_numbers",
]

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from shipline.config.schema import DriftConfig
from shipline.data.data_file import data_format
from shipline.data.frame import ColumnValues, as_array, column_array, column_codes
from shipline.errors import DataFileError
from shipline.monitoring.drift import DriftReport, compare_columns
from shipline.timestamps import epoch_seconds


def read_columns(path: Path) -> dict[str, np.ndarray]:
    """Every column as a numpy array (numbers as floats with NaN for missing; text as objects)."""
    import pyarrow as pa
    from pyarrow import csv

    fmt = _check_readable(path)
    try:
        if fmt == "parquet":
            return _parquet_columns(path)
        table = csv.read_csv(path)
    except pa.ArrowInvalid as error:
        raise DataFileError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
    if table.num_rows == 0:
        raise DataFileError(f"{path}: has columns but no rows")
    return {
        name: text_dates_as_numbers(column_array(table.column(name))) for name in table.column_names
    }


def _check_readable(path: Path) -> str:
    """The file's format, once it is known to be an existing, non-empty data file."""
    fmt = data_format(path)
    if fmt is None or not path.is_file():
        raise DataFileError(f"{path}: expected an existing .csv or .parquet file")
    _check_not_empty(path)
    return fmt


def _check_not_empty(path: Path) -> None:
    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: file is empty")


def text_dates_as_numbers(values: np.ndarray) -> np.ndarray:
    """A CSV column of dates in a non-ISO format (Arrow leaves those as text) as seconds
    since the epoch, read with the same format rule as training data."""
    if values.dtype != object:
        return values
    import pandas as pd

    from shipline.data.frame import parse_date_strings

    parsed = parse_date_strings(pd.DataFrame({"c": values}))["c"]
    return epoch_seconds(parsed) if parsed.dtype.kind == "M" else values


def _parquet_columns(path: Path) -> dict[str, np.ndarray]:
    """One column at a time, so Arrow holds a single column beside the arrays made so far."""
    columns = ParquetColumns(path)
    return {name: as_array(columns[name]) for name in columns}


def compare_files(
    reference: Path,
    current: Path,
    config: DriftConfig | None = None,
    columns: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None,
) -> DriftReport:
    """Compare the columns the two files share; a column missing from either is an error.

    ``columns`` are the files' columns when the caller has read them already.
    """
    if columns is None and data_format(reference) == data_format(current) == "parquet":
        ref_file = ParquetColumns(reference, coded_text=True)
        cur_file = ParquetColumns(current, coded_text=True)
        require_same_columns(list(ref_file), list(cur_file), str(reference), str(current))
        return compare_columns(ref_file, cur_file, config, text_columns=ref_file.text_columns)
    ref, cur = columns or (read_columns(reference), read_columns(current))
    require_same_columns(list(ref), list(cur), str(reference), str(current))
    return compare_columns(ref, cur, config)


class ParquetColumns(Mapping[str, ColumnValues]):
    """A Parquet file's columns (a pandas index left out), each read when it is looked up and
    not kept: comparing two files holds only the columns being compared, not both files.
    ``names`` keeps only those columns (each must be in the file); ``coded_text`` reads text
    columns as ``CodedText`` (dictionary codes), else as object arrays."""

    def __init__(
        self, path: Path, names: list[str] | None = None, coded_text: bool = False
    ) -> None:
        from pyarrow import parquet

        if data_format(path) is not None:  # a user's file; a stored object has no extension
            _check_readable(path)
        else:
            _check_not_empty(path)
        try:
            with parquet.ParquetFile(path) as file:
                self._schema, rows = file.schema_arrow, file.metadata.num_rows
        except (OSError, ValueError) as error:
            raise DataFileError(f"{path}: cannot be read: {str(error).splitlines()[0]}") from None
        if rows == 0:
            raise DataFileError(f"{path}: has columns but no rows")
        index_columns = (self._schema.pandas_metadata or {}).get("index_columns", [])
        self._names = [n for n in self._schema.names if n not in index_columns]
        if names is not None:
            absent = [n for n in names if n not in self._names]
            if absent:
                raise DataFileError(f"{path}: has no column {absent[0]!r}")
            self._names = list(names)
        self._path = path
        self._coded_text = coded_text

    @property
    def text_columns(self) -> set[str]:
        """The columns that read as Python objects (text, and anything not a number)."""
        import pyarrow as pa

        numbers = (
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_boolean,
            pa.types.is_timestamp,
            pa.types.is_date,
        )
        return {
            name
            for name in self._names
            if not any(is_kind(self._schema.field(name).type) for is_kind in numbers)
        }

    def __getitem__(self, name: str) -> ColumnValues:
        import pyarrow as pa
        from pyarrow import parquet

        if name not in self._names:
            raise KeyError(name)
        kind = self._schema.field(name).type
        # Text straight from the file's dictionary pages: no hashing of every value.
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        try:
            with (
                pa.OSFile(str(self._path)) as source,
                parquet.ParquetFile(source, read_dictionary=[name] if text else []) as file,
            ):
                column = file.read(columns=[name]).column(0)
                values = column_codes(column) if text and self._coded_text else column_array(column)
        except (OSError, ValueError) as error:
            message = str(error).splitlines()[0]
            raise DataFileError(f"{self._path}: cannot be read: {message}") from None
        del column
        # What decoding the pages left cached goes back to the system: left cached, it raised
        # a 1M-row check's peak from 1.33x to 1.45x its data, for no gain in speed.
        pa.default_memory_pool().release_unused()
        return values

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def require_same_columns(
    reference: list[str], current: list[str], reference_name: str, current_name: str
) -> None:
    """Both sides have the same columns, else the first difference is named."""
    missing = [name for name in reference if name not in current]
    if missing:
        raise DataFileError(
            f"{current_name}: missing column {missing[0]!r} that {reference_name} has"
        )
    extra = [name for name in current if name not in reference]
    if extra:
        raise DataFileError(f"{current_name}: column {extra[0]!r} is not in {reference_name}")


def drift_rules(
    share: float, strict: bool, overrides: list[str], min_rows: int = 30
) -> DriftConfig:
    """Drift rules from command-line values; ``overrides`` are ``COLUMN=METHOD:THRESHOLD``."""
    from pydantic import ValidationError

    from shipline.errors import UsageError

    columns: dict[str, dict[str, object]] = {}
    for text in overrides:
        name, _, rule = text.partition("=")
        method, _, threshold = rule.partition(":")
        if not name or not method or not threshold:
            raise UsageError(
                f"--column expects COLUMN=METHOD:THRESHOLD such as age=psi:0.2, got {text!r}"
            )
        try:
            columns[name] = {"method": method, "threshold": float(threshold)}
        except ValueError:
            raise UsageError(f"--column {text!r}: threshold must be a number") from None
    try:
        return DriftConfig.model_validate(
            {"share": share, "strict": strict, "columns": columns, "min_rows": min_rows}
        )
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"--column: {where}: {first['msg']}") from None


def compare_files_page(
    reference: Path, current: Path, config: DriftConfig | None = None
) -> tuple[DriftReport, str]:
    """``compare_files`` with a self-contained HTML page of the result."""
    from shipline.monitoring.report_html import column_histograms, render_html

    ref, cur = read_columns(reference), read_columns(current)
    report = compare_files(reference, current, config, (ref, cur))
    drifted = [c.column for c in report.columns if c.drifted]
    page = render_html(
        f"Drift: {current.name} against {reference.name}",
        report.to_dict(),
        column_histograms(ref, cur, drifted),
        [
            f"{report.drifted} of {report.compared} columns drifted ({report.share:.0%}; "
            f"dataset drift at {report.share_threshold:.0%}): "
            + ("DATASET DRIFT" if report.dataset_drift else "no dataset drift")
        ],
    )
    return report, page
