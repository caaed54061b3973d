"""Body reads end at their deadline (one sweep per loop), and only theirs is turned into 408."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import ClientDisconnect, Request

from shipline.scoring import PayloadError
from shipline.server.body_deadline import deadlines
from shipline.server.request_input import read_body
from tests.event_loop import run_in_own_thread


def _request(
    messages: list[dict[str, Any]],
    stall: asyncio.Event | None = None,
    waiting: asyncio.Event | None = None,
) -> Request:
    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        assert stall is not None
        if waiting is not None:
            waiting.set()
        await stall.wait()  # a client that stops sending
        return {"type": "http.request", "body": b"", "more_body": False}

    return Request(scope, receive)


def test_a_body_in_pieces_is_joined_and_nothing_stays_watched() -> None:
    async def read() -> bytes:
        pieces = [
            {"type": "http.request", "body": b"ab", "more_body": True},
            {"type": "http.request", "body": b"", "more_body": True},
            {"type": "http.request", "body": b"cd", "more_body": False},
        ]
        body = await read_body(_request(pieces), 100, 10.0)
        assert deadlines(asyncio.get_running_loop()).waiting == 0
        return body

    assert run_in_own_thread(read()) == b"abcd"


def test_a_body_that_stops_arriving_is_refused_with_408() -> None:
    async def read() -> None:
        stall = asyncio.Event()
        started = [{"type": "http.request", "body": b"{", "more_body": True}]
        with pytest.raises(PayloadError, match=r"within 0\.01 s") as refused:
            await read_body(_request(started, stall), 100, 0.01)
        assert refused.value.status == 408
        assert deadlines(asyncio.get_running_loop()).waiting == 0
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]

    run_in_own_thread(read())


def test_a_cancel_from_elsewhere_is_not_a_timeout() -> None:
    async def read() -> None:
        stall, waiting = asyncio.Event(), asyncio.Event()
        reading = asyncio.create_task(read_body(_request([], stall, waiting), 100, 3600.0))
        await waiting.wait()  # the read is waiting for a body that does not come
        assert deadlines(asyncio.get_running_loop()).waiting == 1
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert deadlines(asyncio.get_running_loop()).waiting == 0

    run_in_own_thread(read())


def test_oversized_and_disconnected_bodies_are_refused() -> None:
    async def read(messages: list[dict[str, Any]]) -> bytes:
        return await read_body(_request(messages), 3, 10.0)

    with pytest.raises(PayloadError, match="larger than 3 bytes"):
        run_in_own_thread(read([{"type": "http.request", "body": b"abcd", "more_body": False}]))
    with pytest.raises(ClientDisconnect):
        run_in_own_thread(read([{"type": "http.disconnect"}]))
