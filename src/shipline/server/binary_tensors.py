"""The binary tensor extension of the Open Inference Protocol's REST API (KServe, Triton).

A request with an ``Inference-Header-Content-Length: N`` header carries N bytes of JSON, then
the raw data of every input whose ``parameters`` give a ``binary_data_size`` (and no
``data``), back to back in input order: little-endian, row-major; a ``BYTES`` element is a
4-byte little-endian length and that many bytes; ``BOOL`` one byte. An answer carries outputs
the same way when the request asks (``parameters.binary_data_output`` for all, or
``parameters.binary_data`` on one requested output), with the JSON's length in the same
header. Every size is checked against the tensor's shape and datatype, and bytes left over
are an error.
"""

from __future__ import annotations

__all__ = [
    "HEADER_LENGTH",
    "BinaryData",
    "encode_outputs",
    "encode_tensor",
    "split_body",
    "wants_binary",
]

import struct
from typing import Any

import numpy as np
import orjson

from shipline.scoring import PayloadError

HEADER_LENGTH = "inference-header-content-length"

_FIXED = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, BinaryData | None]:
    """The JSON part of a body and its binary part (None without the extension's header)."""
    if header_length is None:
        return body, None
    if not header_length.isdigit() or int(header_length) > len(body):
        raise PayloadError(
            f"Inference-Header-Content-Length: expected the JSON's length in bytes, at most the "
            f"body's {len(body)}, got {header_length[:40]!r}"
        )
    size = int(header_length)
    return body[:size], BinaryData(memoryview(body)[size:])


class BinaryData:
    """The binary part of a request, read input by input."""

    def __init__(self, data: memoryview) -> None:
        self.data, self.position = data, 0

    def tensor(self, where: str, datatype: str, size: Any, count: int) -> Any:
        """The next ``size`` bytes as ``count`` values of ``datatype``: an array, or a list of
        text for BYTES."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise PayloadError(f"{where}: binary_data_size must be a whole number of bytes")
        if self.position + size > len(self.data):
            raise PayloadError(
                f"{where}: binary_data_size {size} goes past the end of the body "
                f"({len(self.data) - self.position} bytes left)"
            )
        chunk = self.data[self.position : self.position + size]
        self.position += size
        if datatype == "BYTES":
            return _texts(where, chunk, count)
        dtype = np.dtype(_FIXED[datatype])
        if size != count * dtype.itemsize:
            raise PayloadError(
                f"{where}: {count} {datatype} values take {count * dtype.itemsize} bytes, "
                f"binary_data_size is {size}"
            )
        return np.frombuffer(chunk, dtype).astype(dtype.newbyteorder("="), copy=True)

    def check_consumed(self) -> None:
        """Refuse bytes that no input claimed."""
        left = len(self.data) - self.position
        if left:
            raise PayloadError(f"{left} bytes of binary data after the last binary input")


def _texts(where: str, chunk: memoryview, count: int) -> list[str]:
    values, position = [], 0
    for index in range(count):
        if position + 4 > len(chunk):
            raise PayloadError(f"{where}: element {index}: its length is cut off")
        (length,) = _LENGTH.unpack_from(chunk, position)
        position += 4
        if position + length > len(chunk):
            raise PayloadError(f"{where}: element {index}: {length} bytes go past the tensor")
        try:
            values.append(bytes(chunk[position : position + length]).decode())
        except UnicodeDecodeError:
            raise PayloadError(f"{where}: element {index}: not UTF-8 text") from None
        position += length
    if position != len(chunk):
        raise PayloadError(f"{where}: {len(chunk) - position} bytes after the {count} elements")
    return values


def wants_binary(document: dict[str, Any]) -> frozenset[str] | None:
    """The outputs to send as binary data: every output (None means none), or those named."""
    parameters = document.get("parameters")
    if isinstance(parameters, dict) and parameters.get("binary_data_output") is True:
        return frozenset({"*"})
    named = {
        str(o.get("name"))
        for o in document.get("outputs") or []
        if isinstance(o, dict)
        and isinstance(o.get("parameters"), dict)
        and o["parameters"].get("binary_data") is True
    }
    return frozenset(named) if named else None


def encode_outputs(answer: dict[str, Any], binary: frozenset[str]) -> tuple[bytes, int]:
    """The answer with the chosen outputs' data moved after the JSON: the body and the
    JSON's length."""
    tails: list[bytes] = []
    outputs = []
    for output in answer["outputs"]:
        if "*" not in binary and output["name"] not in binary:
            outputs.append(output)
            continue
        data = encode_tensor(output["datatype"], output["data"])
        tails.append(data)
        rest = {k: v for k, v in output.items() if k != "data"}
        outputs.append({**rest, "parameters": {"binary_data_size": len(data)}})
    header = orjson.dumps({**answer, "outputs": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)
    return header + b"".join(tails), len(header)


def encode_tensor(datatype: str, values: list[Any]) -> bytes:
    """A tensor's values as the protocol's raw bytes (little-endian; BYTES length-prefixed)."""
    if datatype == "BYTES":
        parts = []
        for value in values:
            raw = str(value).encode()
            parts.append(_LENGTH.pack(len(raw)) + raw)
        return b"".join(parts)
    return np.asarray(values, dtype=_FIXED[datatype]).tobytes()
