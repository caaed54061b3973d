"""One partition of captured rows while it is buffered, and the Arrow table it becomes.

The rows are kept in columns, not as the requests that brought them. A request's inputs are
rows of the micro-batch it was predicted in, and the requests of one batch are recorded one
after another, so each batch's rows are copied into the partition's columns once, when the
next batch begins: a few array copies per batch. Keeping each batch's arrays until the flush
instead cost 12% of the server's throughput and doubled its p99, the memory of thousands of
small arrays held and then freed in one go. Per-request values (ids, times, predictions,
probabilities) go into flat lists and arrays of numbers, which the garbage collector does not
walk.
"""

from __future__ import annotations

__all__ = ["PartitionRows"]

from array import array
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

import numpy as np

# Arrays of these types become the same Arrow column whether joined or listed. (Compared as
# dtypes: a dtype's ``name`` is worked out in Python, ~1 µs a time.)
_NUMERIC = (np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))


class _Column:
    """One input column of a partition: a growing array while every piece is an array of one
    numeric type, else a list (null where a batch did not send the column)."""

    __slots__ = ("array", "size", "values")

    def __init__(self, missing: int) -> None:
        self.array: Any = None
        self.size = 0
        self.values: list[Any] | None = [None] * missing if missing else None

    def append(self, piece: Any) -> None:
        """Add a batch's values (an array or a list) after the column's."""
        if self.values is None and isinstance(piece, np.ndarray):
            kind = piece.dtype
            if kind in _NUMERIC and (self.array is None or self.array.dtype == kind):
                self._copy_in(piece)
                return
        values = self._listed()
        values.extend(piece.tolist() if hasattr(piece, "tolist") else piece)

    def append_missing(self, rows: int) -> None:
        """Add ``rows`` nulls (a batch that did not send the column)."""
        self._listed().extend([None] * rows)

    def result(self) -> Any:
        """The column's values: an array, or a list."""
        return self.array[: self.size] if self.values is None else self.values

    def _copy_in(self, piece: Any) -> None:
        end = self.size + len(piece)
        if self.array is None or end > len(self.array):
            grown = np.empty(max(end, 2 * self.size, 64), piece.dtype)
            if self.array is not None:
                grown[: self.size] = self.array[: self.size]
            self.array = grown
        self.array[self.size : end] = piece
        self.size = end

    def _listed(self) -> list[Any]:
        if self.values is None:
            self.values = [] if self.array is None else self.array[: self.size].tolist()
            self.array = None
        return self.values


class PartitionRows:
    """The rows of one partition (model, version, day) buffered for the next flush."""

    def __init__(self) -> None:
        self.rows = 0
        self.columns: dict[str, _Column] = {}
        self._copied = 0  # rows already in ``columns``
        # The batch being recorded: its inputs, and the rows of it taken so far.
        self._batch: dict[str, Any] | None = None
        self._start = self._end = 0
        self.request_ids: list[str] = []
        self.counts = array("q")  # each request's rows
        self.times = array("q")  # each request's time, in microseconds since the epoch
        self.predictions: list[Any] = []  # one per row
        self.probabilities = array("d")  # flat: ``width`` per row that has them
        self.width = 0
        self.without: list[tuple[int, int]] = []  # (first row, rows) given no probabilities
        self.ids: list[tuple[int, dict[str, list[Any]]]] = []  # (first row, the ids sent)

    def add(
        self,
        columns: dict[str, Any],
        offset: int,
        request_id: str,
        rows: int,
        at: int,
        predictions: list[Any],
        probabilities: list[list[float]] | None,
        ids: dict[str, list[Any]] | None,
    ) -> None:
        """Buffer one request, whose inputs are rows ``offset`` to ``offset + rows`` of
        ``columns`` (its batch's inputs, not changed afterwards)."""
        if columns is not self._batch or offset != self._end:
            self._copy_batch()
            self._batch, self._start, self._end = columns, offset, offset
        self._end += rows
        if ids:
            self.ids.append((self.rows, ids))
        if probabilities:
            self.width = len(probabilities[0])
            self.probabilities.extend(chain.from_iterable(probabilities))
        elif rows:
            self.without.append((self.rows, rows))
        self.request_ids.append(request_id)
        self.counts.append(rows)
        self.times.append(at)
        self.predictions.extend(predictions)
        self.rows += rows

    def extend(self, later: PartitionRows) -> None:
        """Append the rows of a partition buffered after this one."""
        if not later.rows:
            return
        self._copy_batch()
        later._copy_batch()
        for name, column in later.columns.items():
            self._column(name).append(column.result())
        for name, column in self.columns.items():
            if name not in later.columns:
                column.append_missing(later.rows)
        self.ids.extend((row + self.rows, ids) for row, ids in later.ids)
        self.without.extend((row + self.rows, rows) for row, rows in later.without)
        self.width = self.width or later.width
        self.request_ids.extend(later.request_ids)
        self.counts.extend(later.counts)
        self.times.extend(later.times)
        self.predictions.extend(later.predictions)
        self.probabilities.extend(later.probabilities)
        self.rows += later.rows
        self._copied = self.rows

    def table(self, pace: Callable[[], None]) -> Any:
        """The rows as an Arrow table: one column per name any request sent, missing as null.

        ``pace`` is called between its steps, so a background flush can leave the core to
        requests in between.
        """
        import pyarrow as pa

        self._copy_batch()
        counts = np.frombuffer(self.counts, np.int64)
        request_ids = pa.array(self.request_ids, pa.string())
        stamps = _stamps(np.frombuffer(self.times, np.int64))
        pace()
        if len(counts) == self.rows:  # one row per request: nothing to repeat
            row = np.zeros(self.rows, np.int64)
        else:
            request_ids, stamps = _repeat(request_ids, counts), _repeat(stamps, counts)
            starts = np.cumsum(counts) - counts
            row = np.arange(self.rows) - np.repeat(starts, counts)
        data: dict[str, Any] = {"request_id": request_ids, "row": row, "captured_at": stamps}
        for name, column in self._input_columns():
            data[name] = column
        data["prediction"] = pa.array(self.predictions)
        probabilities = self._probabilities()
        if probabilities is not None:
            data["probabilities"] = probabilities
        pace()
        return pa.table(data)

    def _copy_batch(self) -> None:
        """Copy the rows taken from the batch being recorded into the columns."""
        batch, taken = self._batch, self._end - self._start
        if batch is None or not taken:
            return
        whole = self._start == 0 and taken == len(next(iter(batch.values()), ()))
        for name, values in batch.items():
            self._column(name).append(values if whole else values[self._start : self._end])
        for name, column in self.columns.items():
            if name not in batch:
                column.append_missing(taken)
        self._copied += taken
        self._batch, self._start, self._end = None, 0, 0

    def _column(self, name: str) -> _Column:
        column = self.columns.get(name)
        if column is None:  # null in the rows before
            column = self.columns[name] = _Column(self._copied)
        return column

    def _input_columns(self) -> Iterator[tuple[str, Any]]:
        """Each input column, then each id column, in the order first sent."""
        for name, column in self.columns.items():
            yield name, column.result()
        for name in dict.fromkeys(name for _, ids in self.ids for name in ids):
            values: list[Any] = [None] * self.rows
            for first, ids in self.ids:
                sent = ids.get(name) or []
                values[first : first + len(sent)] = sent
            # Kept as text: clients send ids as strings or numbers, and a column must have one
            # type in a partition and across them (monitoring reads several together).
            yield name, [None if v is None else str(v) for v in values]

    def _probabilities(self) -> Any:
        """The class probabilities per row: a list<double> column, null where none were given
        (None when no row has them)."""
        import pyarrow as pa

        if not self.probabilities:
            return None
        flat = np.frombuffer(self.probabilities, np.float64)
        width = self.width
        if not self.without:
            offsets = np.arange(0, flat.size + 1, width, dtype=np.int32)
            return pa.ListArray.from_arrays(offsets, flat)
        gaps = dict(self.without)
        rows: list[list[float] | None] = []
        row = position = 0
        while row < self.rows:
            if row in gaps:
                rows.extend([None] * gaps[row])
                row += gaps[row]
            else:
                rows.append(flat[position : position + width].tolist())
                position, row = position + width, row + 1
        return rows


def _repeat(values: Any, counts: Any) -> Any:
    """Each value of an Arrow array repeated its count of times."""
    return values.take(np.repeat(np.arange(len(counts)), counts))


def _stamps(micros: Any) -> Any:
    """Microseconds since the epoch as the ISO-8601 UTC text every table stores."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # Arrow's cast writes "YYYY-MM-DD HH:MM:SS.ffffff" (always six digits for microseconds).
    text = pa.array(micros, pa.timestamp("us")).cast(pa.string())
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "Z", "")
