"""The prediction routes, reached without Starlette's router and exception layers.

A request to a serving protocol's POST route (a prediction: nearly all of the traffic) goes
straight to the route's endpoint. The endpoints answer every error themselves, in their
protocol's shape, so the walk through the routing table, the two exception middlewares and
the wrapper Starlette puts around each endpoint are work without a purpose there. Every other
request (health, metadata, /metrics, unknown paths and methods) goes to the Starlette app.
"""

from __future__ import annotations

__all__ = ["HotRoutes"]

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class _LookedUpHeaders(Headers):
    """Starlette's headers with lookups by a dict made on first use: a prediction reads five to
    seven headers, most of them absent, and each lookup was a scan of every header that ended,
    for an absent one, in a raised and caught KeyError."""

    @cached_property
    def _first(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in self._list:
            found.setdefault(key.decode("latin-1"), value.decode("latin-1"))  # the first wins
        return found

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of header ``key`` (any case), else ``default``."""
        return self._first.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, str) and key.lower() in self._first


# Immutable, so one serves every request without a query string (nearly all predictions);
# parsing an empty one cost 1.4 µs.
_NO_QUERY = QueryParams()


class _HotRequest(Request):
    """A request whose headers are looked up through a dict."""

    @cached_property
    def headers(self) -> Headers:
        """The request's headers."""
        return _LookedUpHeaders(scope=self.scope)

    @property
    def query_params(self) -> QueryParams:
        """The request's query parameters."""
        if not self.scope.get("query_string"):
            return _NO_QUERY
        return super().query_params


class HotRoutes:
    """ASGI: POST routes called directly, everything else through ``app``."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.hot = [r for r in routes if isinstance(r, Route) and r.methods == {"POST"}]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a prediction route at once; pass anything else on."""
        if scope["type"] == "http" and scope["method"] == "POST":
            for route in self.hot:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    response = await route.endpoint(_HotRequest(scope, receive))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
