"""Every error answer: JSON with the request id, counted under its real status."""

from __future__ import annotations

__all__ = ["error_response", "json_response", "log_failure"]

import logging
from typing import Any

import orjson
from starlette.responses import Response

from shipline.server.metrics import ServiceMetrics

log = logging.getLogger("shipline.server")


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (numpy values included)."""
    body = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status, headers, media_type="application/json")


def log_failure(request_id: str, error: Exception) -> None:
    """Log a failure inside the model or the server with its traceback."""
    log.error("request %s failed", request_id, exc_info=error)


def error_response(
    metrics: ServiceMetrics,
    model: str,
    protocol: str,
    status: int,
    code: str,
    request_id: str,
    body: dict[str, Any],
) -> Response:
    """Every error: the protocol's JSON body with the request id, counted under its status."""
    metrics.requests.labels(model, protocol, str(status)).inc()
    metrics.errors.labels(model, protocol, code).inc()
    return json_response({**body, "request_id": request_id}, status, {"x-request-id": request_id})
