"""The prediction service's state: served models, hot swap, capture. No HTTP here."""

from __future__ import annotations

__all__ = ["PredictionService", "Slot"]

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shipline.config.schema import ServingConfig
from shipline.errors import NotFoundError
from shipline.scoring import LoadedModel
from shipline.scoring.capture import CaptureBuffer, sampled
from shipline.scoring.loaded_model import ModelInput
from shipline.scoring.serving_source import ServingSource
from shipline.server.batcher import BatchResult, MicroBatcher
from shipline.server.metrics import ServiceMetrics
from shipline.server.rollout_traffic import Candidate, TrafficTally
from shipline.server.shadow_mirror import Mirrored, ShadowMirror

log = logging.getLogger("shipline.server")


@dataclass
class Slot:
    """One served model: the alias it follows, the version loaded now, its batcher."""

    name: str
    alias: str
    model: LoadedModel
    batcher: MicroBatcher | None = None
    # A version whose signature failed (SHIPLINE_REQUIRE_SIGNED): not tried again.
    refused: int | None = None
    # The version a running rollout brings in (deployment.rollout), served beside this one.
    candidate: Candidate | None = None


class PredictionService:
    """Loads the versions behind the aliases, swaps them when aliases move, captures traffic."""

    def __init__(
        self,
        source: ServingSource,
        targets: list[tuple[str, str]],
        serving: ServingConfig,
        poll_seconds: float = 2.0,
        prefer_onnx: bool = True,
    ) -> None:
        self.source, self.targets, self.serving = source, targets, serving
        self.poll_seconds = poll_seconds
        self.prefer_onnx = prefer_onnx and serving.onnx
        self.metrics = ServiceMetrics()
        self.capture = CaptureBuffer(source, max_backlog_rows=serving.capture.max_backlog_rows)
        self.slots: dict[str, Slot] = {}
        self.ready = False
        self._tasks: list[asyncio.Task[None]] = []
        self._drop_logged_at = -60.0
        self.tally = TrafficTally()
        self.shadow = ShadowMirror(
            self._record_shadow,
            self._count_shadow,
            serving.batching.max_batch_size,
            lambda model: self.capture.write_cost(model.name, model.version),
        )

    def load(self) -> None:
        """Load every target (bytes verified); raises if an alias points nowhere."""
        for name, alias in self.targets:
            version = self.source.holder(name, alias)
            slot = Slot(name, alias, self.source.load(version, self.prefer_onnx))
            self.slots[name] = slot
            try:
                slot.candidate = self._candidate(slot)
            except Exception:  # the stable version serves; the watcher tries again
                log.exception("loading the rollout candidate of %s@%s failed", name, alias)
            self._publish(slot)

    async def start(self) -> None:
        """Start batchers, the alias watcher and the capture flusher on the running loop."""
        for slot in self.slots.values():
            slot.batcher = self._batcher(slot.name)
            if slot.candidate is not None:
                slot.candidate.batcher = self._batcher(slot.name)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._watch()),
            loop.create_task(self._flush_periodically()),
        ]
        self.ready = True

    async def stop(self) -> None:
        """Finish queued work, stop background tasks and write every captured row."""
        self.ready = False
        await self.shadow.stop()  # mirrored copies queued are answered (and captured) first
        for slot in self.slots.values():
            if slot.batcher is not None:
                await slot.batcher.stop()
            if slot.candidate is not None and slot.candidate.batcher is not None:
                await slot.candidate.batcher.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.get_running_loop().run_in_executor(None, self._flush)

    def _batcher(self, name: str) -> MicroBatcher:
        """A started micro-batcher for one loaded version of model ``name``."""
        batching = self.serving.batching
        batcher = MicroBatcher(
            batching.max_batch_size, batching.max_wait_ms, self._batch_observer(name)
        )
        batcher.start()
        return batcher

    def _batch_observer(self, name: str) -> Callable[[int, float], None]:
        histogram = self.metrics.batch_rows.labels(name)
        return lambda rows, _seconds: histogram.observe(rows)

    def slot(self, name: str | None) -> Slot:
        """The served model called ``name`` (or the only one)."""
        if name is None:
            if len(self.slots) == 1:
                return next(iter(self.slots.values()))
            raise NotFoundError(
                f"several models are served ({', '.join(self.slots)}); name one with ?model=NAME"
            )
        if name not in self.slots:
            raise NotFoundError(
                f"model {name!r} is not served here (served: {', '.join(self.slots)})"
            )
        return self.slots[name]

    def record(
        self,
        slot: Slot,
        request_id: str,
        inputs: ModelInput,
        result: BatchResult,
        rows: int,
        ids: dict[str, list[Any]] | None = None,
    ) -> None:
        """Capture a served request (sampled) without blocking the request path.

        The validated inputs are captured, so every partition has one type per column; they
        are kept as the rows of the batch the request was predicted in, shared with the other
        requests of that batch (turned into columns when flushed).
        """
        if not sampled(request_id, self.serving.capture.sample):
            return
        dropped_before = self.capture.dropped
        columns, offset = (inputs, 0) if result.batch is None else (result.batch, result.start)
        due = self.capture.add(
            slot.name,
            result.model.version,
            request_id,
            columns,
            result.values,
            rows,
            result.probabilities,
            ids,
            offset,
        )
        if self.capture.dropped != dropped_before:
            self._count_drops(self.capture.dropped - dropped_before)
        # (The backlog gauge is set when /metrics is read and after each flush, not here.)
        if due:
            asyncio.get_running_loop().run_in_executor(None, self._flush_paced)

    def _count_drops(self, rows: int) -> None:
        """Count dropped captures (the alarm to alert on) and say so, once per 10 s."""
        self.metrics.capture_dropped.inc(rows)
        now = time.monotonic()
        if now - self._drop_logged_at >= 10:
            self._drop_logged_at = now
            log.error(
                "capture backlog full (%d rows; the store cannot be written): %d rows dropped",
                self.capture.max_backlog_rows,
                self.capture.dropped,
            )

    def _flush_paced(self) -> None:
        """The background flush: spread over time so it never holds the core for long."""
        self._flush(paced=True)

    def _flush(self, paced: bool = False) -> None:
        """Report rollout traffic and write captured rows."""
        self._report_traffic()
        written = self.capture.flush(paced)
        self.metrics.captured.inc(written)
        self.metrics.capture_backlog.set(self.capture.backlog)

    def _report_traffic(self) -> None:
        """Send the rollout traffic counted since the last report (kept for the next on
        failure)."""
        observations = self.tally.drain()
        if not observations:
            return
        try:
            self.source.write_observations(observations)
        except Exception:
            self.tally.restore(observations)
            raise

    async def _flush_periodically(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(2.0)
            try:
                await loop.run_in_executor(None, self._flush_paced)
            except Exception:  # a store hiccup must not stop serving; the rows stay buffered
                log.exception("writing captured rows failed; they stay buffered and are retried")

    async def _watch(self) -> None:
        """Poll the aliases; load a new holder off the loop, then swap it in."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_seconds)
            for slot in list(self.slots.values()):
                try:
                    swapped = await loop.run_in_executor(None, self._refresh, slot)
                except Exception:
                    log.exception(
                        "checking %s@%s failed; still serving version %s",
                        slot.name,
                        slot.alias,
                        slot.model.version,
                    )
                    continue
                if swapped is not None:
                    slot.model = swapped
                    self.metrics.swaps.labels(slot.name).inc()
                    self._publish(slot)
                    log.warning("now serving %s:%s for @%s", slot.name, swapped.version, slot.alias)
                await self._follow_rollout(slot)

    async def _follow_rollout(self, slot: Slot) -> None:
        """Bring the alias's rollout candidate in, update its phase and share, or let it go."""
        loop = asyncio.get_running_loop()
        try:
            found = await loop.run_in_executor(None, self._candidate, slot)
        except Exception:
            log.exception("checking the rollout of %s@%s failed", slot.name, slot.alias)
            return
        current = slot.candidate
        if found is not None and current is not None and found.model is current.model:
            current.rollout = found.rollout  # same candidate: a new phase or share
            return
        if found is not None:
            found.batcher = self._batcher(slot.name)
            log.warning(
                "rollout %s: %s:%s beside %s:%s (%s, %.0f%%)",
                found.rollout.id,
                slot.name,
                found.model.version,
                slot.name,
                slot.model.version,
                found.rollout.phase,
                100 * found.rollout.share,
            )
        if found is None and current is not None:
            await self._take_over(slot, current)
        slot.candidate = found
        if current is not None and current.batcher is not None:
            await current.batcher.stop()

    async def _take_over(self, slot: Slot, candidate: Candidate) -> None:
        """The rollout ended: when it promoted the candidate, the candidate becomes the stable
        version now, before it is let go (else its clients would go back to the old version
        until the next alias check)."""
        loop = asyncio.get_running_loop()
        try:
            holder = await loop.run_in_executor(None, self.source.holder, slot.name, slot.alias)
        except Exception:
            log.exception("checking %s@%s failed", slot.name, slot.alias)
            return
        if holder.version == candidate.model.version != slot.model.version:
            slot.model = candidate.model
            self.metrics.swaps.labels(slot.name).inc()
            self._publish(slot)
            log.warning("now serving %s:%s for @%s", slot.name, holder.version, slot.alias)

    def _candidate(self, slot: Slot) -> Candidate | None:
        """The alias's rollout candidate, loaded (the one loaded already when unchanged)."""
        view = self.source.rollout(slot.name, slot.alias)
        if view is None:
            return None
        current = slot.candidate
        if current is not None and current.model.version == view.candidate.version:
            return Candidate(view, current.model, current.batcher)
        return Candidate(view, self.source.load(view.candidate, self.prefer_onnx))

    def mirror(
        self,
        slot: Slot,
        request_id: str,
        rows: int,
        validated: tuple[ModelInput, dict[str, list[Any]]] | None,
        columns: dict[str, Any] | None,
    ) -> None:
        """Queue a copy of a request for the shadow candidate, off the request path: the
        stable path's ``validated`` input when the candidate takes the same inputs, else the
        request's ``columns``."""
        candidate = slot.candidate
        if candidate is None or candidate.batcher is None:
            return
        inputs, ids = validated if validated is not None else (None, None)
        copy = Mirrored(slot.name, candidate, request_id, rows, inputs, columns, ids)
        if not self.shadow.offer(copy):
            self.metrics.role(slot.name, "shadow").dropped.inc()

    def _record_shadow(
        self,
        name: str,
        request_id: str,
        inputs: ModelInput,
        result: BatchResult,
        rows: int,
        ids: dict[str, list[Any]],
    ) -> None:
        self.record(self.slots[name], request_id, inputs, result, rows, ids)

    def _count_shadow(self, name: str, candidate: Candidate, ok: bool, seconds: float) -> None:
        series = self.metrics.role(name, "shadow")
        if ok:
            series.ok.inc()
            series.latency.observe(seconds)
        else:
            series.error.inc()
        self.tally.add(candidate.rollout.id, "shadow", ok, seconds)

    def _refresh(self, slot: Slot) -> LoadedModel | None:
        from shipline.registry.version_signing import SignatureError

        version = self.source.holder(slot.name, slot.alias)
        if version.version in (slot.model.version, slot.refused):
            return None
        try:
            return self.source.load(version, self.prefer_onnx)
        except SignatureError:
            slot.refused = version.version  # it will not become signed: said once
            raise

    def _publish(self, slot: Slot) -> None:
        self.metrics.served.labels(slot.name, slot.alias, slot.model.form).set(slot.model.version)
