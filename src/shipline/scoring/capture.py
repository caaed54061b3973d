"""Capture: what the service was asked and answered, written off the request path.

Rows are buffered column by column (cheap to append on the request path, cheap to turn into
Arrow at flush time) and flushed as Parquet partitions (one per model, version and day) into
the content store, then indexed in the ``captures`` table: blob first, then the row that
points at it. Flushing happens in a background thread on size or age, and at shutdown, so
nothing buffered is lost on a clean stop; a failed write keeps its rows for the next flush.
"""

from __future__ import annotations

__all__ = ["CaptureBuffer", "CaptureSink", "StoreCaptureSink", "record_capture", "sampled"]

import functools
import threading
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple, Protocol

from shipline.artifacts import ContentStore
from shipline.errors import DataFileError, StorageError
from shipline.store import Database, utc_now
from shipline.store.tables import captures

Partition = tuple[str, int, str]


def sampled(request_id: str, share: float) -> bool:
    """Deterministic sampling by request id: the same id is always in or out."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    return (zlib.crc32(request_id.encode()) % 1_000_000) < share * 1_000_000


class _Chunk(NamedTuple):
    """One request's captured rows, as handed over (assembled into columns at flush time):
    its inputs are rows ``offset`` to ``offset + rows`` of ``columns``, which may be the whole
    batch it was predicted in, shared with the other requests of that batch. (A tuple: made
    for every request, where a frozen dataclass's ``__init__`` cost ~2 µs.)"""

    request_id: str
    rows: int
    at: int  # microseconds since the epoch (turned into stamps at flush time)
    columns: dict[str, Any]
    offset: int
    predictions: list[Any]
    probabilities: list[list[float]] | None
    ids: dict[str, list[Any]] | None


@dataclass
class _Run:
    """Consecutive requests whose inputs are consecutive rows of one batch."""

    columns: dict[str, Any]
    start: int
    end: int

    def piece(self, name: str) -> Any:
        values = self.columns.get(name)
        return None if values is None else values[self.start : self.end]


class _Partition:
    """One partition's buffered requests."""

    def __init__(self) -> None:
        self.chunks: list[_Chunk] = []
        self.rows = 0

    def extend(self, other: _Partition) -> None:
        self.chunks.extend(other.chunks)
        self.rows += other.rows

    def table(self) -> Any:
        """The rows as an Arrow table: one column per name any request sent, missing as null."""
        import numpy as np
        import pyarrow as pa

        chunks = self.chunks
        counts = np.fromiter((c.rows for c in chunks), np.int64, len(chunks))
        starts = np.cumsum(counts) - counts
        data: dict[str, Any] = {
            "request_id": np.repeat(np.array([c.request_id for c in chunks], object), counts),
            "row": np.arange(int(counts.sum())) - np.repeat(starts, counts),
            "captured_at": np.repeat(_stamps([c.at for c in chunks]), counts),
        }
        data.update(_input_columns(chunks))
        data["prediction"] = list(chain.from_iterable(c.predictions for c in chunks))
        if any(c.probabilities is not None for c in chunks):
            data["probabilities"] = _probabilities(chunks)
        return pa.table(data)


def _stamps(micros: list[int]) -> Any:
    """Microseconds since the epoch as the ISO-8601 UTC text every table stores."""
    import numpy as np

    text = np.datetime_as_string(np.array(micros, dtype="datetime64[us]"), unit="us")
    return np.char.add(text, "Z").astype(object)


@functools.lru_cache(maxsize=4)
def _day(day_number: int) -> str:
    """The UTC day (YYYY-MM-DD) ``day_number`` days after the epoch."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day_number)).strftime("%Y-%m-%d")


_MICROS_PER_DAY = 86_400_000_000


# Arrays of these types become the same Arrow column whether concatenated or listed.
_SAME_AS_LISTED = ("float64", "int64", "bool")


def _input_columns(chunks: list[_Chunk]) -> dict[str, Any]:
    """Each input (and id) column over all requests, in the order they were first sent."""
    runs = _runs(chunks)
    names = dict.fromkeys(name for run in runs for name in run.columns)
    columns = {name: _column([run.piece(name) for run in runs], runs) for name in names}
    if any(c.ids for c in chunks):
        for name in dict.fromkeys(name for c in chunks for name in c.ids or {}):
            values: list[Any] = []
            for c in chunks:
                values.extend((c.ids or {}).get(name) or [None] * c.rows)
            # Kept as text: clients send ids as strings or numbers, and a column must have one
            # type in a partition and across them (monitoring reads several together).
            columns[name] = [None if v is None else str(v) for v in values]
    return columns


def _runs(chunks: list[_Chunk]) -> list[_Run]:
    """The chunks merged where one continues the batch rows of the one before."""
    runs: list[_Run] = []
    for c in chunks:
        last = runs[-1] if runs else None
        if last is not None and last.columns is c.columns and last.end == c.offset:
            last.end += c.rows
        else:
            runs.append(_Run(c.columns, c.offset, c.offset + c.rows))
    return runs


def _column(pieces: list[Any], runs: list[_Run]) -> Any:
    """One column from each run's values (an array, a list, or None when not sent)."""
    import numpy as np

    first = pieces[0]
    if isinstance(first, np.ndarray) and first.dtype.name in _SAME_AS_LISTED:
        try:
            joined = np.concatenate(pieces)
        except (TypeError, ValueError):  # a request that did not send it, or ragged values
            joined = None
        if joined is not None and joined.dtype == first.dtype:
            return joined
    values: list[Any] = []
    for piece, run in zip(pieces, runs, strict=True):
        if piece is None:
            values.extend([None] * (run.end - run.start))
        else:
            values.extend(piece.tolist() if hasattr(piece, "tolist") else piece)
    return values


def _probabilities(chunks: list[_Chunk]) -> Any:
    """The class probabilities per row: a list<double> column, null where none were given."""
    import numpy as np
    import pyarrow as pa

    if all(c.probabilities is not None for c in chunks):
        flat = np.asarray(list(chain.from_iterable(c.probabilities or [] for c in chunks)))
        if flat.ndim == 2 and flat.dtype == np.float64:
            offsets = np.arange(0, flat.size + 1, flat.shape[1], dtype=np.int32)
            return pa.ListArray.from_arrays(offsets, flat.reshape(-1))
    values: list[Any] = []
    for c in chunks:
        values.extend(c.probabilities or [None] * c.rows)
    return values


class CaptureBuffer:
    """Thread-safe buffer of captured rows, flushed to the store by ``flush``."""

    def __init__(
        self,
        sink: CaptureSink,
        flush_rows: int = 5000,
        max_backlog_rows: int = 100_000,
    ) -> None:
        self.sink, self.flush_rows = sink, flush_rows
        self.max_backlog_rows = max_backlog_rows
        self._partitions: dict[Partition, _Partition] = defaultdict(_Partition)
        self._buffered = 0  # rows in the partitions above
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._in_flight = 0  # rows taken out of the buffer by a flush still writing them
        self.written = 0
        self._write_cost: dict[tuple[str, int], tuple[float, int]] = {}
        self.dropped = 0

    @property
    def backlog(self) -> int:
        """Rows not yet written: buffered, and being written by a flush right now."""
        with self._lock:
            return self._buffered + self._in_flight

    def add(
        self,
        model: str,
        version: int,
        request_id: str,
        columns: dict[str, Any],
        predictions: list[Any],
        rows: int,
        probabilities: list[list[float]] | None = None,
        ids: dict[str, list[Any]] | None = None,
        offset: int = 0,
    ) -> bool:
        """Buffer one request's rows; True when the buffer is due for a flush.

        ``probabilities`` (classifiers) are kept per row so quality metrics that need them
        (roc_auc, log_loss) can be judged once labels arrive; ``ids`` holds the id column the
        client sent (``data.id_column``), kept beside the inputs. The request's inputs are
        rows ``offset`` to ``offset + rows`` of ``columns`` (the batch it was predicted in, so
        the requests of one batch share it); values are kept as handed over (the caller does
        not change them afterwards) and turned into columns when flushed, off the request path.
        """
        at = time.time_ns() // 1000
        chunk = _Chunk(request_id, rows, at, columns, offset, predictions, probabilities, ids)
        with self._lock:
            if self._buffered + self._in_flight + rows > self.max_backlog_rows:
                # The store has been failing for a while: memory stays bounded, the loss counted.
                self.dropped += rows
                return False  # the periodic flush retries; no flush per dropped request
            partition = self._partitions[(model, version, _day(at // _MICROS_PER_DAY))]
            partition.chunks.append(chunk)
            partition.rows += rows
            self._buffered += rows
            return self._buffered >= self.flush_rows

    def flush(self) -> int:
        """Write every buffered partition; returns the rows written."""
        with self._flush_lock:
            with self._lock:
                pending, self._partitions = self._partitions, defaultdict(_Partition)
                self._in_flight, self._buffered = self._buffered, 0
            try:
                return self._write_all(pending)
            finally:
                with self._lock:
                    self._in_flight = 0

    def _write_all(self, pending: dict[Partition, _Partition]) -> int:
        """Write each partition; failed ones go back in front of the buffer for a retry."""
        written, failed = 0, []
        for key, partition in pending.items():
            try:
                self._write(key, partition)
            except Exception:
                failed.append((key, partition))
                continue
            written += partition.rows
        self.written += written
        if failed:
            # Put them back in front of anything buffered since: retried on the next flush.
            with self._lock:
                for key, partition in failed:
                    self._buffered += partition.rows
                    partition.extend(self._partitions[key])
                    self._partitions[key] = partition
                self._in_flight = 0
            lost = sum(p.rows for _, p in failed)
            raise StorageError(f"{lost} captured rows could not be written; kept for retry")
        return written

    def _write(self, key: Partition, partition: _Partition) -> None:
        import io

        import pyarrow as pa
        from pyarrow import parquet

        model, version, _ = key
        started = time.thread_time()
        buffer = io.BytesIO()
        table = partition.table()
        # Dictionary pages only where values repeat (ids, stamps, labels, text): tried on float
        # inputs, nearly all distinct, it tripled the write's CPU and made the file larger.
        repeating = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
        parquet.write_table(table, buffer, use_dictionary=repeating)
        self.sink.write_capture(model, version, buffer.getvalue())
        spent = time.thread_time() - started
        with self._lock:
            seconds, rows = self._write_cost.get((model, version), (0.0, 0))
            self._write_cost[(model, version)] = (seconds + spent, rows + partition.rows)

    def write_cost(self, model: str, version: int) -> float:
        """CPU seconds that writing one captured row of ``model:version`` took so far, on
        average (0 before its first write)."""
        with self._lock:
            seconds, rows = self._write_cost.get((model, version), (0.0, 0))
        return seconds / rows if rows else 0.0


class CaptureSink(Protocol):
    """Where flushed partitions go: the store and the database here, or the team server."""

    def write_capture(self, model: str, version: int, parquet: bytes) -> None:
        """Keep one partition of captured rows (a Parquet file) for ``model:version``."""
        ...


@dataclass(frozen=True)
class StoreCaptureSink:
    """Partitions written to the content store, then indexed in the database."""

    db: Database
    store: ContentStore
    actor: str = "shipline-server"

    def write_capture(self, model: str, version: int, parquet: bytes) -> None:
        """Store the partition, then the row that points at it."""
        record_capture(self.db, self.store, model, version, parquet, self.actor)


def record_capture(
    db: Database, store: ContentStore, model: str, version: int, parquet: bytes, actor: str
) -> int:
    """Check a partition (a Parquet file with ``captured_at`` stamps of one day), store its
    bytes (hashed here, whoever sent them), then index it; returns its rows."""
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import parquet as pq

    try:
        table = pq.read_table(io.BytesIO(parquet), columns=["captured_at"])
    except (pa.ArrowInvalid, KeyError, OSError) as error:
        reason = str(error).splitlines()[0]
        raise DataFileError(
            f"captured rows: not Parquet with a captured_at column ({reason})"
        ) from None
    stamps = table.column("captured_at")
    if table.num_rows == 0 or not pa.types.is_string(stamps.type) or stamps.null_count:
        raise DataFileError("captured rows: expected one or more rows of captured_at text")
    first, last = str(pc.min(stamps)), str(pc.max(stamps))
    if first[:10] != last[:10] or len(first) != len(utc_now()):
        raise DataFileError("captured rows: captured_at must be stamps of one UTC day")
    stored = store.put_bytes(parquet)
    with db.write(actor) as tx:
        tx.conn.execute(
            captures.insert().values(
                model=model,
                version=version,
                day=first[:10],
                digest=stored.digest,
                rows=table.num_rows,
                first_at=first,
                last_at=last,
            )
        )
    return int(table.num_rows)
