"""Open Inference Protocol V2 (KServe, Triton, Seldon): the whole protocol in one place.

Routes: ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``, ``/v2/models/{name}[/versions/
{version}]`` (metadata), ``.../ready`` and ``POST .../infer``. Requests are named tensors
``{name, shape, datatype, data}``: one per column, or one ``[rows, columns]`` tensor in the
signature's column order. Answers carry ``predictions`` (and ``probabilities`` when asked for in
``outputs``, and the id column when sent). Errors are ``{"error": message}``. Tensors may
travel as raw bytes after the JSON both ways (the binary tensor extension:
``server.binary_tensors``).
"""

from __future__ import annotations

__all__ = ["V2", "model_metadata", "output_tensors", "parse_v2", "pinned_slot", "v2_batch"]

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shipline import __version__
from shipline.errors import NotFoundError
from shipline.registry.version_details import Signature, Task
from shipline.scoring import Batch, PayloadError
from shipline.scoring.payload import load_json_body
from shipline.server.binary_tensors import (
    HEADER_LENGTH,
    BinaryData,
    encode_outputs,
    split_body,
    wants_binary,
)
from shipline.server.error_response import json_response
from shipline.server.request_input import client_key, incoming_request_id, valid_request_id
from shipline.server.service import Slot
from shipline.server.serving_protocol import Gateway, Served

_UNKNOWN = "unknown"
_DATATYPES = {
    "int64": "INT64",
    "int32": "INT32",
    "float64": "FP64",
    "float32": "FP32",
    "bool": "BOOL",
}


@dataclass(frozen=True)
class _V2:
    name: str = "v2"
    path_prefix: str = "/v2"

    def routes(self, gateway: Gateway) -> Sequence[BaseRoute]:
        service = gateway.service

        async def server(request: Request) -> Response:
            return json_response({"name": "shipline", "version": __version__, "extensions": []})

        async def live(request: Request) -> Response:
            return json_response({"live": True})

        async def ready(request: Request) -> Response:
            return json_response({"ready": service.ready}, 200 if service.ready else 503)

        async def model(request: Request) -> Response:
            try:
                slot = _slot(gateway, request)
            except NotFoundError as error:
                return json_response({"error": str(error)}, 404)
            return json_response(model_metadata(slot))

        async def model_ready(request: Request) -> Response:
            try:
                slot = _slot(gateway, request)
            except NotFoundError as error:
                return json_response({"error": str(error)}, 404)
            answer = {"name": slot.name, "ready": service.ready}
            return json_response(answer, 200 if service.ready else 503)

        async def infer(request: Request) -> Response:
            return await self._infer(gateway, request)

        one = "/v2/models/{name}"
        pinned = "/v2/models/{name}/versions/{version}"
        return [
            Route("/v2", server, methods=["GET"]),
            Route("/v2/health/live", live, methods=["GET"]),
            Route("/v2/health/ready", ready, methods=["GET"]),
            Route(one, model, methods=["GET"]),
            Route(pinned, model, methods=["GET"]),
            Route(f"{one}/ready", model_ready, methods=["GET"]),
            Route(f"{pinned}/ready", model_ready, methods=["GET"]),
            Route(f"{one}/infer", infer, methods=["POST"]),
            Route(f"{pinned}/infer", infer, methods=["POST"]),
        ]

    def error_body(self, code: str, message: str) -> dict[str, Any]:
        return {"error": message}

    async def _infer(self, gateway: Gateway, request: Request) -> Response:
        started = time.perf_counter()
        request_id = incoming_request_id(request)
        label = _UNKNOWN
        try:
            slot = _slot(gateway, request)
            label = slot.name
            body = await gateway.body(request)
            header_length = request.headers.get(HEADER_LENGTH)
            content_type = request.headers.get("content-type", "application/json")
            if not content_type.startswith("application/json") and not (
                header_length is not None and content_type.startswith("application/octet-stream")
            ):
                raise PayloadError(
                    "the V2 REST protocol takes application/json (application/octet-stream "
                    "with Inference-Header-Content-Length for binary tensors)",
                    415,
                )
            limits = gateway.limits
            batch = await gateway.parse(
                lambda: parse_v2(
                    body,
                    slot.model.input_names,
                    limits.max_json_depth,
                    limits.max_rows,
                    header_length,
                ),
                len(body),
            )
            if batch.request_id is not None:
                if not valid_request_id(batch.request_id):
                    raise PayloadError("id: expected 1-100 printable ASCII characters")
                request_id = batch.request_id
            wants = "probabilities" in batch.outputs
            served = await gateway.predict(
                slot, batch.columns, batch.rows, wants, request_id, client_key(request)
            )
        except Exception as error:
            return gateway.error(self, label, error, request_id)
        answer = {
            "model_name": slot.name,
            "model_version": str(served.version),
            "id": request_id,
            "outputs": output_tensors(served, slot, batch.outputs),
        }
        if batch.binary_outputs is None:
            return gateway.answered(self, slot, started, answer, served, request_id)
        content, header_size = encode_outputs(answer, batch.binary_outputs)
        described = {HEADER_LENGTH: str(header_size)}
        return gateway.answered(self, slot, started, None, served, request_id, (content, described))


def output_tensors(served: Served, slot: Slot, asked: tuple[str, ...]) -> list[dict[str, Any]]:
    """The answer's tensors: predictions, probabilities when predicted, the id column when
    sent (only the ``asked`` ones when the request names outputs the answer has)."""
    result, rows = served.prediction, served.rows
    outputs = [_output_tensor("predictions", result.values, slot)]
    if result.probabilities is not None:
        flat = [p for row in result.probabilities for p in row]
        width = len(result.probabilities[0]) if result.probabilities else 0
        outputs.append(
            {"name": "probabilities", "shape": [rows, width], "datatype": "FP64", "data": flat}
        )
    for name, values in served.ids.items():
        outputs.append(
            {"name": name, "shape": [rows], "datatype": "BYTES", "data": [str(v) for v in values]}
        )
    if asked:
        outputs = [o for o in outputs if o["name"] in asked] or outputs
    return outputs


def _slot(gateway: Gateway, request: Request) -> Slot:
    return pinned_slot(gateway, request.path_params["name"], request.path_params.get("version"))


def pinned_slot(gateway: Gateway, name: str, version: str | None) -> Slot:
    """The served model ``name``; not found when ``version`` is given and is not the one
    being served."""
    slot = gateway.service.slot(name)
    if version is not None and version != str(slot.model.version):
        raise NotFoundError(
            f"model {slot.name!r} version {version} is not served (serving {slot.model.version})"
        )
    return slot


def model_metadata(slot: Slot) -> dict[str, Any]:
    """A served model's metadata: its inputs and outputs as V2 tensors."""
    signature = slot.model.signature
    inputs = [
        {"name": c.name, "datatype": _DATATYPES.get(c.dtype, "BYTES"), "shape": [-1]}
        for c in signature.inputs
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


def _prediction_type(signature: Signature) -> str:
    """The V2 datatype of the predictions, as the infer response will carry them."""
    if signature.output.task == Task.REGRESSION:
        return "FP64"
    classes = signature.output.classes or []
    return _value_type(classes[0]) if classes else "BYTES"


def _value_type(sample: Any) -> str:
    if isinstance(sample, bool):
        return "BOOL"
    if isinstance(sample, int):
        return "INT64"
    return "FP64" if isinstance(sample, float) else "BYTES"


def _output_tensor(name: str, values: list[Any], slot: Slot) -> dict[str, Any]:
    datatype = _value_type(values[0]) if values else _prediction_type(slot.model.signature)
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": values}


_TENSOR_TYPES = {
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
}


def parse_v2(
    body: bytes,
    names: list[str],
    max_depth: int,
    max_rows: int,
    header_length: str | None = None,
) -> Batch:
    """Columns from an Open Inference Protocol V2 inference request (with binary tensors after
    ``header_length`` bytes of JSON when given), and the outputs to answer as binary data."""
    text, binary = split_body(body, header_length)
    return v2_batch(load_json_body(text, max_depth), names, max_rows, binary)


def v2_batch(
    document: Any, names: list[str], max_rows: int, binary: BinaryData | None = None
) -> Batch:
    """Columns from a V2 inference request's document (REST's JSON, or what gRPC's message
    says in the same shape), its binary tensors read from ``binary``."""
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("inputs"), list)
        or not document["inputs"]
    ):
        raise PayloadError('expected {"inputs": [{"name", "shape", "datatype", "data"}, ...]}')
    columns: dict[str, Any] = {}
    rows = None
    for index, tensor in enumerate(document["inputs"]):
        name, values, count = _input_tensor(tensor, index, names, binary)
        rows = count if rows is None else rows
        if count != rows:
            raise PayloadError(
                f"inputs[{index}] ({name}): {count} rows, but earlier inputs have {rows}"
            )
        columns.update(values)
    if binary is not None:
        binary.check_consumed()
    outputs = tuple(
        str(o.get("name")) for o in document.get("outputs") or [] if isinstance(o, dict)
    )
    request_id = document.get("id")
    if rows is not None and rows > max_rows:
        raise PayloadError(f"{rows} rows in one request; the limit is {max_rows}", 413)
    return Batch(
        columns,
        rows or 0,
        document.get("parameters") or {},
        str(request_id) if request_id else None,
        outputs,
        wants_binary(document),
    )


def _input_tensor(
    tensor: Any, index: int, names: list[str], binary: BinaryData | None
) -> tuple[str, dict[str, Any], int]:
    size = _binary_size(tensor)
    needed = {"name", "shape", "datatype"} | ({"data"} if size is None else set())
    if not isinstance(tensor, dict) or not needed <= set(tensor):
        raise PayloadError(f"inputs[{index}]: a tensor needs name, shape, datatype and data")
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if datatype not in _TENSOR_TYPES:
        raise PayloadError(f"inputs[{index}] ({name}): unknown datatype {datatype!r}")
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and d >= 0 for d in shape)
        or not 1 <= len(shape) <= 2
    ):
        raise PayloadError(
            f"inputs[{index}] ({name}): shape must be [rows] or [rows, columns], got {shape!r}"
        )
    count = 1
    for dim in shape:
        count *= dim
    if size is None:
        flat = _flatten(tensor["data"])
    elif binary is None:
        raise PayloadError(
            f"inputs[{index}] ({name}): binary_data_size needs the Inference-Header-Content-Length "
            "header"
        )
    else:
        flat = binary.tensor(f"inputs[{index}] ({name})", datatype, size, count)
    size = count
    if len(flat) != size:
        raise PayloadError(
            f"inputs[{index}] ({name}): shape {shape} needs {size} values, data has {len(flat)}"
        )
    if len(shape) == 2 and shape[1] != 1:
        if shape[1] != len(names):
            raise PayloadError(
                f"inputs[{index}] ({name}): {shape[1]} columns, "
                f"the model takes {len(names)} ({', '.join(names)})"
            )
        rows = shape[0]
        return name, {column: flat[i :: shape[1]] for i, column in enumerate(names)}, rows
    return name, {name: flat}, shape[0]


def _binary_size(tensor: Any) -> Any:
    """The tensor's ``binary_data_size`` when it sends no ``data`` (None otherwise)."""
    if not isinstance(tensor, dict) or "data" in tensor:
        return None
    parameters = tensor.get("parameters")
    return parameters.get("binary_data_size") if isinstance(parameters, dict) else None


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise PayloadError("tensor data must be a list")
    if data and isinstance(data[0], list):
        return [
            value for row in data for value in (_flatten(row) if isinstance(row, list) else [row])
        ]
    return data


V2 = _V2()
