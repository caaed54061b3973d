"""HTTP routes: SageMaker/MLflow ``/invocations``, Open Inference Protocol V2, ``/metrics``.

Routes parse, call the service, render. Bad input always gets a 4xx naming the field.
"""

from __future__ import annotations

__all__ = ["build_app"]

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shipline import __version__
from shipline.errors import NotFoundError
from shipline.scoring import PayloadError, SchemaError, parse_invocations, parse_v2
from shipline.server.error_response import error_response, failure, json_response, refusal
from shipline.server.request_input import (
    INLINE_ROWS,
    incoming_request_id,
    parsed,
    read_body,
    valid_request_id,
)
from shipline.server.service import PredictionService, Slot

log = logging.getLogger("shipline.server")
_UNKNOWN = "unknown"
_V2_TYPES = {
    "int64": "INT64",
    "int32": "INT32",
    "float64": "FP64",
    "float32": "FP32",
    "bool": "BOOL",
}


class _Routes:
    """The request handlers, bound to one service."""

    def __init__(self, service: PredictionService) -> None:
        self.service = service
        self.limits = service.serving.limits
        self.metrics = service.metrics

    async def ping(self, request: Request) -> Response:
        return Response("", 200 if self.service.ready else 503, media_type="application/json")

    async def invocations(self, request: Request) -> Response:
        request_id = incoming_request_id(request)
        started = time.perf_counter()
        name = request.query_params.get("model") or request.headers.get("x-shipline-model")
        label = _UNKNOWN  # client-chosen names never become metric labels
        try:
            slot = self.service.slot(name)
            label = slot.name
            body = await read_body(request, self.limits.max_body_bytes, self.limits.body_timeout_s)
            batch = await parsed(
                lambda: parse_invocations(
                    body,
                    request.headers.get("content-type", ""),
                    slot.model.input_names,
                    self.limits.max_json_depth,
                    self.limits.max_rows,
                ),
                len(body),
            )
            wants = _truthy(request.query_params.get("probabilities")) or bool(
                batch.params.get("probabilities")
            )
            result, rows, ids = await _predict(
                self.service, slot, batch.columns, batch.rows, wants, request_id
            )
        except (PayloadError, SchemaError, NotFoundError) as error:
            return refusal(self.metrics, label, "invocations", error, request_id, v2=False)
        except Exception as error:
            return failure(self.metrics, label, "invocations", error, request_id, v2=False)
        answer: dict[str, Any] = {"predictions": result.values}
        for name, values in ids.items():  # the client's row ids, echoed beside each prediction
            answer[name] = values
        if result.probabilities is not None:
            answer["probabilities"] = result.probabilities
            answer["classes"] = result.classes
        self.metrics.requests.labels(slot.name, "invocations", "200").inc()
        self.metrics.latency.labels(slot.name, "invocations").observe(time.perf_counter() - started)
        return json_response(
            answer, headers=_headers(request_id, result.model.name, result.model.version, rows)
        )

    async def v2_server(self, request: Request) -> Response:
        return json_response({"name": "shipline", "version": __version__, "extensions": []})

    async def v2_live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def v2_ready(self, request: Request) -> Response:
        return json_response({"ready": self.service.ready}, 200 if self.service.ready else 503)

    async def v2_model(self, request: Request) -> Response:
        try:
            slot = _v2_slot(self.service, request)
        except NotFoundError as error:
            return json_response({"error": str(error)}, 404)
        return json_response(_metadata(slot))

    async def v2_model_ready(self, request: Request) -> Response:
        try:
            slot = _v2_slot(self.service, request)
        except NotFoundError as error:
            return json_response({"error": str(error)}, 404)
        return json_response(
            {"name": slot.name, "ready": self.service.ready}, 200 if self.service.ready else 503
        )

    async def v2_infer(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = incoming_request_id(request)
        label = _UNKNOWN
        try:
            slot = _v2_slot(self.service, request)
            label = slot.name
            body = await read_body(request, self.limits.max_body_bytes, self.limits.body_timeout_s)
            if not request.headers.get("content-type", "application/json").startswith(
                "application/json"
            ):
                raise PayloadError("the V2 REST protocol takes application/json", 415)
            batch = await parsed(
                lambda: parse_v2(
                    body, slot.model.input_names, self.limits.max_json_depth, self.limits.max_rows
                ),
                len(body),
            )
            if batch.request_id is not None:
                if not valid_request_id(batch.request_id):
                    raise PayloadError("id: expected 1-100 printable ASCII characters")
                request_id = batch.request_id
            wants = "probabilities" in batch.outputs
            result, rows, ids = await _predict(
                self.service, slot, batch.columns, batch.rows, wants, request_id
            )
        except (PayloadError, SchemaError, NotFoundError) as error:
            return refusal(self.metrics, label, "v2", error, request_id, v2=True)
        except Exception as error:
            return failure(self.metrics, label, "v2", error, request_id, v2=True)
        outputs = [_tensor("predictions", result.values, slot)]
        if result.probabilities is not None:
            flat = [p for row in result.probabilities for p in row]
            width = len(result.probabilities[0]) if result.probabilities else 0
            outputs.append(
                {"name": "probabilities", "shape": [rows, width], "datatype": "FP64", "data": flat}
            )
        for name, values in ids.items():
            outputs.append(
                {
                    "name": name,
                    "shape": [rows],
                    "datatype": "BYTES",
                    "data": [str(v) for v in values],
                }
            )
        if batch.outputs:
            outputs = [o for o in outputs if o["name"] in batch.outputs] or outputs
        self.metrics.requests.labels(slot.name, "v2", "200").inc()
        self.metrics.latency.labels(slot.name, "v2").observe(time.perf_counter() - started)
        answer = {
            "model_name": slot.name,
            "model_version": str(result.model.version),
            "id": request_id,
            "outputs": outputs,
        }
        return json_response(
            answer, headers=_headers(request_id, result.model.name, result.model.version, rows)
        )

    async def http_error(self, request: Request, error: Exception) -> Response:
        """Unknown routes and methods: JSON with the request id, counted, like every error."""
        assert isinstance(error, HTTPException)
        headers = dict(error.headers or {})
        response = error_response(
            self.metrics,
            _UNKNOWN,
            "other",
            error.status_code,
            "NOT_FOUND" if error.status_code == 404 else "BAD_REQUEST",
            str(error.detail),
            incoming_request_id(request),
            v2=request.url.path.startswith("/v2"),
        )
        response.headers.update(headers)
        return response

    async def prometheus(self, request: Request) -> Response:
        self.metrics.capture_backlog.set(self.service.capture.backlog)
        return Response(
            self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )


def build_app(service: PredictionService) -> Starlette:
    """The ASGI application around a loaded service."""
    handlers = _Routes(service)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        yield
        await service.stop()

    routes = [
        Route("/ping", handlers.ping, methods=["GET"]),
        Route("/invocations", handlers.invocations, methods=["POST"]),
        Route("/v2", handlers.v2_server, methods=["GET"]),
        Route("/v2/health/live", handlers.v2_live, methods=["GET"]),
        Route("/v2/health/ready", handlers.v2_ready, methods=["GET"]),
        Route("/v2/models/{name}", handlers.v2_model, methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}", handlers.v2_model, methods=["GET"]),
        Route("/v2/models/{name}/ready", handlers.v2_model_ready, methods=["GET"]),
        Route(
            "/v2/models/{name}/versions/{version}/ready", handlers.v2_model_ready, methods=["GET"]
        ),
        Route("/v2/models/{name}/infer", handlers.v2_infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", handlers.v2_infer, methods=["POST"]),
        Route("/metrics", handlers.prometheus, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: handlers.http_error},
    )


async def _predict(
    service: PredictionService,
    slot: Slot,
    columns: dict[str, Any],
    rows: int,
    wants: bool,
    request_id: str,
) -> tuple[Any, int, dict[str, list[Any]]]:
    """Validate, predict (batched) and capture one request; the id column comes back apart.

    Classifiers always predict probabilities, so captures hold them for roc_auc and log_loss
    once labels arrive; the response carries them only when the client asked.
    """
    model = slot.model  # validated against, and predicted by, the version current now
    id_column = model.bundle.signature.get("id_column")
    ids = {id_column: list(columns.pop(id_column))} if id_column in columns else {}
    if id_column in ids and len(ids[id_column]) != rows:
        raise SchemaError(id_column, f"has {len(ids[id_column])} values, expected {rows}")
    if rows <= INLINE_ROWS:
        inputs = model.frame(columns, rows)
    else:  # validating many rows takes long enough to stall other requests: in a thread
        inputs = await asyncio.get_running_loop().run_in_executor(None, model.frame, columns, rows)
    assert slot.batcher is not None
    classifier = model.bundle.task == "classification"
    result = await slot.batcher.predict(model, inputs, wants or classifier)
    service.record(slot, request_id, inputs, result, rows, ids)
    if not wants and result.probabilities is not None:
        result = dataclasses.replace(result, probabilities=None, classes=None)
    return result, rows, ids


def _v2_slot(service: PredictionService, request: Request) -> Slot:
    slot = service.slot(request.path_params["name"])
    version = request.path_params.get("version")
    if version is not None and version != str(slot.model.version):
        raise NotFoundError(
            f"model {slot.name!r} version {version} is not served (serving {slot.model.version})"
        )
    return slot


def _metadata(slot: Slot) -> dict[str, Any]:
    signature = slot.model.bundle.signature
    inputs = [
        {"name": c["name"], "datatype": _V2_TYPES.get(c["dtype"], "BYTES"), "shape": [-1]}
        for c in signature["inputs"]
    ]
    return {
        "name": slot.name,
        "versions": [str(slot.model.version)],
        "platform": f"shipline-{slot.model.form}",
        "inputs": inputs,
        "outputs": [
            {"name": "predictions", "datatype": _prediction_type(signature), "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, -1]},
        ],
    }


def _prediction_type(signature: dict[str, Any]) -> str:
    """The V2 datatype of the predictions, as the infer response will carry them."""
    output = signature.get("output", {})
    if output.get("task") == "regression":
        return "FP64"
    classes = output.get("classes") or []
    return _value_type(classes[0]) if classes else "BYTES"


def _value_type(sample: Any) -> str:
    if isinstance(sample, bool):
        return "BOOL"
    if isinstance(sample, int):
        return "INT64"
    return "FP64" if isinstance(sample, float) else "BYTES"


def _tensor(name: str, values: list[Any], slot: Slot) -> dict[str, Any]:
    datatype = _value_type(values[0]) if values else _prediction_type(slot.model.bundle.signature)
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": values}


def _headers(request_id: str, name: str, version: int, rows: int) -> dict[str, str]:
    return {"x-request-id": request_id, "x-model-version": f"{name}:{version}", "x-rows": str(rows)}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")
