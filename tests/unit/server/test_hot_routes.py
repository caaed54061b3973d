"""The prediction routes' headers answer like Starlette's: any case, first value, absent."""

from __future__ import annotations

from starlette.datastructures import Headers

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
