"""The Open Inference Protocol over gRPC (KServe's ``inference.GRPCInferenceService``), beside
the REST protocols on the same event loop and through the same gateway.

ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer, as Triton's
and KServe's clients call them. A ModelInfer request becomes the document the V2 REST parser
checks (inputs from typed ``contents``, or ``raw_input_contents`` read like REST's binary
tensors), so both transports refuse the same mistakes with the same messages; it is validated,
micro-batched with REST's requests, captured and counted (``protocol="grpc"``) the same way.
Answers carry every output as ``raw_output_contents``, as Triton's server does. Errors are
gRPC statuses (INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE) with
the request id in the trailing metadata. With ``--auth``, every call but the health checks
needs ``authorization: Bearer TOKEN`` metadata that may predict with the model.
"""

from __future__ import annotations

__all__ = ["SERVICE", "GrpcInference"]

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from shipline import __version__
from shipline.scoring import Batch, PayloadError
from shipline.server.binary_tensors import BinaryData, encode_tensor
from shipline.server.caller_auth import CallerGate
from shipline.server.proto import open_inference_pb2 as pb
from shipline.server.request_input import new_request_id, valid_request_id
from shipline.server.rollout_traffic import CLIENT_KEY_HEADER
from shipline.server.service import Slot
from shipline.server.serving_protocol import Gateway, failure
from shipline.server.v2_protocol import model_metadata, output_tensors, pinned_slot, v2_batch

SERVICE = "inference.GRPCInferenceService"
PROTOCOL = "grpc"
_STATUS = {
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}
# Which typed field of InferTensorContents holds each datatype's values.
_CONTENTS = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class GrpcInference:
    """The gRPC server: started and stopped with the prediction service's event loop."""

    def __init__(self, gateway: Gateway, gate: CallerGate | None = None) -> None:
        self.gateway, self.gate = gateway, gate
        self._server: grpc.aio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` (0: any free port); the port it listens on."""
        limit = self.gateway.limits.max_body_bytes
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", -1),
            ]
        )
        server.add_generic_rpc_handlers((self._handlers(),))
        bound = server.add_insecure_port(f"{host}:{port}")
        await server.start()
        self._server = server
        return int(bound)

    async def stop(self, grace: float = 30.0) -> None:
        """Stop taking calls; calls in flight get ``grace`` seconds to finish."""
        if self._server is not None:
            await self._server.stop(grace)

    def _handlers(self) -> grpc.GenericRpcHandler:
        methods: dict[str, Handler] = {
            "ServerLive": self._live,
            "ServerReady": self._ready,
            "ModelReady": self._model_ready,
            "ServerMetadata": self._server_metadata,
            "ModelMetadata": self._model_metadata,
            "ModelInfer": self._infer,
        }
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: grpc.unary_unary_rpc_method_handler(
                    handler,
                    request_deserializer=getattr(pb, f"{name}Request").FromString,
                    response_serializer=getattr(pb, f"{name}Response").SerializeToString,
                )
                for name, handler in methods.items()
            },
        )

    async def _live(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.ServerLiveResponse(live=True)

    async def _ready(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.ServerReadyResponse(ready=self.gateway.service.ready)

    async def _server_metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return pb.ServerMetadataResponse(name="shipline", version=__version__, extensions=[])

    async def _model_ready(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self._slot(request.name, request.version, context)
        return pb.ModelReadyResponse(ready=self.gateway.service.ready)

    async def _model_metadata(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        metadata = model_metadata(await self._slot(request.name, request.version, context))
        answer = pb.ModelMetadataResponse(
            name=metadata["name"], versions=metadata["versions"], platform=metadata["platform"]
        )
        for field in ("inputs", "outputs"):
            for tensor in metadata[field]:
                getattr(answer, field).add(**tensor)
        return answer

    async def _slot(self, name: str, version: str, context: grpc.aio.ServicerContext) -> Slot:
        """The served model, once the caller may use it; the call is aborted otherwise."""
        await self._check_caller(name, context)
        try:
            return pinned_slot(self.gateway, name, version or None)
        except Exception as error:
            status, _, message = failure(error, "")
            await context.abort(_STATUS.get(status, grpc.StatusCode.INVALID_ARGUMENT), message)
            raise  # abort raised already; this keeps the type checker informed

    async def _infer(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        gateway = self.gateway
        request_id = request.id if valid_request_id(request.id) else new_request_id()
        await self._check_caller(request.model_name, context)
        label = "unknown"
        try:
            slot = pinned_slot(gateway, request.model_name, request.model_version or None)
            label = slot.name
            if request.id and not valid_request_id(request.id):
                raise PayloadError("id: expected 1-100 printable ASCII characters")
            names, limits = slot.model.input_names, gateway.limits
            batch = await gateway.parse(
                lambda: _batch(request, names, limits.max_rows),
                request.ByteSize(),
            )
            served = await gateway.predict(
                slot,
                batch.columns,
                batch.rows,
                "probabilities" in batch.outputs,
                request_id,
                _client_key(context),
            )
        except Exception as error:
            status, code, message = failure(error, request_id)
            gateway.metrics.requests.labels(label, PROTOCOL, str(status)).inc()
            gateway.metrics.errors.labels(label, PROTOCOL, code).inc()
            context.set_trailing_metadata((("x-request-id", request_id),))
            await context.abort(_STATUS.get(status, grpc.StatusCode.INVALID_ARGUMENT), message)
            raise
        answer = pb.ModelInferResponse(
            model_name=slot.name, model_version=str(served.version), id=request_id
        )
        for tensor in output_tensors(served, slot, batch.outputs):
            answer.outputs.add(
                name=tensor["name"], datatype=tensor["datatype"], shape=tensor["shape"]
            )
            answer.raw_output_contents.append(encode_tensor(tensor["datatype"], tensor["data"]))
        context.set_trailing_metadata(tuple(served.headers(request_id).items()))
        gateway.count_answer(PROTOCOL, slot.name, started)
        return answer

    async def _check_caller(self, model: str, context: grpc.aio.ServicerContext) -> None:
        """With ``--auth``: a bearer token that may predict with ``model``, else aborted."""
        if self.gate is None:
            return
        credential = _bearer(context)
        if credential is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "a bearer token with the predict permission is needed (authorization metadata)",
            )
        assert credential is not None
        try:
            verdict = await self.gate.verdict(credential, model)
        except OSError as error:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, f"cannot check credentials now: {error}"
            )
        if verdict is None:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "invalid, expired or revoked token"
            )
        if not verdict:
            await context.abort(
                grpc.StatusCode.PERMISSION_DENIED, f"this token may not predict with {model}"
            )


def _batch(request: Any, names: list[str], max_rows: int) -> Batch:
    """The request's columns, checked as a V2 REST request's are."""
    document, raw = _document(request)
    return v2_batch(document, names, max_rows, raw)


def _document(request: Any) -> tuple[dict[str, Any], BinaryData | None]:
    """A ModelInfer request in the shape of a V2 REST request, and its raw tensors."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise PayloadError(
            f"raw_input_contents: {len(raw)} entries for {len(request.inputs)} inputs "
            "(one per input, in order)"
        )
    inputs = []
    for index, tensor in enumerate(request.inputs):
        entry: dict[str, Any] = {
            "name": tensor.name,
            "shape": list(tensor.shape),
            "datatype": tensor.datatype,
        }
        if raw:
            entry["parameters"] = {"binary_data_size": len(raw[index])}
        else:
            entry["data"] = _contents(tensor, index)
        inputs.append(entry)
    document = {
        "inputs": inputs,
        "outputs": [{"name": output.name} for output in request.outputs],
        "parameters": {key: _parameter(value) for key, value in request.parameters.items()},
    }
    return document, BinaryData(memoryview(b"".join(raw))) if raw else None


def _contents(tensor: Any, index: int) -> list[Any]:
    """A tensor's values from the typed field its datatype uses."""
    where = f"inputs[{index}] ({tensor.name})"
    field = _CONTENTS.get(tensor.datatype)
    if field is None:
        raise PayloadError(
            f"{where}: datatype {tensor.datatype!r} travels only as raw_input_contents"
            if tensor.datatype == "FP16"
            else f"{where}: unknown datatype {tensor.datatype!r}"
        )
    values = list(getattr(tensor.contents, field))
    if field != "bytes_contents":
        return values
    try:
        return [value.decode() for value in values]
    except UnicodeDecodeError:
        raise PayloadError(f"{where}: BYTES contents must be UTF-8 text") from None


def _parameter(value: Any) -> Any:
    choice = value.WhichOneof("parameter_choice")
    return getattr(value, choice) if choice else None


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key and isinstance(value, str):
            return value
    return None


def _bearer(context: grpc.aio.ServicerContext) -> str | None:
    text = _metadata_value(context, "authorization") or ""
    scheme, _, credential = text.partition(" ")
    if scheme.lower() == "bearer" and credential.strip() and len(credential) <= 8192:
        return credential.strip()
    return None


def _client_key(context: grpc.aio.ServicerContext) -> str | None:
    given = _metadata_value(context, CLIENT_KEY_HEADER) or ""
    return given if valid_request_id(given) else None
