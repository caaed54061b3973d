"""Every error answer: JSON with the request id, counted under its real status."""

from __future__ import annotations

__all__ = ["error_response", "failure", "json_response", "refusal"]

import logging
from typing import Any

import orjson
from starlette.responses import Response

from shipline.scoring import PayloadError, SchemaError
from shipline.server.metrics import ServiceMetrics

log = logging.getLogger("shipline.server")


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (numpy values included)."""
    body = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, status, headers, media_type="application/json")


def refusal(
    metrics: ServiceMetrics, model: str, protocol: str, error: Exception, request_id: str, v2: bool
) -> Response:
    """A request the client got wrong: 4xx by the kind of error."""
    if isinstance(error, PayloadError):
        status, code = error.status, "BAD_REQUEST"
    elif isinstance(error, SchemaError):
        status, code = 422, "SCHEMA_ENFORCEMENT_FAILED"
    else:
        status, code = 404, "RESOURCE_DOES_NOT_EXIST"
    return error_response(metrics, model, protocol, status, code, str(error), request_id, v2)


def failure(
    metrics: ServiceMetrics, model: str, protocol: str, error: Exception, request_id: str, v2: bool
) -> Response:
    """A failure inside the model or the server: logged with its traceback, answered as JSON."""
    log.error("request %s failed", request_id, exc_info=error)
    message = f"the model failed to predict: {type(error).__name__}: {error}"[:500]
    return error_response(metrics, model, protocol, 500, "INTERNAL_ERROR", message, request_id, v2)


def error_response(
    metrics: ServiceMetrics,
    model: str,
    protocol: str,
    status: int,
    code: str,
    message: str,
    request_id: str,
    v2: bool,
) -> Response:
    """Every error: JSON with the request id, counted under its real status."""
    metrics.requests.labels(model, protocol, str(status)).inc()
    metrics.errors.labels(model, protocol, code).inc()
    body: dict[str, Any] = {"error": message} if v2 else {"error_code": code, "message": message}
    body["request_id"] = request_id
    return json_response(body, status, {"x-request-id": request_id})
