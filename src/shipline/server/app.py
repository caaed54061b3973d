"""The ASGI application: every registered serving protocol's routes, plus ``/metrics``.

Protocols (``shipline.server.serving_protocol``) parse, call the shared gateway, render. Bad
input always gets a 4xx naming the field, in the shape of the protocol the path belongs to.
"""

from __future__ import annotations

__all__ = ["build_app"]

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from shipline.server.caller_auth import CallerGate, RequireCallers
from shipline.server.error_response import error_response
from shipline.server.hot_routes import HotRoutes
from shipline.server.request_input import incoming_request_id
from shipline.server.service import PredictionService
from shipline.server.serving_protocol import SERVING_PROTOCOLS, Gateway, ServingProtocol

_UNKNOWN = "unknown"


def build_app(
    service: PredictionService,
    gate: CallerGate | None = None,
    metrics_token: str | None = None,
    grpc: tuple[str, int] | None = None,
) -> ASGIApp:
    """The ASGI application around a loaded service (with ``gate``, callers need a token that
    may predict; with ``metrics_token``, /metrics needs that token; with ``grpc``, the Open
    Inference Protocol's gRPC service listens on that host and port while the app runs)."""
    gateway = Gateway(service)
    protocols = list(SERVING_PROTOCOLS)
    routes: list[BaseRoute] = [r for protocol in protocols for r in protocol.routes(gateway)]

    async def prometheus(request: Request) -> Response:
        service.metrics.capture_backlog.set(service.capture.backlog)
        return Response(
            service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    async def http_error(request: Request, error: Exception) -> Response:
        """Unknown routes and methods: JSON with the request id, counted, like every error."""
        assert isinstance(error, HTTPException)
        code = "NOT_FOUND" if error.status_code == 404 else "BAD_REQUEST"
        protocol = _owner(protocols, request.url.path)
        response = error_response(
            service.metrics,
            _UNKNOWN,
            "other",
            error.status_code,
            code,
            incoming_request_id(request),
            protocol.error_body(code, str(error.detail)),
        )
        response.headers.update(dict(error.headers or {}))
        return response

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        grpc_server = None
        if grpc is not None:
            from shipline.server.grpc_inference import GrpcInference

            grpc_server = GrpcInference(gateway, gate)
            await grpc_server.start(*grpc)
        yield
        if grpc_server is not None:
            await grpc_server.stop()
        await service.stop()
        if gate is not None:
            await gate.close()

    routes.append(Route("/metrics", prometheus, methods=["GET"]))
    served = [name for name, _ in service.targets]
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error}
    )
    return RequireCallers(HotRoutes(app, routes), gate, served, metrics_token)


def _owner(protocols: list[ServingProtocol], path: str) -> ServingProtocol:
    """The protocol whose path prefix is the longest match for ``path``."""
    matching = [
        p
        for p in protocols
        if path == p.path_prefix or path.startswith(p.path_prefix.rstrip("/") + "/")
    ]
    return max(matching or protocols, key=lambda p: len(p.path_prefix))
