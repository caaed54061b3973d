"""MLflow / SageMaker serving: ``GET /ping`` and ``POST /invocations``.

Bodies: JSON with exactly one of ``dataframe_split``, ``dataframe_records``, ``instances`` or
``inputs`` (plus optional ``params``), or CSV (parsed by ``shipline.scoring.payload``). The
model is chosen by ``?model=`` or ``X-Shipline-Model`` when several are served; probabilities
come back with ``?probabilities=true`` or ``params: {probabilities: true}``.
"""

from __future__ import annotations

__all__ = ["INVOCATIONS"]

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shipline.scoring import parse_invocations
from shipline.server.request_input import client_key, incoming_request_id
from shipline.server.serving_protocol import Gateway

_UNKNOWN = "unknown"


@dataclass(frozen=True)
class _Invocations:
    name: str = "invocations"
    path_prefix: str = "/"

    def routes(self, gateway: Gateway) -> Sequence[BaseRoute]:
        async def ping(request: Request) -> Response:
            ready = gateway.service.ready
            return Response("", 200 if ready else 503, media_type="application/json")

        async def invocations(request: Request) -> Response:
            return await self._invocations(gateway, request)

        return [
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
        ]

    def error_body(self, code: str, message: str) -> dict[str, Any]:
        return {"error_code": code, "message": message}

    async def _invocations(self, gateway: Gateway, request: Request) -> Response:
        request_id = incoming_request_id(request)
        started = time.perf_counter()
        name = request.query_params.get("model") or request.headers.get("x-shipline-model")
        label = _UNKNOWN  # client-chosen names never become metric labels
        try:
            slot = gateway.service.slot(name)
            label = slot.name
            body = await gateway.body(request)
            limits = gateway.limits
            batch = await gateway.parse(
                lambda: parse_invocations(
                    body,
                    request.headers.get("content-type", ""),
                    slot.model.input_names,
                    limits.max_json_depth,
                    limits.max_rows,
                    slot.model.reads_number_rows,
                ),
                len(body),
            )
            wants = _truthy(request.query_params.get("probabilities")) or bool(
                batch.params.get("probabilities")
            )
            served = await gateway.predict(
                slot, batch.columns, batch.rows, wants, request_id, client_key(request)
            )
        except Exception as error:
            return gateway.error(self, label, error, request_id)
        result = served.prediction
        answer: dict[str, Any] = {"predictions": result.values}
        for column, values in served.ids.items():  # the client's row ids, echoed per row
            answer[column] = values
        if result.probabilities is not None:
            answer["probabilities"] = result.probabilities
            answer["classes"] = result.classes
        return gateway.answered(self, slot, started, answer, served, request_id)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


INVOCATIONS = _Invocations()
