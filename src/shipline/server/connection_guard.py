"""Connections that cannot hold the server hostage: a deadline and a size cap for request
headers, and a cap on open connections, on top of uvicorn's HTTP/1.1 protocol on httptools
(llhttp, a C parser: the pure-Python h11 cost a third of a small request's time).

uvicorn times out idle keep-alive connections, but a client that sends part of its headers
and then stalls (slowloris) is held open forever. Here every connection gets a deadline for
its request headers, re-armed for each request on a kept-alive connection; one that misses it
is closed. (Bodies have their own deadline in the application, answered with 408.) llhttp
sets no limit on the size of the request line and headers, so a request whose headers are
still incomplete after ``MAX_HEADER_BYTES`` is answered 431 and closed: memory stays bounded.
A connection over ``max_connections`` is answered 503 at once and closed, so file descriptors
are never exhausted and stalled clients, reaped by the deadlines, cannot keep health checks
out for long.
"""

from __future__ import annotations

__all__ = ["MAX_HEADER_BYTES", "guarded_protocol"]

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The request line and headers of one request, at most (nginx's default allows 32 KiB).
MAX_HEADER_BYTES = 32 * 1024
# How long a refused client may go on sending (dropped) before its connection is closed.
_LINGER_SECONDS = 5.0


def _answer(status: str, message: str) -> bytes:
    body = f'{{"error": "{message}"}}\n'.encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


_BUSY = _answer("503 Service Unavailable", "too many open connections; retry later")
_HEADERS_TOO_LARGE = _answer(
    "431 Request Header Fields Too Large",
    f"the request line and headers exceed {MAX_HEADER_BYTES} bytes",
)


def guarded_protocol(header_timeout: float, max_connections: int) -> type[HttpToolsProtocol]:
    """An httptools protocol class with this header deadline and connection cap."""

    class GuardedProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _reading_headers = True
        _header_bytes = 0
        _refused = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                transport.write(_BUSY)
                transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return  # the answer is sent; what the client still sends is dropped
            if self._reading_headers:
                self._header_bytes += len(data)
            super().data_received(data)
            too_large = self._reading_headers and self._header_bytes > MAX_HEADER_BYTES
            if too_large and not self.transport.is_closing():
                self._refuse(_HEADERS_TOO_LARGE)

        def _refuse(self, answer: bytes) -> None:
            """Answer, stop sending, and close once the client stops sending (or after a
            grace period): closing a socket with unread input resets the connection, and the
            reset can destroy the answer before the client reads it."""
            self._refused = True
            self.transport.write(answer)
            if self.transport.can_write_eof():
                self.transport.write_eof()
            self.loop.call_later(_LINGER_SECONDS, self.transport.close)

        def eof_received(self) -> None:
            if self._refused:
                self.transport.close()
                return
            super().eof_received()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._reading_headers = True  # counted from the end of the previous response

        def on_headers_complete(self) -> None:
            self._reading_headers = False
            if self._deadline is not None:
                self._deadline.cancel()  # the headers arrived: the body has its own deadline
                self._deadline = None
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._reading_headers, self._header_bytes = True, 0
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

    return GuardedProtocol
