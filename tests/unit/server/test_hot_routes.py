"""The prediction routes' headers and query parameters answer like Starlette's: any case,
first value, absent."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
from starlette.datastructures import Headers, QueryParams

from shipline.server.hot_routes import _HotRequest


def test_headers_are_looked_up_like_starlettes() -> None:
    raw = [
        (b"content-type", b"application/json"),
        (b"x-request-id", b"first"),
        (b"x-request-id", b"second"),
        (b"x-caf\xe9", b"\xe9t\xe9"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": raw}
    looked_up = _HotRequest(scope).headers
    plain = Headers(raw=raw)
    for name in ("Content-Type", "x-request-id", "X-REQUEST-ID", "x-café", "x-absent"):
        assert looked_up.get(name) == plain.get(name), name
        assert (name in looked_up) == (name in plain), name
    assert looked_up["X-Request-Id"] == "first" and looked_up.get("x-absent", "d") == "d"
    not_a_name: object = 3
    assert not_a_name not in looked_up
    assert looked_up.getlist("x-request-id") == ["first", "second"]


@pytest.mark.parametrize(
    "query", [b"", b"model=m&probabilities=true", b"probabilities=1&probabilities=0", b"x=%C3%A9"]
)
def test_query_parameters_are_read_like_starlettes(query: bytes) -> None:
    scope = {"type": "http", "method": "POST", "path": "/", "query_string": query, "headers": []}
    hot = _HotRequest(scope).query_params
    plain = QueryParams(query)
    assert list(hot.multi_items()) == list(plain.multi_items())
    assert hot.get("probabilities") == plain.get("probabilities") and hot.get("x") == plain.get("x")
    no_query = _HotRequest({"type": "http", "method": "POST", "path": "/", "headers": []})
    assert no_query.query_params.get("model") is None and len(no_query.query_params) == 0


def test_json_answers_carry_status_length_and_lowercased_headers() -> None:
    import numpy as np

    from shipline.server.error_response import json_response
    from tests.event_loop import run_in_own_thread

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request"}

    answer = json_response({"values": np.array([1, 2])}, 404, {"X-Request-Id": "r-1"})
    run_in_own_thread(answer({"type": "http"}, receive, send))
    start, body = sent
    assert start["status"] == 404 and body["body"] == b'{"values":[1,2]}'
    assert start["headers"] == [
        (b"content-type", b"application/json"),
        (b"content-length", b"16"),
        (b"x-request-id", b"r-1"),
    ]
    assert answer.headers["x-request-id"] == "r-1"  # Starlette's view of the same headers
