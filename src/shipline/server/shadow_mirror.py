"""Shadow mirroring: copies of requests answered by a rollout candidate, off the request path.

The user's request only appends its copy to a bounded queue (full: the copy is dropped and
counted). One drain task takes every copy queued since it last ran and predicts them with the
candidate in one call, so the shadow costs the stable path one prediction per batch rather
than a validation, a queue hand-off and a prediction per request. The shadow may take at most
``SHADOW_TIME_SHARE`` of the server's time (a token bucket charged with the time each batch
took and the CPU time that writing its captured rows takes, as the capture buffer measures
it): on a server with spare capacity that bounds nothing, and on a saturated one the copies
beyond it wait, then are dropped and counted, so users keep their throughput and the
candidate's evidence accrues at the rate the budget allows. When the candidate takes
the same inputs as the stable version, the copy is the stable path's validated input (no
second validation); otherwise the copy holds the request's columns and is validated here, a
failure counted against the candidate like any other. Each answer is captured under the
candidate's version and counted (requests, failures, the prediction's latency) for the
rollout's guardrails; none is ever returned.
"""

from __future__ import annotations

__all__ = ["MAX_MIRRORS_QUEUED", "SHADOW_TIME_SHARE", "Mirrored", "ShadowMirror"]

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipline.scoring.loaded_model import LoadedModel, ModelInput
from shipline.scoring.signature import take_ids
from shipline.server.batcher import BatchResult
from shipline.server.rollout_traffic import Candidate

# Copies waiting for the candidate beyond this are dropped (and counted).
MAX_MIRRORS_QUEUED = 256
# The share of the server's time shadow copies may take, and the most saved up for a burst.
# Measured (bench/shadow.py): what the shadow really costs a saturated server is about four
# times what is charged (GIL hand-offs with the capture thread, a second model in the caches),
# so 2% charged keeps the loss under 10%; 5% cost 8-18%.
SHADOW_TIME_SHARE = 0.02
_BURST_SECONDS = 0.005
# Batches of an ONNX candidate up to this many rows predict inline (microseconds of work).
_INLINE_ROWS = 256


@dataclass(frozen=True)
class Mirrored:
    """One request's copy: validated inputs (same signature) or the raw columns to check."""

    model_name: str
    candidate: Candidate
    request_id: str
    rows: int
    inputs: ModelInput | None = None
    columns: dict[str, Any] | None = None
    ids: dict[str, list[Any]] | None = None


Recorder = Callable[[str, str, ModelInput, BatchResult, int, dict[str, list[Any]]], None]
Counter = Callable[[str, Candidate, bool, float], None]
RowCost = Callable[[LoadedModel], float]


class ShadowMirror:
    """The queue of mirrored copies and the one task that answers them in batches."""

    def __init__(
        self, record: Recorder, count: Counter, max_batch_rows: int, row_cost: RowCost
    ) -> None:
        self._record, self._count, self._row_cost = record, count, row_cost
        self.max_batch_rows = max(1, max_batch_rows)
        self._queue: deque[Mirrored] = deque()
        self._drain: asyncio.Task[None] | None = None
        self._budget = _BURST_SECONDS  # seconds of work the shadow may do now
        self._budget_at = time.perf_counter()
        self._stopping = False
        self._stop = asyncio.Event()

    def has_room(self) -> bool:
        """Whether a copy offered now would be queued (a full queue drops it)."""
        return len(self._queue) < MAX_MIRRORS_QUEUED

    def offer(self, copy: Mirrored) -> bool:
        """Queue a copy (never waits); False when the queue is full and it was dropped."""
        if len(self._queue) >= MAX_MIRRORS_QUEUED:
            return False
        self._queue.append(copy)
        if self._drain is None or self._drain.done():
            self._drain = asyncio.get_running_loop().create_task(self._run())
        return True

    async def stop(self) -> None:
        """Answer (and capture) every queued copy, whatever the budget."""
        self._stopping = True
        self._stop.set()
        if self._queue and (self._drain is None or self._drain.done()):
            self._drain = asyncio.get_running_loop().create_task(self._run())
        while self._drain is not None and not self._drain.done():
            await asyncio.gather(self._drain, return_exceptions=True)

    async def _run(self) -> None:
        while self._queue:
            now = time.perf_counter()
            earned = (now - self._budget_at) * SHADOW_TIME_SHARE
            self._budget, self._budget_at = min(_BURST_SECONDS, self._budget + earned), now
            if self._budget <= 0 and not self._stopping:
                # Over budget: wait until it is earned back (copies queue meanwhile), or stop.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), -self._budget / SHADOW_TIME_SHARE)
                continue
            batch = self._take()
            await self._answer(batch)
            # Charged: the batch's time, and writing its captured rows later (in a thread).
            written = sum(copy.rows for copy in batch) * self._row_cost(batch[0].candidate.model)
            self._budget -= time.perf_counter() - now + written
            await asyncio.sleep(0)  # the stable path goes first between batches

    def _take(self) -> list[Mirrored]:
        """The oldest copies for one candidate, up to the batch size in rows."""
        first = self._queue.popleft()
        batch, rows = [first], first.rows
        while self._queue and rows < self.max_batch_rows:
            nxt = self._queue[0]
            if nxt.candidate.model is not first.candidate.model:
                break
            batch.append(self._queue.popleft())
            rows += nxt.rows
        return batch

    async def _answer(self, batch: list[Mirrored]) -> None:
        """Validate what needs it, predict the batch in one call, capture and count each."""
        candidate = batch[0].candidate
        if candidate.batcher is None or candidate.batcher.stopped:
            return  # the rollout moved on while these waited: nobody judges them any more
        ready: list[tuple[Mirrored, ModelInput, dict[str, list[Any]]]] = []
        for copy in batch:
            try:
                ready.append(_validated(copy))
            except Exception:  # the candidate cannot take this request: its failure
                self._count(copy.model_name, candidate, False, 0.0)
        if not ready:
            return
        started = time.perf_counter()
        try:
            results = await _predict(candidate, [inputs for _, inputs, _ in ready])
        except Exception:
            if len(ready) > 1:  # one request's rows broke the batch: each alone
                for item in ready:
                    await self._answer_alone(candidate, item)
                return
            self._count(ready[0][0].model_name, candidate, False, 0.0)
            return
        elapsed = time.perf_counter() - started
        for (copy, inputs, ids), result in zip(ready, results, strict=True):
            self._record(copy.model_name, copy.request_id, inputs, result, copy.rows, ids)
            self._count(copy.model_name, candidate, True, elapsed)

    async def _answer_alone(
        self, candidate: Candidate, item: tuple[Mirrored, ModelInput, dict[str, list[Any]]]
    ) -> None:
        copy, inputs, ids = item
        started = time.perf_counter()
        try:
            (result,) = await _predict(candidate, [inputs])
        except Exception:
            self._count(copy.model_name, candidate, False, 0.0)
            return
        self._record(copy.model_name, copy.request_id, inputs, result, copy.rows, ids)
        self._count(copy.model_name, candidate, True, time.perf_counter() - started)


def _validated(copy: Mirrored) -> tuple[Mirrored, ModelInput, dict[str, list[Any]]]:
    """The copy's model input for the candidate, and its id column apart."""
    if copy.inputs is not None:
        return copy, copy.inputs, copy.ids or {}
    columns = dict(copy.columns or {})
    model = copy.candidate.model
    ids = take_ids(columns, model.signature.id_column, copy.rows)
    return copy, model.frame(columns, copy.rows), ids


async def _predict(candidate: Candidate, parts: list[ModelInput]) -> list[BatchResult]:
    """The candidate's answers to several inputs, predicted in one call (the copies are a
    batch already: no batcher between)."""
    model = candidate.model
    classifier = model.bundle.task == "classification"
    batch = model.concat(parts)
    rows = model.rows(batch)
    if model.form == "onnx" and rows <= _INLINE_ROWS:
        whole = model.predict(batch, classifier)
    else:
        loop = asyncio.get_running_loop()
        whole = await loop.run_in_executor(None, model.predict, batch, classifier)
    results, start = [], 0
    for part in parts:
        end = start + model.rows(part)
        probabilities = whole.probabilities[start:end] if whole.probabilities else None
        results.append(
            BatchResult(
                whole.values[start:end], probabilities, whole.classes, model, rows, batch, start
            )
        )
        start = end
    return results
