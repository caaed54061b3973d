"""Deadlines for reading request bodies, kept by one sweep per event loop.

Every prediction reads its body under a deadline, so that a client that stops sending cannot
hold a request open. ``asyncio.timeout`` sets and clears a timer per read: 3.3 µs of a 1-row
prediction's ~80 µs in the app, for a deadline that almost never fires (bodies of small
requests are whole before the app is called). Here a read registers its task and when it must
end (two dict operations), and a sweep every ``SWEEP_S`` seconds, scheduled only while reads
are waiting, cancels the reads past their deadline. A deadline therefore fires up to
``SWEEP_S`` late, which for limits of seconds does not matter.
"""

from __future__ import annotations

__all__ = ["SWEEP_S", "BodyDeadlines", "deadlines"]

import asyncio
import weakref

# How often waiting reads are checked: a deadline fires at most this late.
SWEEP_S = 0.25


class BodyDeadlines:
    """The body reads waiting on one event loop, and when each must end."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._due: dict[asyncio.Task[object], float] = {}
        self._expired: set[asyncio.Task[object]] = set()
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        """How many reads are watched (or cancelled and not yet released)."""
        return len(self._due) + len(self._expired)

    def watch(self, task: asyncio.Task[object], seconds: float) -> None:
        """Cancel ``task`` if it is still watched ``seconds`` from now."""
        self._due[task] = self.loop.time() + seconds
        if self._sweep is None:
            self._sweep = self.loop.call_later(SWEEP_S, self._cancel_late)

    def release(self, task: asyncio.Task[object]) -> bool:
        """Stop watching ``task`` (again, harmlessly); True when its deadline had passed and
        it was cancelled for that, the first time it is asked."""
        self._due.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    def _cancel_late(self) -> None:
        now = self.loop.time()
        for task, due in list(self._due.items()):
            if due <= now:
                del self._due[task]
                self._expired.add(task)
                task.cancel()
        self._sweep = self.loop.call_later(SWEEP_S, self._cancel_late) if self._due else None


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BodyDeadlines] = (
    weakref.WeakKeyDictionary()
)


def deadlines(loop: asyncio.AbstractEventLoop) -> BodyDeadlines:
    """The body deadlines of ``loop`` (made on first use)."""
    found = _by_loop.get(loop)
    if found is None:
        found = _by_loop[loop] = BodyDeadlines(loop)
    return found
