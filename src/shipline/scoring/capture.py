"""Capture: what the service was asked and answered, written off the request path.

Rows are buffered in memory and flushed as Parquet partitions (one per model, version and
day) into the content store, then indexed in the ``captures`` table: blob first, then the
row that points at it. Flushing happens in a background thread on size or age, and at
shutdown, so nothing buffered is lost on a clean stop.
"""

from __future__ import annotations

__all__ = ["CaptureBuffer", "capture_frame", "sampled"]

import threading
import zlib
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from shipline.artifacts import ContentStore
from shipline.errors import StorageError
from shipline.store import Database, utc_now
from shipline.store.tables import captures


def sampled(request_id: str, share: float) -> bool:
    """Deterministic sampling by request id: the same id is always in or out."""
    if share >= 1.0:
        return True
    if share <= 0.0:
        return False
    return (zlib.crc32(request_id.encode()) % 1_000_000) < share * 1_000_000


class CaptureBuffer:
    """Thread-safe buffer of captured rows, flushed to the store by ``flush``."""

    def __init__(self, db: Database, store: ContentStore, flush_rows: int = 5000) -> None:
        self.db, self.store, self.flush_rows = db, store, flush_rows
        self._rows: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.written = 0

    @property
    def backlog(self) -> int:
        """Rows waiting to be written."""
        with self._lock:
            return sum(len(rows) for rows in self._rows.values())

    def add(self, model: str, version: int, rows: list[dict[str, Any]]) -> bool:
        """Buffer rows; True when the buffer is due for a flush."""
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        with self._lock:
            self._rows[(model, version, day)].extend(rows)
            return sum(len(r) for r in self._rows.values()) >= self.flush_rows

    def flush(self) -> int:
        """Write every buffered partition; returns the rows written."""
        with self._flush_lock:
            with self._lock:
                pending, self._rows = self._rows, defaultdict(list)
            written, failed = 0, []
            for key, rows in pending.items():
                try:
                    self._write(*key, rows)
                except Exception:
                    failed.append((key, rows))
                    continue
                written += len(rows)
            if failed:
                # Put them back in front of anything buffered since: retried on the next flush.
                with self._lock:
                    for key, rows in failed:
                        self._rows[key][:0] = rows
            self.written += written
            if failed:
                lost = sum(len(rows) for _, rows in failed)
                raise StorageError(f"{lost} captured rows could not be written; kept for retry")
            return written

    def _write(self, model: str, version: int, day: str, rows: list[dict[str, Any]]) -> None:
        import io

        import pyarrow as pa
        from pyarrow import parquet

        buffer = io.BytesIO()
        parquet.write_table(pa.Table.from_pylist(rows), buffer)
        stored = self.store.put_bytes(buffer.getvalue())
        stamps = [r["captured_at"] for r in rows]
        with self.db.write("shipline-server") as tx:
            tx.conn.execute(
                captures.insert().values(
                    model=model,
                    version=version,
                    day=day,
                    digest=stored.digest,
                    rows=len(rows),
                    first_at=min(stamps),
                    last_at=max(stamps),
                )
            )


def capture_frame(
    request_id: str, columns: dict[str, Any], predictions: list[Any], rows: int
) -> list[dict[str, Any]]:
    """One captured row per predicted row: request id, row number, inputs, prediction."""
    at = utc_now()
    names = list(columns)
    return [
        {
            "request_id": request_id,
            "row": index,
            "captured_at": at,
            **{name: _plain(columns[name][index]) for name in names},
            "prediction": predictions[index],
        }
        for index in range(rows)
    ]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    return value
