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

from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send


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
                    response = await route.endpoint(Request(scope, receive))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
