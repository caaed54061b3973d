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
from typing import Any

from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request, empty_receive
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class _LookedUpHeaders(Headers):
    """Starlette's headers with lookups by a dict: a prediction reads five to seven headers,
    most of them absent, and each lookup was a scan of every header that ended, for an absent
    one, in a raised and caught KeyError."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        first: dict[str, str] = {}
        for key, value in self._list:
            first.setdefault(key.decode("latin-1"), value.decode("latin-1"))  # the first wins
        self._first = first

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
    """A request whose headers are looked up through a dict.

    Starlette's ``headers`` answers the ``_headers`` set here (every prediction reads headers:
    made at once, they cost less than ``functools.cached_property``, which takes a lock).
    """

    def __init__(self, scope: Scope, receive: Receive = empty_receive) -> None:
        super().__init__(scope, receive)
        self._headers = _LookedUpHeaders(scope)

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
        posts = [r for r in routes if isinstance(r, Route) and r.methods == {"POST"}]
        # Paths without parameters are found by a lookup; the rest by Starlette's matching.
        self.exact = {r.path: r for r in posts if not r.param_convertors}
        self.hot = [r for r in posts if r.param_convertors]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a prediction route at once; pass anything else on."""
        hot = scope["type"] == "http" and scope["method"] == "POST"
        route = self._route(scope) if hot else None
        if route is None:
            await self.app(scope, receive, send)
            return
        response = await route.endpoint(_HotRequest(scope, receive))
        await response(scope, receive, send)

    def _route(self, scope: Scope) -> Route | None:
        """The prediction route of ``scope``'s path (its parameters put in ``scope``), if any."""
        route = self.exact.get(scope["path"])
        if route is not None:
            scope["endpoint"], scope["path_params"] = route.endpoint, {}
            return route
        for route in self.hot:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                return route
        return None
