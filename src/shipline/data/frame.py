"""Reading a dataset version back as one pandas frame, from verified blobs."""

from __future__ import annotations

__all__ = [
    "DATE_FORMATS",
    "CodedText",
    "ColumnValues",
    "as_array",
    "column_array",
    "column_codes",
    "date_format_of",
    "parse_date_strings",
    "read_frame",
]

import re
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

import numpy as np
import pandas as pd

from shipline.artifacts import ContentStore
from shipline.data.dataset_version import DatasetVersion
from shipline.timestamps import epoch_seconds


def read_frame(store: ContentStore, version: DatasetVersion) -> pd.DataFrame:
    """Every row of every file of the version (each blob re-hashed before it is read)."""
    import pyarrow as pa
    from pyarrow import csv, parquet

    tables = []
    for file in version.files:
        local = store.fetch(file.digest)
        if file.path.lower().endswith((".parquet", ".pq")):
            tables.append(parquet.read_table(local))
        else:
            tables.append(csv.read_csv(local))
    table = (
        tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    )
    return parse_date_strings(table.to_pandas(date_as_object=False))


# Dates written in a CSV file that Arrow did not type (Arrow takes ISO 8601 only). The first
# format that reads every value of a column wins; day-first comes before month-first, so an
# ambiguous column (every day <= 12) is read day-first. The format chosen is kept with the
# frame (``attrs["date_formats"]``) so the model's signature reads requests the same way.
_DATE_PARTS = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
)
_TIME_PARTS = ("", " %H:%M", " %H:%M:%S", "T%H:%M", "T%H:%M:%S")
DATE_FORMATS = tuple(d + t for d in _DATE_PARTS for t in _TIME_PARTS)
_DATE_TEXT = r"\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?\s*"
_DATE = re.compile(_DATE_TEXT)


def parse_date_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns whose every value is a date in one format become datetime columns; the
    rest is kept as it is (a column is never half converted)."""
    formats: dict[str, str] = dict(frame.attrs.get("date_formats", {}))
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object and not pd.api.types.is_string_dtype(column.dtype):
            continue
        present = column.dropna()
        head = present.head(20)  # most text columns are refused here, cheaply
        if head.empty or not all(isinstance(v, str) and _DATE.fullmatch(v) for v in head):
            continue
        if not present.map(lambda v: isinstance(v, str)).all():
            continue
        if not present.str.fullmatch(_DATE_TEXT).all():
            continue
        chosen = date_format_of(present)
        if chosen is not None:
            frame[name] = pd.to_datetime(column.str.strip(), format=chosen)
            formats[str(name)] = chosen
    if formats:
        frame.attrs["date_formats"] = formats
    return frame


def date_format_of(values: pd.Series) -> str | None:
    """The first of ``DATE_FORMATS`` that reads every value, or None."""
    stripped = values.str.strip()
    for candidate in DATE_FORMATS:
        try:
            pd.to_datetime(stripped, format=candidate)
        except (ValueError, TypeError, OverflowError):
            continue
        return candidate
    return None


def column_array(column: Any) -> np.ndarray:
    """One Arrow column as numpy: integers stay integers unless missing values force floats
    (NaN), floats are float64, booleans stay booleans, anything else is an object array."""
    import pyarrow as pa

    if pa.types.is_integer(column.type) and column.null_count == 0:
        return np.asarray(column.to_numpy())
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
    if pa.types.is_boolean(column.type) and column.null_count == 0:
        return np.asarray(column.to_numpy(zero_copy_only=False))
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        return epoch_seconds(column.to_pandas(date_as_object=False))  # a date is a number
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return _text_array(column)
    if pa.types.is_dictionary(column.type) and (
        pa.types.is_string(column.type.value_type)
        or pa.types.is_large_string(column.type.value_type)
    ):
        return _text_array(column)
    return np.asarray(column.to_pylist(), dtype=object)


def _text_array(column: Any) -> np.ndarray:
    """Text (or text read as a dictionary) as an object array holding one Python string per
    distinct value (a category seen a million times is one object, not a million): less
    memory, and counting it hashes each string once."""
    return column_codes(column).to_array()


@dataclass(frozen=True)
class CodedText:
    """A text column as Arrow's dictionary codes: each distinct value once (``words``) and one
    code per row (``-1`` where the value is missing). Counting it is one ``bincount`` instead
    of a hash lookup per row, and it holds 4 bytes a row instead of an 8-byte pointer."""

    words: np.ndarray
    codes: np.ndarray
    dtype: ClassVar[np.dtype[Any]] = np.dtype(object)

    @property
    def size(self) -> int:
        """How many rows, missing ones included."""
        return int(self.codes.size)

    def tally(self) -> dict[Any, int]:
        """Each present value's count."""
        counts = np.bincount(self.codes + 1, minlength=len(self.words) + 1)[1:]
        found: dict[Any, int] = {}
        for word, count in zip(self.words.tolist(), counts.tolist(), strict=True):
            if count:  # a dictionary can hold words no row uses, or one word twice
                found[word] = found.get(word, 0) + count
        return found

    def to_array(self) -> np.ndarray:
        """The rows as an object array (missing values as None)."""
        words = np.empty(len(self.words) + 1, dtype=object)
        words[:-1] = self.words
        words[-1] = None  # where the code -1 points
        rows: np.ndarray = words[self.codes]
        return rows


ColumnValues: TypeAlias = np.ndarray | CodedText


def as_array(values: ColumnValues) -> np.ndarray:
    """``values`` as a numpy array (coded text spelled out)."""
    return values.to_array() if isinstance(values, CodedText) else values


def column_codes(column: Any) -> CodedText:
    """A text (or dictionary of text) Arrow column as ``CodedText``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        if pa.types.is_dictionary(column.type):
            column = column.unify_dictionaries()  # one dictionary for every chunk
        column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    words = np.empty(len(encoded.dictionary), dtype=object)
    words[:] = encoded.dictionary.to_pylist()
    codes = pc.fill_null(encoded.indices.cast(pa.int32()), -1)
    return CodedText(words, np.asarray(codes))
