"""Request bodies of the protocols shipline serves, parsed into columns with clear errors.

MLflow / SageMaker ``/invocations``: JSON with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (plus optional ``params``), or a CSV body.
(The V2 protocol's tensors are parsed with the rest of that protocol, in
``shipline.server.v2_protocol``.)
"""

from __future__ import annotations

__all__ = ["Batch", "PayloadError", "load_json_body", "parse_invocations"]

import io
from collections.abc import Mapping
from itertools import chain
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import orjson

from shipline.errors import ShiplineError
from shipline.numeric_columns import NumericColumns

_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_ALLOWED_KEYS = frozenset((*_KEYS, "params"))


class PayloadError(ShiplineError):
    """The request cannot be read (HTTP ``status``: 400, 413 or 415)."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


class Batch(NamedTuple):
    """Columns by name, the row count, and request options.

    A named tuple, not a frozen dataclass: one is made per request, and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) cost 0.8 µs against 0.2.
    """

    columns: dict[str, Any]
    rows: int
    params: Mapping[str, Any] = MappingProxyType({})
    request_id: str | None = None
    outputs: tuple[str, ...] = ()
    # Outputs to answer as raw bytes (the V2 binary tensor extension; "*" for all), else None.
    binary_outputs: frozenset[str] | None = None


def load_json_body(body: bytes, max_depth: int) -> Any:
    """A JSON body, refused when it is not JSON or nested deeper than ``max_depth``."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise PayloadError(f"body is not valid JSON: {error}") from None
    # Each level of nesting opens with a bracket: a body with no more brackets than the limit
    # (most bodies) cannot be too deep, and the walk is skipped.
    if body.count(b"[") + body.count(b"{") > max_depth:
        _check_depth(document, max_depth)
    return document


def _check_depth(document: Any, max_depth: int) -> None:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise PayloadError(f"JSON is nested deeper than {max_depth} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, (dict, list)))
        elif isinstance(value, list) and value and isinstance(value[0], (dict, list)):
            stack.extend((v, depth + 1) for v in value if isinstance(v, (dict, list)))


def parse_invocations(
    body: bytes,
    content_type: str,
    names: list[str],
    max_depth: int,
    max_rows: int,
    numeric: bool = False,
) -> Batch:
    """Columns from an ``/invocations`` body; ``names`` are the signature's input columns.

    With ``numeric`` (every input a number, no id column), rows of numbers in the signature's
    order are read in one pass into one matrix (``NumericColumns``); anything else is read
    column by column, and the signature check that follows names what is wrong.
    """
    kind, _, parameters = content_type.partition(";")
    kind = kind.strip().lower()
    parameter = parameters.strip().lower().replace(" ", "")
    if parameter and parameter not in ("charset=utf-8",):
        raise PayloadError(f"unsupported Content-Type parameter {parameters.strip()!r}", 415)
    if kind == "text/csv":
        lines = body.count(b"\n") + (0 if body.endswith(b"\n") else 1)
        if b'"' not in body and lines - 1 > max_rows:  # over the limit: refused unparsed
            raise PayloadError(f"{lines - 1} rows in one request; the limit is {max_rows}", 413)
        batch = _from_csv(body)
    elif kind == "application/json":
        batch = _from_json(load_json_body(body, max_depth), names, numeric)
    else:
        raise PayloadError(
            f"unsupported Content-Type {kind or '(none)'!r}; use application/json or text/csv", 415
        )
    if batch.rows > max_rows:
        raise PayloadError(f"{batch.rows} rows in one request; the limit is {max_rows}", 413)
    return batch


def _from_json(document: Any, names: list[str], numeric: bool = False) -> Batch:
    if not isinstance(document, dict):
        raise PayloadError(f"expected a JSON object with one of {', '.join(_KEYS)}")
    if not _ALLOWED_KEYS.issuperset(document):
        unknown = next(k for k in document if k not in _ALLOWED_KEYS)
        raise PayloadError(
            f"unknown key {unknown!r}; expected one of {', '.join(_KEYS)} (and params)"
        )
    present = [k for k in _KEYS if k in document]
    if len(present) != 1:
        raise PayloadError(f"expected exactly one of {', '.join(_KEYS)}, found {present or 'none'}")
    params = document.get("params") or {}
    if not isinstance(params, dict):
        raise PayloadError("params must be an object")
    key, value = present[0], document[present[0]]
    if key == "dataframe_split":
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("columns"), list)
            or not isinstance(value.get("data"), list)
        ):
            raise PayloadError(
                "dataframe_split needs 'columns' (a list of names) and 'data' (a list of rows)"
            )
        numbers = names if numeric else None
        return _from_rows(value["data"], value["columns"], params, key, numbers)
    if key == "dataframe_records" or (key == "instances" and value and isinstance(value[0], dict)):
        return _from_records(value, params, key)
    if key == "inputs" and isinstance(value, dict):
        lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
        if -1 in lengths or len(lengths) > 1:
            raise PayloadError("inputs as an object needs a list of equal length for each column")
        return Batch(dict(value), lengths.pop() if lengths else 0, params)
    return _from_rows(value, names, params, key, names if numeric else None)


def _from_rows(
    rows: Any,
    columns: list[Any],
    params: dict[str, Any],
    key: str,
    numeric_names: list[str] | None = None,
) -> Batch:
    """Rows of values in the order of ``columns``; read as one matrix when ``columns`` are
    ``numeric_names`` (the signature's, all numbers) and every value converts."""
    if not isinstance(rows, list):
        raise PayloadError(f"{key}: expected a list of rows")
    width = len(columns)
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            found = len(row) if isinstance(row, list) else type(row).__name__
            raise PayloadError(
                f"{key}: row {index} has {found} values, expected {width} "
                f"({', '.join(map(str, columns))})"
            )
    if rows and columns == numeric_names:
        matrix = _number_matrix(rows, width)
        if matrix is not None:
            return Batch(NumericColumns(matrix, columns), len(rows), params)
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return Batch(
        {str(name): list(values) for name, values in zip(columns, transposed, strict=True)},
        len(rows),
        params,
    )


def _number_matrix(rows: list[list[Any]], width: int) -> Any:
    """The rows as one float64 matrix when every value converts as the signature check would
    convert it (``np.fromiter``, one pass, no transposition), else None."""
    try:
        flat = np.fromiter(chain.from_iterable(rows), np.float64, count=len(rows) * width)
    except (TypeError, ValueError, OverflowError):
        return None
    return flat.reshape(len(rows), width)


def _from_records(records: Any, params: dict[str, Any], key: str) -> Batch:
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise PayloadError(f"{key}: expected a list of objects (one per row)")
    names: list[str] = []
    for record in records:
        names.extend(k for k in record if k not in names)
    columns = {name: [record.get(name) for record in records] for name in names}
    return Batch(columns, len(records), params)


def _from_csv(body: bytes) -> Batch:
    import pyarrow as pa
    from pyarrow import csv

    try:
        table = csv.read_csv(io.BytesIO(body))
    except pa.ArrowInvalid as error:
        raise PayloadError(f"CSV body cannot be read: {str(error).splitlines()[0]}") from None
    return Batch(
        {name: table.column(name).to_pylist() for name in table.column_names}, table.num_rows
    )
