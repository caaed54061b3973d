"""shipline's Open Inference Protocol messages are the ones Triton's client sends and reads."""

from __future__ import annotations

from typing import Any

import pytest
from tritonclient.grpc import service_pb2 as triton

from shipline.server.proto import open_inference_pb2 as ours

MESSAGES = [
    "ServerLiveRequest",
    "ServerLiveResponse",
    "ServerReadyRequest",
    "ServerReadyResponse",
    "ModelReadyRequest",
    "ModelReadyResponse",
    "ServerMetadataRequest",
    "ServerMetadataResponse",
    "ModelMetadataRequest",
    "ModelMetadataResponse",
    "InferParameter",
    "InferTensorContents",
    "ModelInferRequest",
    "ModelInferResponse",
]


def _fields(descriptor: Any, prefix: str = "") -> dict[str, tuple[int, int, bool]]:
    found = {prefix + f.name: (f.number, f.type, f.is_repeated) for f in descriptor.fields}
    for nested in descriptor.nested_types:
        found |= _fields(nested, f"{prefix}{nested.name}.")
    return found


@pytest.mark.parametrize("name", MESSAGES)
def test_field_numbers_and_types_match_tritons(name: str) -> None:
    mine = _fields(ours.DESCRIPTOR.message_types_by_name[name])
    theirs = _fields(triton.DESCRIPTOR.message_types_by_name[name])
    assert mine == theirs


def test_a_request_travels_between_the_two() -> None:
    sent = triton.ModelInferRequest(model_name="m", model_version="2", id="r")
    tensor = sent.inputs.add(name="x", datatype="FP32", shape=[2, 3])
    tensor.parameters["binary_data_size"].int64_param = 24
    sent.raw_input_contents.append(b"\0" * 24)
    sent.outputs.add(name="probabilities")
    read = ours.ModelInferRequest.FromString(sent.SerializeToString())
    assert (read.model_name, read.model_version, read.id) == ("m", "2", "r")
    assert list(read.inputs[0].shape) == [2, 3]
    assert read.inputs[0].parameters["binary_data_size"].int64_param == 24
    assert read.raw_input_contents[0] == b"\0" * 24 and read.outputs[0].name == "probabilities"
