"""What a serving protocol is: the plug-in point for the wire formats the prediction server
speaks (MLflow/SageMaker ``/invocations`` and Open Inference Protocol V2 today).

A protocol contributes its routes and the shape of its error bodies; everything a request
shares whatever its format (reading the body under limits, validating against the signature,
micro-batched prediction, capture, metrics, error answers) is the ``Gateway`` it is handed.
Add one with ``SERVING_PROTOCOLS.register(...)`` or an entry point in the
``shipline.serving_protocols`` group; every registered protocol is served.
"""

from __future__ import annotations

__all__ = ["SERVING_PROTOCOLS", "Gateway", "Served", "ServingProtocol", "failure"]

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from shipline.errors import NotFoundError
from shipline.plugin import PluginRegistry
from shipline.scoring import Batch, PayloadError, SchemaError
from shipline.scoring.signature import take_ids
from shipline.server.batcher import BatchResult
from shipline.server.error_response import JsonAnswer, error_response, log_failure
from shipline.server.request_input import INLINE_ROWS, parsed, read_body
from shipline.server.rollout_traffic import Candidate
from shipline.server.service import PredictionService, Slot


class ServingProtocol(Protocol):
    """One wire format: its routes and its error bodies."""

    @property
    def name(self) -> str:
        """The protocol's name (the ``protocol`` label of the server's metrics)."""
        ...

    @property
    def path_prefix(self) -> str:
        """Paths under this prefix answer errors in this protocol's shape."""
        ...

    def routes(self, gateway: Gateway) -> Sequence[BaseRoute]:
        """The protocol's routes, handled through ``gateway``."""
        ...

    def error_body(self, code: str, message: str) -> dict[str, Any]:
        """An error answer's body (the request id is added to it)."""
        ...


class Served(NamedTuple):
    """A request's predictions, as every protocol renders them (a named tuple, as
    ``BatchResult``: one is made per request)."""

    prediction: BatchResult
    rows: int
    ids: dict[str, list[Any]]
    name: str
    version: int
    role: str = "stable"  # or "canary": the rollout candidate answered

    def headers(self, request_id: str) -> dict[str, str]:
        """The response headers every protocol sends (gRPC's trailing metadata, binary answers)."""
        return {k.decode(): v.decode() for k, v in self.raw_headers(request_id)}

    def raw_headers(self, request_id: str) -> list[tuple[bytes, bytes]]:
        """The same headers as HTTP sends them (every value is the server's own ASCII): what a
        JSON answer, every prediction's, sends without encoding each header again."""
        return [
            (b"x-request-id", request_id.encode()),
            (b"x-model-version", f"{self.name}:{self.version}".encode()),
            (b"x-model-role", self.role.encode()),
            (b"x-rows", str(self.rows).encode()),
        ]


class Gateway:
    """What every protocol shares: limits, prediction, capture, metrics and error answers."""

    def __init__(self, service: PredictionService) -> None:
        self.service = service
        self.limits = service.serving.limits
        self.metrics = service.metrics

    async def body(self, request: Request) -> bytes:
        """The request body, within the size and time limits."""
        return await read_body(request, self.limits.max_body_bytes, self.limits.body_timeout_s)

    async def parse(self, parse: Callable[[], Batch], size: int) -> Batch:
        """Run a body parser (in a thread when the body is large)."""
        return await parsed(parse, size)

    async def predict(
        self,
        slot: Slot,
        columns: dict[str, Any],
        rows: int,
        wants: bool,
        request_id: str,
        client: str | None = None,
    ) -> Served:
        """Validate, predict (batched) and capture one request; the id column comes back apart.

        Classifiers always predict probabilities, so captures hold them for roc_auc and
        log_loss once labels arrive; the response carries them only when the client asked.
        During a rollout the candidate answers its canary share of clients (by ``client``, the
        client key header, else the request id) or gets a mirrored copy in its shadow phase.
        """
        key = client or request_id
        candidate = slot.candidate
        role, model, batcher = "stable", slot.model, slot.batcher
        part = None if candidate is None or candidate.batcher is None else candidate.role(key)
        if part == "canary":
            assert candidate is not None
            role, model, batcher = "canary", candidate.model, candidate.batcher
        mirrored = part == "shadow"
        if mirrored and not self.service.shadow.has_room():
            mirrored = False  # dropped before any work is spent on it
            self.metrics.role(slot.name, "shadow").dropped.inc()
        reuse = mirrored and candidate is not None and candidate.takes_inputs_of(model)
        copy = dict(columns) if mirrored and not reuse else None
        ids = take_ids(columns, model.signature.id_column, rows)
        if rows <= INLINE_ROWS:
            inputs = model.frame(columns, rows)
        else:  # validating many rows takes long enough to stall other requests: in a thread
            loop = asyncio.get_running_loop()
            inputs = await loop.run_in_executor(None, model.frame, columns, rows)
        assert batcher is not None
        classifier = model.bundle.task == "classification"
        started = time.perf_counter()
        try:
            result = await batcher.predict(model, inputs, wants or classifier)
        except Exception:
            self._count(slot, candidate, role, False, 0.0)
            raise
        self._count(slot, candidate, role, True, time.perf_counter() - started)
        self.service.record(slot, request_id, inputs, result, rows, ids)
        if mirrored:
            validated = (inputs, ids) if reuse else None
            self.service.mirror(slot, request_id, rows, validated, copy)
        if not wants and result.probabilities is not None:
            result = BatchResult(result.values, None, None, *result[3:])
        return Served(result, rows, ids, result.model.name, result.model.version, role)

    def _count(
        self, slot: Slot, candidate: Candidate | None, role: str, ok: bool, seconds: float
    ) -> None:
        """While a rollout runs: metrics by role and the rollout's tally (nothing otherwise, so
        the path without a rollout pays nothing for them)."""
        if candidate is None:
            return
        series = self.metrics.role(slot.name, role)
        if ok:
            series.ok.inc()
            series.latency.observe(seconds)
        else:
            series.error.inc()
        self.service.tally.add(candidate.rollout.id, role, ok, seconds)

    def answered(
        self,
        protocol: ServingProtocol,
        slot: Slot,
        started: float,
        body: Any,
        served: Served,
        request_id: str,
        binary: tuple[bytes, dict[str, str]] | None = None,
    ) -> Response:
        """A successful answer, counted and timed: ``body`` as JSON, or ``binary`` (bytes
        already encoded, with the headers that describe them)."""
        self.count_answer(protocol.name, slot.name, started)
        if binary is not None:
            content, described = binary
            headers = {**served.headers(request_id), **described}
            return Response(content, 200, headers, "application/octet-stream")
        return JsonAnswer(body, served.raw_headers(request_id))

    def count_answer(self, protocol: str, model: str, started: float) -> None:
        """Count and time a successful answer."""
        self.metrics.answered(model, protocol, time.perf_counter() - started)

    def error(
        self, protocol: ServingProtocol, model: str, error: Exception, request_id: str
    ) -> Response:
        """The answer to a failed request: 4xx for what the client got wrong, else 500."""
        status, code, message = failure(error, request_id)
        return error_response(
            self.metrics,
            model,
            protocol.name,
            status,
            code,
            request_id,
            protocol.error_body(code, message),
        )


def failure(error: Exception, request_id: str) -> tuple[int, str, str]:
    """A failed request's HTTP status, error code and message: 4xx for what the client got
    wrong, else 500 (logged with its traceback)."""
    if isinstance(error, PayloadError):
        status, code = error.status, "BAD_REQUEST"
    elif isinstance(error, SchemaError):
        status, code = 422, "SCHEMA_ENFORCEMENT_FAILED"
    elif isinstance(error, NotFoundError):
        status, code = 404, "RESOURCE_DOES_NOT_EXIST"
    else:
        log_failure(request_id, error)
        status, code = 500, "INTERNAL_ERROR"
    message = (
        f"the model failed to predict: {type(error).__name__}: {error}"[:500]
        if status == 500
        else str(error)
    )
    return status, code, message


SERVING_PROTOCOLS: PluginRegistry[ServingProtocol] = PluginRegistry(
    "shipline.serving_protocols",
    "serving protocol",
    {
        "invocations": "shipline.server.invocations_protocol:INVOCATIONS",
        "v2": "shipline.server.v2_protocol:V2",
    },
)
