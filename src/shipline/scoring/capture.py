"""Capture: what the service was asked and answered, written off the request path.

Rows are buffered column by column (``capture_partition``: cheap to append on the request
path, cheap to turn into Arrow at flush time) and flushed as Parquet partitions (one per
model, version and day) into the content store, then indexed in the ``captures`` table: blob
first, then the row that points at it. Flushing happens in a background thread on size or
age, paced so that it never holds the core for long, and at shutdown, so nothing buffered is
lost on a clean stop; a failed write keeps its rows for the next flush.
"""

from __future__ import annotations

__all__ = ["CaptureBuffer", "CaptureSink", "StoreCaptureSink", "record_capture", "sampled"]

import functools
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shipline.artifacts import ContentStore
from shipline.errors import DataFileError, StorageError
from shipline.scoring.capture_partition import PartitionRows
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


@functools.lru_cache(maxsize=4)
def _day(day_number: int) -> str:
    """The UTC day (YYYY-MM-DD) ``day_number`` days after the epoch."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day_number)).strftime("%Y-%m-%d")


_MICROS_PER_DAY = 86_400_000_000
# Columns whose values are (nearly) all different: no dictionary pages for them.
_DISTINCT_COLUMNS = frozenset({"request_id", "captured_at"})


# The share of a core a paced flush takes while it runs (unless it falls behind).
_FLUSH_SHARE = 0.1
# The longest pause between two steps of a paced flush.
_MAX_PAUSE_S = 0.05


def _no_pace() -> None:
    """Go straight on (an unpaced flush)."""


class _Pacer:
    """Spreads a background flush so it never holds the core for long.

    The server may have one core to share between answering and flushing, and a flush of
    5,000 rows is a few milliseconds of CPU: run in one go, it delayed every request answered
    meanwhile, and those requests were the p99. Called after each step (building the table,
    writing the Parquet file), the pacer sleeps until the flush has used no more than
    ``share`` of the time since it began, so its steps come between requests, not back to
    back. When the flush falls behind (``behind``: a flush's worth of new rows waiting, or
    shutdown) it goes at full speed, so the buffer stays bounded however fast rows come.
    """

    def __init__(
        self,
        share: float,
        behind: Callable[[], bool],
        cpu: Callable[[], float] = time.thread_time,
        wall: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.share, self.behind = share, behind
        self.cpu, self.wall, self.sleep = cpu, wall, sleep
        self.cpu_start, self.wall_start = cpu(), wall()

    def __call__(self) -> None:
        if self.behind():
            return
        spent = self.cpu() - self.cpu_start
        pause = self.wall_start + spent / self.share - self.wall()
        if pause > 0:
            self.sleep(min(pause, _MAX_PAUSE_S))


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
        self._partitions: dict[Partition, PartitionRows] = defaultdict(PartitionRows)
        self._buffered = 0  # rows in the partitions above
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._in_flight = 0  # rows taken out of the buffer by a flush still writing them
        self.written = 0
        self._write_cost: dict[tuple[str, int], tuple[float, int]] = {}
        self._hurry = False  # set by an unpaced flush: one in progress stops pacing
        self._flush_asked = False  # add said a flush is due; no flush has taken the rows yet
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
        the requests of one batch share it); a batch's rows are copied into the buffer's
        columns when the next batch begins, so the caller does not change them afterwards.
        """
        if rows <= 0:
            return False  # nothing to keep (and a partition of no rows is refused)
        at = time.time_ns() // 1000
        with self._lock:
            if self._buffered + self._in_flight + rows > self.max_backlog_rows:
                # The store has been failing for a while: memory stays bounded, the loss counted.
                self.dropped += rows
                return False  # the periodic flush retries; no flush per dropped request
            partition = self._partitions[(model, version, _day(at // _MICROS_PER_DAY))]
            partition.add(columns, offset, request_id, rows, at, predictions, probabilities, ids)
            self._buffered += rows
            if self._buffered < self.flush_rows or self._flush_asked:
                return False
            # Once per fill: requests answered until the flush takes the rows would each ask
            # again, and each asked flush would write a partition of the few rows since.
            self._flush_asked = True
            return True

    def flush(self, paced: bool = False) -> int:
        """Write every buffered partition; returns the rows written.

        A paced flush (the server's background one) spreads its work over time (``_Pacer``);
        an unpaced one, such as the last flush at shutdown, also hurries one in progress.
        """
        if not paced:
            self._hurry = True
        with self._flush_lock:
            self._hurry = not paced
            with self._lock:
                pending, self._partitions = self._partitions, defaultdict(PartitionRows)
                self._in_flight, self._buffered = self._buffered, 0
                self._flush_asked = False
            pace = _Pacer(_FLUSH_SHARE, self._behind) if paced else _no_pace
            try:
                return self._write_all(pending, pace)
            finally:
                with self._lock:
                    self._in_flight = 0

    def _behind(self) -> bool:
        """Whether a paced flush must go at full speed: asked to hurry, or a flush's worth of
        rows buffered since it began."""
        return self._hurry or self._buffered >= self.flush_rows

    def _write_all(self, pending: dict[Partition, PartitionRows], pace: Callable[[], None]) -> int:
        """Write each partition; failed ones go back in front of the buffer for a retry."""
        written, failed = 0, []
        for key, partition in pending.items():
            try:
                self._write(key, partition, pace)
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

    def _write(self, key: Partition, partition: PartitionRows, pace: Callable[[], None]) -> None:
        import io

        import pyarrow as pa
        from pyarrow import parquet

        model, version, _ = key
        started = time.thread_time()
        buffer = io.BytesIO()
        table = partition.table(pace)
        # Dictionary pages only where values repeat (labels, text, client ids): on float inputs
        # and on request ids and stamps, nearly all distinct, they cost CPU for a larger file.
        repeating = [
            f.name
            for f in table.schema
            if not pa.types.is_floating(f.type) and f.name not in _DISTINCT_COLUMNS
        ]
        parquet.write_table(table, buffer, use_dictionary=repeating)
        pace()
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
