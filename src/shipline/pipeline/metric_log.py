"""Metrics logged from code (notebooks, custom training loops), buffered and written in bulk.

MLflow writes every ``log_metric`` call in its own request and transaction; here the values
are buffered and flushed in one transaction per ``FLUSH_EVERY`` values and when the run ends,
so logging costs microseconds per value. A value logged twice for one key and step replaces
the first.
"""

from __future__ import annotations

__all__ = ["FLUSH_EVERY", "TrackedRun", "metric_history"]

import math
from types import TracebackType
from typing import Any

from sqlalchemy import select

from shipline.errors import UsageError
from shipline.pipeline.run_record import finish_run, start_run
from shipline.store import Database, upsert, utc_now
from shipline.store.tables import run_metrics

FLUSH_EVERY = 5000


class TrackedRun:
    """A run started from code: log params and metrics, then it closes as succeeded or failed."""

    def __init__(
        self, db: Database, actor: str, model: str, params: dict[str, Any] | None = None
    ) -> None:
        self.db, self.actor = db, actor
        self.id = start_run(db, actor, model, "api", {}, "0" * 64, {}, dict(params or {}))
        self._pending: dict[tuple[str, int], tuple[float, str]] = {}
        self._next_step: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record ``value`` for ``key`` at ``step`` (default: the key's next step)."""
        if not key or len(key) > 200:
            raise UsageError(f"metric key must be 1 to 200 characters, got {key[:40]!r}")
        number = float(value)
        if not math.isfinite(number):
            raise UsageError(f"metric {key!r}: value must be finite, got {value!r}")
        at = self._next_step.get(key, 0) if step is None else int(step)
        self._next_step[key] = max(self._next_step.get(key, 0), at + 1)
        self._pending[(key, at)] = (number, utc_now())
        self._last[key] = number
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def log_metrics(self, values: dict[str, float], step: int | None = None) -> None:
        """Record several metrics at one step."""
        for key, value in values.items():
            self.log_metric(key, value, step)

    def flush(self) -> None:
        """Write buffered values in one transaction."""
        if not self._pending:
            return
        rows = [
            {"run_id": self.id, "key": k, "step": s, "value": v, "at": at}
            for (k, s), (v, at) in self._pending.items()
        ]
        with self.db.write(self.actor) as tx:
            tx.conn.execute(upsert(self.db.dialect, run_metrics, ["run_id", "key", "step"]), rows)
        self._pending.clear()

    def end(self, status: str = "succeeded", error: str | None = None) -> None:
        """Flush and close the run with the last value of each metric as its summary."""
        self.flush()
        finish_run(self.db, self.actor, self.id, status, dict(self._last), error)

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: TracebackType | None
    ) -> None:
        self.end("failed" if kind else "succeeded", None if error is None else repr(error))


def metric_history(db: Database, run_id: int, key: str) -> list[tuple[int, float]]:
    """Every (step, value) of one metric of one run, by step."""
    with db.read() as conn:
        rows = conn.execute(
            select(run_metrics.c.step, run_metrics.c.value)
            .where(run_metrics.c.run_id == run_id, run_metrics.c.key == key)
            .order_by(run_metrics.c.step)
        ).all()
    return [(int(r.step), float(r.value)) for r in rows]
