"""Connections that cannot hold the server hostage: a deadline for request headers and a cap
on open connections, on top of uvicorn's HTTP/1.1 (h11) protocol.

uvicorn times out idle keep-alive connections, but a client that sends part of its headers
and then stalls (slowloris) is held open forever. Here every connection gets a deadline for
its request headers, re-armed for each request on a kept-alive connection; one that misses it
is closed. (Bodies have their own deadline in the application, answered with 408.) A
connection over ``max_connections`` is answered 503 at once and closed, so file descriptors
are never exhausted and stalled clients, reaped by the deadlines, cannot keep health checks
out for long.
"""

from __future__ import annotations

__all__ = ["guarded_protocol"]

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: 52\r\n\r\n"
    b'{"error": "too many open connections; retry later"}\n'
)


def guarded_protocol(header_timeout: float, max_connections: int) -> type[H11Protocol]:
    """An h11 protocol class with this header deadline and connection cap."""

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(_BUSY)
                transport.close()
                return
            self._arm()

        def handle_events(self) -> None:
            super().handle_events()
            if self.cycle is not None and self._deadline is not None:
                self._deadline.cancel()  # the headers arrived: the body has its own deadline
                self._deadline = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()  # the next request on this connection gets the same deadline

        def connection_lost(self, exc: Exception | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _headers_too_slow(self) -> None:
            self._deadline = None
            if not self.transport.is_closing() and (
                self.cycle is None or self.cycle.response_complete
            ):
                self.transport.close()

    return GuardedH11Protocol
