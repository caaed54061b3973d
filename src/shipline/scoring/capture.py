"""Capture: what the service was asked and answered, written off the request path.

Rows are buffered column by column (cheap to append on the request path, cheap to turn into
Arrow at flush time) and flushed as Parquet partitions (one per model, version and day) into
the content store, then indexed in the ``captures`` table: blob first, then the row that
points at it. Flushing happens in a background thread on size or age, and at shutdown, so
nothing buffered is lost on a clean stop; a failed write keeps its rows for the next flush.
"""

from __future__ import annotations

__all__ = ["CaptureBuffer", "CaptureSink", "StoreCaptureSink", "record_capture", "sampled"]

import threading
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

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


class _Columns:
    """One partition's buffered rows, as one list per column."""

    def __init__(self) -> None:
        self.data: dict[str, list[Any]] = defaultdict(list)
        self.rows = 0

    def extend(self, other: _Columns) -> None:
        for name, values in other.data.items():
            self.data[name].extend(values)
        self.rows += other.rows


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
        self._partitions: dict[Partition, _Columns] = defaultdict(_Columns)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._in_flight = 0  # rows taken out of the buffer by a flush still writing them
        self.written = 0
        self.dropped = 0

    @property
    def backlog(self) -> int:
        """Rows not yet written: buffered, and being written by a flush right now."""
        with self._lock:
            return sum(p.rows for p in self._partitions.values()) + self._in_flight

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
    ) -> bool:
        """Buffer one request's rows; True when the buffer is due for a flush.

        ``probabilities`` (classifiers) are kept per row so quality metrics that need them
        (roc_auc, log_loss) can be judged once labels arrive; ``ids`` holds the id column the
        client sent (``data.id_column``), kept beside the inputs.
        """
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        at = utc_now()
        with self._lock:
            held = sum(p.rows for p in self._partitions.values()) + self._in_flight
            if held + rows > self.max_backlog_rows:
                # The store has been failing for a while: memory stays bounded, the loss counted.
                self.dropped += rows
                return False  # the periodic flush retries; no flush per dropped request
            partition = self._partitions[(model, version, day)]
            data = partition.data
            data["request_id"].extend([request_id] * rows)
            data["row"].extend(range(rows))
            data["captured_at"].extend([at] * rows)
            for name, values in {**columns, **(ids or {})}.items():
                column = data.setdefault(name, [None] * partition.rows)
                column.extend(values.tolist() if hasattr(values, "tolist") else values)
            data["prediction"].extend(predictions)
            if probabilities is not None:
                data.setdefault("probabilities", [None] * partition.rows).extend(probabilities)
            partition.rows += rows
            for column in data.values():  # a column this request did not send: missing here
                column.extend([None] * (partition.rows - len(column)))
            return sum(p.rows for p in self._partitions.values()) >= self.flush_rows

    def flush(self) -> int:
        """Write every buffered partition; returns the rows written."""
        with self._flush_lock:
            with self._lock:
                pending, self._partitions = self._partitions, defaultdict(_Columns)
                self._in_flight = sum(p.rows for p in pending.values())
            try:
                return self._write_all(pending)
            finally:
                with self._lock:
                    self._in_flight = 0

    def _write_all(self, pending: dict[Partition, _Columns]) -> int:
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
                    partition.extend(self._partitions[key])
                    self._partitions[key] = partition
                self._in_flight = 0
            lost = sum(p.rows for _, p in failed)
            raise StorageError(f"{lost} captured rows could not be written; kept for retry")
        return written

    def _write(self, key: Partition, partition: _Columns) -> None:
        import io

        import pyarrow as pa
        from pyarrow import parquet

        model, version, _ = key
        buffer = io.BytesIO()
        parquet.write_table(pa.table(dict(partition.data)), buffer)
        self.sink.write_capture(model, version, buffer.getvalue())


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
