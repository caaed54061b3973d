"""The binary tensor extension: every datatype read as the protocol lays it out, and every
size mistake refused naming the input."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from shipline.scoring import PayloadError
from shipline.server.binary_tensors import BinaryData, encode_outputs, split_body, wants_binary


def _texts(*values: bytes) -> bytes:
    return b"".join(struct.pack("<I", len(v)) + v for v in values)


def test_fixed_width_and_text_tensors_are_read_in_order() -> None:
    data = (
        np.array([1.5, -2.0], "<f2").tobytes()
        + np.array([True, False, True], "?").tobytes()
        + np.array([7, -8], "<i8").tobytes()
        + _texts("café".encode(), b"")
    )
    reader = BinaryData(memoryview(data))
    assert reader.tensor("a", "FP16", 4, 2).tolist() == [1.5, -2.0]
    assert reader.tensor("b", "BOOL", 3, 3).tolist() == [True, False, True]
    assert reader.tensor("c", "INT64", 16, 2).tolist() == [7, -8]
    assert reader.tensor("d", "BYTES", 4 + 5 + 4, 2) == ["café", ""]
    reader.check_consumed()


@pytest.mark.parametrize(
    ("data", "datatype", "size", "count", "message"),
    [
        (b"\0" * 8, "FP64", 8, 2, "take 16 bytes"),
        (b"\0" * 8, "FP64", 9, 1, "goes past the end"),
        (b"\0" * 8, "FP64", True, 1, "whole number of bytes"),
        (b"\1\0", "BYTES", 2, 1, "its length is cut off"),
        (struct.pack("<I", 9) + b"abc", "BYTES", 7, 1, "9 bytes go past the tensor"),
        (_texts(b"\xff"), "BYTES", 5, 1, "not UTF-8 text"),
        (_texts(b"a") + b"zz", "BYTES", 7, 1, "2 bytes after the 1 elements"),
    ],
)
def test_sizes_that_disagree_with_the_tensor_are_refused(
    data: bytes, datatype: str, size: object, count: int, message: str
) -> None:
    with pytest.raises(PayloadError, match=message) as caught:
        BinaryData(memoryview(data)).tensor("inputs[0] (x)", datatype, size, count)
    assert "inputs[0] (x)" in str(caught.value)


def test_the_header_length_splits_the_body_and_leftovers_are_refused() -> None:
    text, binary = split_body(b'{"a": 1}' + b"\0" * 8, "8")
    assert text == b'{"a": 1}' and binary is not None
    with pytest.raises(PayloadError, match="8 bytes of binary data"):
        binary.check_consumed()
    assert split_body(b"{}", None) == (b"{}", None)
    for bad in ("x", "-1", "3"):
        with pytest.raises(PayloadError, match="Inference-Header-Content-Length"):
            split_body(b"{}", bad)


def test_answers_carry_the_chosen_outputs_as_bytes_after_the_json() -> None:
    answer = {
        "id": "1",
        "outputs": [
            {"name": "predictions", "shape": [2], "datatype": "INT64", "data": [1, 0]},
            {"name": "probabilities", "shape": [2, 2], "datatype": "FP64",
             "data": [0.25, 0.75, 0.5, 0.5]},
            {"name": "sample_id", "shape": [2], "datatype": "BYTES", "data": ["x", "yz"]},
        ],
    }  # fmt: skip
    body, length = encode_outputs(answer, frozenset({"predictions", "sample_id"}))
    header = orjson.loads(body[:length])
    by_name = {o["name"]: o for o in header["outputs"]}
    assert "data" not in by_name["predictions"] and by_name["probabilities"]["data"]
    tail = body[length:]
    assert by_name["predictions"]["parameters"]["binary_data_size"] == 16
    assert np.frombuffer(tail[:16], "<i8").tolist() == [1, 0]
    assert tail[16:] == _texts(b"x", b"yz")
    assert wants_binary({"parameters": {"binary_data_output": True}}) == frozenset({"*"})
    named = {"outputs": [{"name": "p", "parameters": {"binary_data": True}}]}
    assert wants_binary(named) == frozenset({"p"})
    assert wants_binary({"outputs": [{"name": "p"}]}) is None
