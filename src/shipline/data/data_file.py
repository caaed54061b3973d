"""Tabular data files (CSV, Parquet): finding them, reading their schema, counting rows.

CSV files are read once, in the same streaming pass that hashes and stores them: the pass
counts rows and checks UTF-8 as the chunks go by, and the schema comes from the first MiB,
parsed by pyarrow before the pass starts. Parquet schema and row count come from the footer.
"""

from __future__ import annotations

__all__ = [
    "CSV_HEAD_BYTES",
    "Column",
    "CsvScan",
    "FileSchema",
    "count_csv_rows",
    "csv_head_schema",
    "data_format",
    "find_data_files",
    "read_csv_head",
    "read_parquet_footer",
]

import codecs
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shipline.errors import DataFileError

CSV_HEAD_BYTES = 1024 * 1024
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass(frozen=True)
class Column:
    """A column name and its Arrow type name (``int64``, ``double``, ``string``...)."""

    name: str
    dtype: str


@dataclass(frozen=True)
class FileSchema:
    """Columns of one file; ``rows`` is exact when known without a full scan."""

    columns: tuple[Column, ...]
    rows: int | None


def data_format(path: Path) -> str | None:
    """``csv`` or ``parquet`` from the file name, or None for anything else."""
    return _FORMATS.get(path.suffix.lower())


def find_data_files(path: Path) -> list[Path]:
    """The data files at ``path`` (one file, or every CSV/Parquet file under a folder)."""
    if not path.exists():
        raise DataFileError(f"{path}: no such file or directory")
    if path.is_file():
        if data_format(path) is None:
            raise DataFileError(
                f"{path}: expected a .csv or .parquet file, found {path.suffix or 'no extension'!r}"
            )
        return [path]
    found: list[Path] = []
    others: list[Path] = []
    for entry in sorted(path.rglob("*")):
        relative = entry.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if entry.is_symlink():
            raise DataFileError(f"{entry}: symbolic links are not followed inside a data folder")
        if entry.is_file():
            (found if data_format(entry) else others).append(entry)
    if not found:
        seen = ", ".join(str(p.relative_to(path)) for p in others[:5]) or "nothing"
        raise DataFileError(f"{path}: folder holds no .csv or .parquet files (found {seen})")
    return found


def _dtype_name(arrow_type: Any) -> str:
    name = str(arrow_type)
    return {"large_string": "string", "string_view": "string", "large_binary": "binary"}.get(
        name, name
    )


def _columns(schema: Any, path: Path) -> tuple[Column, ...]:
    names = list(schema.names)
    seen: dict[str, int] = {}
    for index, name in enumerate(names, start=1):
        if name in seen:
            raise DataFileError(
                f"{path}: duplicate column name {name!r} (columns {seen[name]} and {index})"
            )
        seen[name] = index
    return tuple(Column(field.name, _dtype_name(field.type)) for field in schema)


def read_csv_head(path: Path) -> FileSchema:
    """Schema from the first MiB of a CSV file; rows too when the file fits in that MiB."""
    with path.open("rb") as handle:
        head = handle.read(CSV_HEAD_BYTES + 1)
    return csv_head_schema(head, path)


def csv_head_schema(head: bytes, path: Path) -> FileSchema:
    """Schema from the first ``CSV_HEAD_BYTES + 1`` bytes of a CSV file (all of a smaller one)."""
    import pyarrow as pa
    from pyarrow import csv

    if not head.strip():
        raise DataFileError(f"{path}: file is empty; expected a header row and data rows")
    whole = len(head) <= CSV_HEAD_BYTES
    if not whole:
        cut = head.rfind(b"\n", 0, CSV_HEAD_BYTES)
        if cut <= 0:
            raise DataFileError(f"{path}: the first line is longer than {CSV_HEAD_BYTES} bytes")
        head = head[: cut + 1]
    _check_utf8(head, path, whole)
    try:  # one MiB: no thread pool needed (and none left running at exit)
        table = csv.read_csv(io.BytesIO(head), read_options=csv.ReadOptions(use_threads=False))
    except pa.ArrowInvalid as error:
        raise DataFileError(f"{path}: cannot be read as CSV: {_first_line(error)}") from None
    columns = _columns(table.schema, path)
    if table.num_rows == 0:
        raise DataFileError(f"{path}: has a header ({len(columns)} columns) but no data rows")
    return FileSchema(columns, table.num_rows if whole else None)


def _check_utf8(head: bytes, path: Path, whole: bool) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=whole)
    except UnicodeDecodeError as error:
        line = head[: error.start].count(b"\n") + 1
        raise DataFileError(
            f"{path}: line {line} (byte {error.start}) is not valid UTF-8; save the file as UTF-8"
        ) from None


def read_parquet_footer(path: Path) -> FileSchema:
    """Schema and exact row count from a Parquet footer."""
    import pyarrow as pa
    from pyarrow import parquet

    if path.stat().st_size == 0:
        raise DataFileError(f"{path}: file is empty; expected a Parquet file")
    try:
        with parquet.ParquetFile(path) as handle:
            schema, rows = handle.schema_arrow, handle.metadata.num_rows
    except (pa.ArrowException, OSError) as error:
        raise DataFileError(f"{path}: not a readable Parquet file: {_first_line(error)}") from None
    for field in schema:
        if isinstance(field.type, pa.ExtensionType):
            raise DataFileError(
                f"{path}: column {field.name!r} has extension type {field.type}; "
                "extension types are refused (CVE-2023-47248)"
            )
    columns = _columns(schema, path)
    if rows == 0:
        raise DataFileError(f"{path}: has {len(columns)} columns but no rows")
    return FileSchema(columns, rows)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


class CsvScan:
    """Counts CSV rows and checks UTF-8 while a file streams past (a ``StreamCheck``).

    Counting newlines is exact unless a quoted field holds a newline or a line is blank
    (pyarrow skips blank lines); when the stream holds quotes or blank lines, ``rows`` is None
    and the caller counts with a real CSV parser instead.
    """

    def __init__(self, path: Path, on_bytes: Callable[[int], None] | None = None) -> None:
        self.path = path
        self.on_bytes = on_bytes
        self._newlines = 0
        self._size = 0
        self._last = b""
        self._last_newline = -1
        self._quoted = False
        self._blank = False
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._pending = False
        self.head = bytearray()  # the first bytes as they were stored: the schema comes from them
        self._fields_expected: int | None = None  # commas on the header line
        self._commas_open = 0  # commas since the last newline
        self._misfit: tuple[int, int] | None = None  # first (line, commas) that does not fit

    def update(self, chunk: memoryview) -> None:
        """Count and check one chunk."""
        raw = _buffer(chunk)
        if len(self.head) <= CSV_HEAD_BYTES:
            self.head += raw[: CSV_HEAD_BYTES + 1 - len(self.head)]
        if self._pending or not raw.isascii():
            self._decode(bytes(raw))
        self._quoted = self._quoted or b'"' in raw
        octets = np.frombuffer(raw, dtype=np.uint8)
        newlines = np.flatnonzero(octets == 10)
        if newlines.size and not self._blank:
            self._blank = self._has_blank_line(octets, newlines)
        self._check_fields(octets, newlines)
        self._newlines += int(newlines.size)
        if newlines.size:
            self._last_newline = self._size + int(newlines[-1])
        self._size += len(raw)
        self._last = bytes(raw[-1:])
        if self.on_bytes is not None:
            self.on_bytes(len(raw))

    def _has_blank_line(self, octets: Any, newlines: Any) -> bool:
        """True when a line between two newlines is empty or holds only a carriage return."""
        gaps = np.diff(newlines, prepend=self._last_newline - self._size)
        if bool((gaps == 1).any()):
            return True
        before = newlines[gaps == 2] - 1
        if before.size and before[0] < 0 and self._last == b"\r":
            return True
        inside = before[before >= 0]
        return bool(inside.size and (octets[inside] == 13).any())

    def _check_fields(self, octets: Any, newlines: Any) -> None:
        """Count commas per line; remember the first line whose count differs from the
        header's. Only decisive for files without quotes or blank lines (see ``finish``)."""
        commas = np.flatnonzero(octets == 44)
        if not newlines.size:
            self._commas_open += int(commas.size)
            return
        before = np.searchsorted(commas, newlines)
        per_line = np.diff(before, prepend=0)
        per_line[0] += self._commas_open
        self._commas_open = int(commas.size - before[-1])
        if self._fields_expected is None:
            self._fields_expected = int(per_line[0])
        if self._misfit is None:
            wrong = np.flatnonzero(per_line != self._fields_expected)
            if wrong.size:
                self._misfit = (self._newlines + int(wrong[0]) + 1, int(per_line[wrong[0]]))

    def finish(self) -> None:
        """Reject a stream that ends inside a UTF-8 sequence, or a row with the wrong number
        of fields anywhere in the file (not just in the first MiB the schema comes from)."""
        self._decode(b"", final=True)
        if self._last not in (b"\n", b"") and self._misfit is None:
            expected = self._fields_expected
            if expected is not None and self._commas_open != expected:
                self._misfit = (self._newlines + 1, self._commas_open)
        if self._misfit is not None and not (self._quoted or self._blank):
            line, commas = self._misfit
            raise DataFileError(
                f"{self.path}: line {line} has {commas + 1} fields, expected "
                f"{(self._fields_expected or 0) + 1} (as in the header); the file is malformed"
            )

    @property
    def rows(self) -> int | None:
        """Data rows (header excluded) when newline counting is exact, else None."""
        if self._quoted or self._blank:
            return None
        lines = self._newlines + (0 if self._last in (b"\n", b"") else 1)
        return max(lines - 1, 0)

    def _decode(self, data: bytes, final: bool = False) -> None:
        try:
            self._decoder.decode(data, final=final)
        except UnicodeDecodeError as error:
            offset = self._size + error.start
            line = self._newlines + data[: error.start].count(b"\n") + 1
            raise DataFileError(
                f"{self.path}: line {line} (byte {offset}) is not valid UTF-8; "
                "save the file as UTF-8"
            ) from None
        self._pending = bool(self._decoder.getstate()[0])


def _buffer(chunk: memoryview) -> bytes | bytearray:
    """The chunk as a searchable buffer, without copying when it spans its whole buffer."""
    owner = chunk.obj
    if isinstance(owner, bytes | bytearray) and len(owner) == len(chunk):
        return owner
    return chunk.tobytes()


def count_csv_rows(path: Path, shown: Path | None = None) -> int:
    """Exact data rows of a CSV file with a real parser (quoted newlines, blank lines);
    errors name ``shown`` (the user's file) when ``path`` is a stored copy of it."""
    import pyarrow as pa
    from pyarrow import csv

    try:
        reader = csv.open_csv(
            path,
            read_options=csv.ReadOptions(block_size=16 * 1024 * 1024),
            convert_options=csv.ConvertOptions(column_types={}, auto_dict_encode=False),
        )
        return sum(batch.num_rows for batch in reader)
    except pa.ArrowInvalid as error:
        raise DataFileError(
            f"{shown or path}: cannot be read as CSV: {_first_line(error)}"
        ) from None
