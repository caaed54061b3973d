"""Leases in the metadata store: at most one holder per name, lost when the holder stops renewing.

A controller holds ``model:NAME`` while it runs that model's pipeline and renews it from a
background thread; if the process dies the lease expires and another controller may take over
(and fail the orphaned run cleanly). Writes are serialized by the store, so two controllers
never both acquire a lease.
"""

from __future__ import annotations

__all__ = ["HeldLease", "Leases", "acquire", "holder_id", "release"]

import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Protocol

from sqlalchemy import delete, select, update

from shipline.store import Database, stamp
from shipline.store.tables import leases


def holder_id() -> str:
    """This process, uniquely: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(db: Database, name: str, holder: str, ttl: timedelta) -> str | None:
    """Take (an expired one too) or renew the lease: None if taken, else its live holder."""
    now = datetime.now(UTC)
    with db.write("controller") as tx:
        row = tx.conn.execute(select(leases).where(leases.c.name == name)).first()
        if row is not None and row.holder != holder and row.expires_at > stamp(now):
            return str(row.holder)
        values = {"holder": holder, "expires_at": stamp(now + ttl)}
        if row is None:
            tx.conn.execute(leases.insert().values(name=name, acquired_at=stamp(now), **values))
        else:
            acquired = row.acquired_at if row.holder == holder else stamp(now)
            tx.conn.execute(
                update(leases).where(leases.c.name == name).values(acquired_at=acquired, **values)
            )
    return None


def release(db: Database, name: str, holder: str) -> None:
    """Give the lease up, if this holder still has it."""
    with db.write("controller") as tx:
        tx.conn.execute(delete(leases).where(leases.c.name == name, leases.c.holder == holder))


class Leases(Protocol):
    """Where leases are taken and given up (the database, or the team server)."""

    def acquire(self, name: str, holder: str, ttl: timedelta) -> str | None:
        """Take or renew: None if taken, else the live holder."""
        ...

    def release(self, name: str, holder: str) -> None:
        """Give up."""
        ...


class HeldLease:
    """A lease renewed every third of its time-to-live until the block ends."""

    def __init__(self, state: Leases, name: str, holder: str, ttl: timedelta) -> None:
        self.state, self.name, self.holder, self.ttl = state, name, holder, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease {name}", daemon=True)
        self.lost = False

    def __enter__(self) -> HeldLease:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self.state.release(self.name, self.holder)

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl.total_seconds() / 3):
            try:
                if self.state.acquire(self.name, self.holder, self.ttl) is not None:
                    self.lost = True
            except Exception:  # a store hiccup: try again at the next beat
                continue
