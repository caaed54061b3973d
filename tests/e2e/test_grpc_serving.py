"""The Open Inference Protocol over gRPC, with Triton's own client, beside REST."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import pandas as pd
import pytest

from shipline.project import Project
from shipline.server.proto import open_inference_pb2 as pb
from tests.served import Server, start_server, trained_example
from tests.services import free_port

FEATURES_DROP = ["benign", "sample_id"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_example(tmp_path_factory.mktemp("grpc") / "cancer", alias="live")


@pytest.fixture(scope="module")
def served(trained: Path) -> Iterator[tuple[Server, str]]:
    port = free_port()
    server = start_server(trained, "cancer@live", extra=("--grpc-port", str(port)))
    yield server, f"127.0.0.1:{port}"
    assert server.stop() == 0


def _matrix(trained: Path, rows: int) -> tuple[np.ndarray, list[str]]:
    frame = pd.read_csv(trained / "data" / "breast_cancer.csv").sample(rows, random_state=5)
    x = frame.drop(columns=FEATURES_DROP)
    return x.to_numpy(dtype=np.float64), list(x.columns)


def _call(address: str, request: Any, timeout: float = 30) -> Any:
    """ModelInfer with a hand-made message (what Triton's client would not send)."""
    with grpc.insecure_channel(address) as channel:
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )
        return infer(request, timeout=timeout)


def test_tritons_grpc_client_gets_the_rest_answers(
    served: tuple[Server, str], trained: Path
) -> None:
    import tritonclient.grpc as triton

    server, address = served
    matrix, names = _matrix(trained, 25)
    tensor = {"name": "x", "shape": [25, 30], "datatype": "FP64", "data": matrix.ravel().tolist()}
    wanted = [{"name": "predictions"}, {"name": "probabilities"}]
    rest = httpx.post(
        f"{server.url}/v2/models/cancer/infer",
        json={"inputs": [tensor], "outputs": wanted},
        timeout=30,
    ).json()["outputs"]
    client = triton.InferenceServerClient(address)
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("cancer") and client.is_model_ready("cancer", "1")
        assert not _ready_or_missing(client, "nope")
        assert client.get_server_metadata().name == "shipline"
        metadata = client.get_model_metadata("cancer")
        assert metadata.versions == ["1"] and [i.name for i in metadata.inputs] == names
        assert metadata.inputs[0].datatype == "FP64"
        one = triton.InferInput("x", [25, 30], "FP64")
        one.set_data_from_numpy(matrix)
        outputs = [
            triton.InferRequestedOutput("predictions"),
            triton.InferRequestedOutput("probabilities"),
        ]
        result = client.infer("cancer", [one], outputs=outputs, request_id="grpc-1")
        response = result.get_response()
        assert response.id == "grpc-1" and response.model_version == "1"
        assert result.as_numpy("predictions").tolist() == rest[0]["data"]
        assert result.as_numpy("probabilities").shape == (25, 2)
        assert result.as_numpy("probabilities").ravel().tolist() == rest[1]["data"]
        columns = []
        for index, name in enumerate(names):
            column = triton.InferInput(name, [25], "FP32")
            column.set_data_from_numpy(matrix[:, index].astype(np.float32))
            columns.append(column)
        by_column = client.infer("cancer", columns)  # no outputs named: predictions only
        assert by_column.as_numpy("predictions").tolist() == rest[0]["data"]
        assert by_column.as_numpy("probabilities") is None
    finally:
        client.close()
    typed = pb.ModelInferRequest(model_name="cancer", id="typed-1")
    typed.inputs.add(name="x", datatype="FP64", shape=[25, 30]).contents.fp64_contents.extend(
        matrix.ravel().tolist()
    )
    answer = _call(address, typed)
    predictions = np.frombuffer(answer.raw_output_contents[0], dtype="<i8").tolist()
    assert answer.outputs[0].name == "predictions" and predictions == rest[0]["data"]
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'shipline_requests_total{model="cancer",protocol="grpc",status="200"} 3.0' in metrics


def _ready_or_missing(client: Any, name: str) -> bool:
    from tritonclient.utils import InferenceServerException

    try:
        return bool(client.is_model_ready(name))
    except InferenceServerException as error:
        status = str(error.status())
    assert "NOT_FOUND" in status
    return False


def _bad(address: str, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _call(address, request)
    return caught.value


def test_bad_grpc_requests_get_clear_statuses_and_the_server_keeps_serving(
    served: tuple[Server, str], trained: Path
) -> None:
    server, address = served
    matrix, names = _matrix(trained, 2)

    def request(**fields: Any) -> Any:
        return pb.ModelInferRequest(model_name=fields.pop("model_name", "cancer"), **fields)

    def tensor(message: Any, shape: list[int], datatype: str = "FP64") -> Any:
        return message.inputs.add(name="x", datatype=datatype, shape=shape)

    unknown = request(model_name="nope")
    tensor(unknown, [1, 30]).contents.fp64_contents.extend(matrix[0].tolist())
    error = _bad(address, unknown)
    assert error.code() == grpc.StatusCode.NOT_FOUND and "nope" in str(error.details())
    pinned = request(model_version="7")
    tensor(pinned, [1, 30]).contents.fp64_contents.extend(matrix[0].tolist())
    assert _bad(address, pinned).code() == grpc.StatusCode.NOT_FOUND
    short = request()
    tensor(short, [2, 30]).contents.fp64_contents.extend(matrix[0].tolist())
    error = _bad(address, short)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs[0] (x): shape [2, 30] needs 60 values, data has 30" in str(error.details())
    raw = request(raw_input_contents=[matrix[0].tobytes(), b"extra"])
    tensor(raw, [1, 30])
    assert "2 entries for 1 inputs" in str(_bad(address, raw).details())
    cut = request(raw_input_contents=[matrix[0].tobytes()[:-8]])
    tensor(cut, [1, 30])
    assert "take 240 bytes" in str(_bad(address, cut).details())
    half = request()
    tensor(half, [1], "FP16")
    assert "only as raw_input_contents" in str(_bad(address, half).details())
    text = request()
    tensor(text, [1], "BYTES").contents.bytes_contents.append(b"\xff\xfe")
    assert "UTF-8" in str(_bad(address, text).details())
    odd = request()
    tensor(odd, [1], "COMPLEX")
    assert "unknown datatype 'COMPLEX'" in str(_bad(address, odd).details())
    wrong = request()
    for name in names:
        wrong.inputs.add(name=name, datatype="BYTES", shape=[1]).contents.bytes_contents.append(
            b"many"
        )
    error = _bad(address, wrong)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and names[0] in str(error.details())
    huge = request(raw_input_contents=[b"\0" * (11 * 2**20)])
    tensor(huge, [11 * 2**17])
    assert _bad(address, huge).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    good = request(id="after-all-that")
    tensor(good, [2, 30]).contents.fp64_contents.extend(matrix.ravel().tolist())
    assert _call(address, good).id == "after-all-that"
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'protocol="grpc",status="404"' in metrics and 'protocol="grpc",status="400"' in metrics


def test_grpc_answers_are_captured(served: tuple[Server, str], trained: Path) -> None:
    server, address = served
    matrix, _ = _matrix(trained, 3)
    message = pb.ModelInferRequest(model_name="cancer", id="captured-grpc")
    message.inputs.add(name="x", datatype="FP64", shape=[3, 30]).contents.fp64_contents.extend(
        matrix.ravel().tolist()
    )
    assert _call(address, message).id == "captured-grpc"
    assert server.stop() == 0  # flushes the capture buffer
    with Project.open(trained) as project:
        from sqlalchemy import select

        from shipline.store.tables import captures

        with project.db().read() as conn:
            digests = conn.execute(select(captures.c.digest)).scalars().all()
        frames = [pd.read_parquet(io.BytesIO(project.store().read_bytes(d))) for d in digests]
    rows = pd.concat(frames)
    assert (rows["request_id"] == "captured-grpc").sum() == 3
