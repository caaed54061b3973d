"""Reading a request: its id, its body (bounded in size and time), and parsing it off the
event loop when it is large. A body of a shape no parser foresaw is the client's error."""

from __future__ import annotations

__all__ = [
    "INLINE_ROWS",
    "client_key",
    "incoming_request_id",
    "new_request_id",
    "parsed",
    "read_body",
    "valid_request_id",
]

import asyncio
import itertools
import os
import secrets
from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request

from shipline.scoring import PayloadError, SchemaError
from shipline.scoring.payload import Batch
from shipline.server.body_deadline import deadlines
from shipline.server.rollout_traffic import CLIENT_KEY_HEADER


def valid_request_id(text: str) -> bool:
    """What may be echoed in the X-Request-Id header: 1-100 printable ASCII characters."""
    return 0 < len(text) <= 100 and text.isascii() and text.isprintable()


def incoming_request_id(request: Request) -> str:
    """The client's X-Request-Id when it is valid, else a new one."""
    given = request.headers.get("x-request-id", "")
    return given if valid_request_id(given) else new_request_id()


class _RequestIds:
    """A random 64-bit prefix drawn once per process (again in a forked child), then a counter."""

    prefix: str
    issued: itertools.count[int]

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        """Draw a new prefix and count from zero."""
        self.prefix, self.issued = secrets.token_hex(8), itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.issued):016x}"


_request_ids = _RequestIds()
# A forked child (a worker, a test) would otherwise issue its parent's ids.
os.register_at_fork(after_in_child=_request_ids.renew)


def new_request_id() -> str:
    """32 hex digits, unique across processes and restarts (a uuid4 per request cost ~2 µs of
    the request path)."""
    return _request_ids.next()


def client_key(request: Request) -> str | None:
    """The client's ``x-shipline-client`` key (which rollout version answers it), when valid."""
    given = request.headers.get(CLIENT_KEY_HEADER, "")
    return given if valid_request_id(given) else None


# Bodies (and inputs) larger than this are parsed and validated in a worker thread, so a
# client sending 10 MiB of CSV does not stall every other request on the event loop.
INLINE_BYTES = 256 * 1024
INLINE_ROWS = 256


async def parsed(parse: Callable[[], Batch], size: int) -> Batch:
    """Parse a body, off the event loop when it is large."""
    if size <= INLINE_BYTES:
        return _parse(parse)
    return await asyncio.get_running_loop().run_in_executor(None, _parse, parse)


def _parse(parse: Callable[[], Batch]) -> Batch:
    """Run a body parser; a body of a shape it did not foresee is the client's error (400)."""
    try:
        return parse()
    except (PayloadError, SchemaError):
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
        raise PayloadError(f"unexpected body shape: {type(error).__name__}: {error}") from None


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, refused before reading when declared too large, and cut off when it
    grows too large or does not arrive within ``timeout`` seconds (a stalled client)."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise PayloadError(f"body larger than {limit} bytes", 413)
    receive = request.receive
    task = asyncio.current_task()
    assert task is not None
    watch = deadlines(task.get_loop())
    watch.watch(task, timeout)
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            # ASGI messages read directly: Starlette's body stream, an async generator, cost
            # more than the read itself when the body is already here.
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadError(f"body larger than {limit} bytes", 413)
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
    except asyncio.CancelledError:
        # Ours (the deadline), unless the task was also cancelled by someone else.
        if watch.release(task) and task.uncancel() == 0:
            raise PayloadError(f"body not received within {timeout:g} s", 408) from None
        raise
    finally:
        watch.release(task)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
