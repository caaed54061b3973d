"""Every error answer: JSON with the request id, counted under its real status."""

from __future__ import annotations

__all__ = ["JsonAnswer", "error_response", "json_response", "log_failure"]

import logging
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from shipline.server.metrics import ServiceMetrics

log = logging.getLogger("shipline.server")


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response (numpy values included)."""
    return JsonAnswer(value, headers or {}, status)


class JsonAnswer(Response):
    """A JSON answer whose header list is built in one pass and sent as two ASGI messages
    (Starlette's ``Response`` rebuilds and scans its header list for every answer, and every
    prediction is answered). Header values are the server's own: request ids are checked
    printable ASCII before they get here."""

    media_type = "application/json"

    def __init__(
        self, value: Any, headers: dict[str, str] | list[tuple[bytes, bytes]], status: int = 200
    ) -> None:
        """``headers`` by name, or as sent: lowercase names and values in bytes."""
        self.status_code = status
        self.background = None
        self.body = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)
        raw = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if isinstance(headers, dict):
            raw.extend(
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
            )
        else:
            raw.extend(headers)
        self.raw_headers = raw

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send the answer."""
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        await send({"type": "http.response.body", "body": self.body})


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
