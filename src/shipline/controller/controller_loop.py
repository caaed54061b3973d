"""``shipline controller``: reconcile every applied model, pass after pass, until SIGTERM.

A pass never stops at one model's trouble: an unexpected error is logged, recorded and backed
off (the model is skipped for interval * 2^failures, at most an hour) while the other models go
on. SIGTERM (or Ctrl-C) ends the loop after the current model; a run in progress finishes first.
"""

from __future__ import annotations

__all__ = ["Controller"]

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import FrameType

from shipline.controller.controller_state import ControllerState
from shipline.controller.lease import holder_id
from shipline.controller.reconcile import Controls, ModelPass, reconcile_model
from shipline.store import parse_stamp, stamp

log = logging.getLogger("shipline.controller")
_MAX_BACKOFF = timedelta(hours=1)


class Controller:
    """The reconcile loop of one process."""

    def __init__(
        self,
        state: ControllerState,
        interval: timedelta = timedelta(seconds=30),
        lease_ttl: timedelta = timedelta(seconds=60),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.state, self.interval = state, interval
        self.controls = Controls(holder_id(), lease_ttl)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.stopping = threading.Event()

    def run_pass(self) -> list[ModelPass]:
        """Reconcile every applied model once."""
        passes = []
        for applied in self.state.applied():
            if self.stopping.is_set():
                break
            now = self.clock()
            backoff = self.state.watched(applied.model, "backoff") or {}
            if backoff and now < parse_stamp(backoff["until"]):
                passes.append(
                    ModelPass(applied.model, notes=[f"backing off until {backoff['until']}"])
                )
                continue
            try:
                passes.append(reconcile_model(self.state, applied, self.controls, now))
                if backoff:
                    self.state.watch(applied.model, "backoff", None)
            except Exception as error:  # one model's trouble must not stop the others
                log.exception("controller pass for %s failed", applied.model)
                failures = int(backoff.get("failures", 0)) + 1
                wait = min(self.interval * 2**failures, _MAX_BACKOFF)
                until = stamp(now + wait)
                self.state.watch(applied.model, "backoff", {"failures": failures, "until": until})
                passes.append(
                    ModelPass(applied.model, notes=[f"error: {error}; retry after {until}"])
                )
        return passes

    def run_forever(self, on_pass: Callable[[list[ModelPass]], None] | None = None) -> None:
        """Pass after pass until SIGTERM or SIGINT."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self.stopping.is_set():
                passes = self.run_pass()
                if on_pass is not None:
                    on_pass(passes)
                self.stopping.wait(self.interval.total_seconds())
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        log.warning("controller stopping on signal %s after the current model", signum)
        self.stopping.set()
