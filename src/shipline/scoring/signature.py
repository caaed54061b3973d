"""Checking request data against a version's signature and turning it into model input."""

from __future__ import annotations

__all__ = [
    "InputPlan",
    "SchemaError",
    "check_ids",
    "coerce_arrays",
    "coerce_columns",
    "input_plan",
    "take_ids",
]

from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from shipline.errors import ShiplineError
from shipline.numeric_columns import NumericColumns
from shipline.registry.version_details import Signature, SignatureColumn

_NUMERIC = ("int", "float", "uint")


class SchemaError(ShiplineError):
    """Request data does not match the model's signature (HTTP 422)."""

    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


def coerce_columns(
    columns: dict[str, Any], signature: Signature | dict[str, Any], rows: int
) -> pd.DataFrame:
    """A frame with exactly the signature's columns, in order, each of the training dtype."""
    return pd.DataFrame(coerce_arrays(columns, signature, rows))


@dataclass(frozen=True)
class InputPlan:
    """What checking a request against a signature needs, worked out once per signature (a
    served model checks every request against the same one)."""

    expected: tuple[tuple[str, str], ...]
    formats: dict[str, str]
    names: tuple[str, ...]
    name_set: frozenset[str]
    all_numeric: bool


def input_plan(signature: Signature | dict[str, Any]) -> InputPlan:
    """The plan for ``signature`` (typed, or as stored)."""
    inputs = (
        signature.inputs
        if isinstance(signature, Signature)
        else [SignatureColumn.model_validate(c) for c in signature["inputs"]]
    )
    expected = tuple((c.name, c.dtype) for c in inputs)
    names = tuple(name for name, _ in expected)
    return InputPlan(
        expected,
        {c.name: c.format for c in inputs if c.format},
        names,
        frozenset(names),
        all(dtype.startswith(_NUMERIC) for _, dtype in expected),
    )


def coerce_arrays(
    columns: dict[str, Any], signature: Signature | dict[str, Any] | InputPlan, rows: int
) -> dict[str, Any]:
    """The signature's columns, in order: float arrays for numbers, lists for text and bools.

    Numbers may arrive as JSON numbers or numeric strings; null is a missing value (the model's
    imputer handles it); infinities are refused. (A loaded model passes its plan, worked out
    once; a stored signature is read here.)
    """
    plan = signature if isinstance(signature, InputPlan) else input_plan(signature)
    if (
        isinstance(columns, NumericColumns)
        and tuple(columns) == plan.names
        and plan.all_numeric
        and not np.isinf(columns.matrix).any()
    ):
        return columns  # read as the signature's numbers already (the payload parser)
    if plan.all_numeric and columns.keys() == plan.name_set:
        fast = _all_numeric(plan.names, columns, rows)
        if fast is not None:
            return fast
    missing = [name for name in plan.names if name not in columns]
    if missing:
        raise SchemaError(
            missing[0], f"missing input column (expected columns: {', '.join(plan.names)})"
        )
    extra = [name for name in columns if name not in plan.name_set]
    if extra:
        raise SchemaError(extra[0], "unknown input column; the model does not take it")
    data: dict[str, Any] = {}
    for name, dtype in plan.expected:
        values = columns[name]
        if len(values) != rows:
            raise SchemaError(name, f"has {len(values)} values, expected {rows} (one per row)")
        if dtype.startswith(_NUMERIC):
            data[name] = _numeric(name, values)
        elif dtype.startswith("datetime64"):
            data[name] = _datetimes(name, values, dtype, plan.formats.get(name))
        else:
            data[name] = _text(name, values, dtype)
    return data


def check_ids(name: str, values: Any, rows: int) -> list[Any]:
    """The id column's values as sent (echoed back as they are): one per row, each text, a
    number or null; anything else (lists, objects) would poison the captured column."""
    found = list(values)
    if len(found) != rows:
        raise SchemaError(name, f"has {len(found)} values, expected {rows}")
    for row, value in enumerate(found):
        if value is not None and not isinstance(value, (str, int, float, np.number)):
            raise SchemaError(name, f"row {row}: expected text or a number, found {value!r}"[:300])
    return found


def take_ids(columns: dict[str, Any], id_column: str | None, rows: int) -> dict[str, list[Any]]:
    """Remove the id column from a request's columns: ``{name: values}`` when sent, else {}."""
    if id_column is None or id_column not in columns:
        return {}
    return {id_column: check_ids(id_column, columns.pop(id_column), rows)}


def _datetimes(name: str, values: Any, dtype: str, text_format: str | None) -> Any:
    """Dates and times as the training dtype: datetime values as they are, text in the format
    the training data was written in (``text_format``), else ISO 8601; null is missing."""
    import datetime as dt

    texts: list[Any] = []
    for row, value in enumerate(values):
        if isinstance(value, str):
            texts.append(value.strip())
        elif value is None or isinstance(value, (dt.date, pd.Timestamp, np.datetime64)):
            texts.append(value)
        elif isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            # a number is seconds since the epoch (how monitoring and Unix clocks write time)
            seconds = float(value)
            texts.append(None if np.isnan(seconds) else pd.Timestamp(seconds, unit="s", tz="UTC"))
        else:
            raise SchemaError(name, f"row {row}: expected a date or time, found {value!r}")
    # The training data's own text format first, then ISO 8601 (unambiguous) for any client.
    tried = [text_format, "ISO8601"] if text_format else ["ISO8601"]
    stamps = None
    for expected in tried:
        try:
            stamps = pd.to_datetime(pd.Series(texts, dtype=object), utc=True, format=expected)
            break
        except (ValueError, TypeError, OverflowError):
            continue
    if stamps is None:
        row, value = _first_unparsed(texts, tried[-1])
        shown = f"{text_format} or ISO 8601" if text_format else "ISO 8601"
        raise SchemaError(name, f"row {row}: expected a date or time ({shown}), found {value!r}")
    return stamps if "," in dtype else stamps.dt.tz_localize(None)  # "," = time-zone aware


def _first_unparsed(values: Any, expected: str) -> tuple[int, Any]:
    for row, value in enumerate(values):
        try:
            pd.to_datetime(pd.Series([value], dtype=object), utc=True, format=expected)
        except (ValueError, TypeError, OverflowError):
            return row, value
    return 0, values


def _all_numeric(
    names: tuple[str, ...], columns: dict[str, Any], rows: int
) -> dict[str, Any] | None:
    """All columns in one conversion; None when anything is off (the column-by-column path
    then finds it and names the column and row)."""
    values = [columns[name] for name in names]
    # Lists and arrays only (a string would be read a character at a time), each one value a row.
    if not set(map(type, values)) <= _SEQUENCES or set(map(len, values)) != {rows}:
        return None
    try:  # one pass over the values, no nested-sequence discovery (np.asarray's cost)
        flat = np.fromiter(chain.from_iterable(values), np.float64, count=len(names) * rows)
    except (TypeError, ValueError):
        return None
    matrix = flat.reshape(len(names), rows)
    if np.isinf(matrix).any():
        return None
    return dict(zip(names, matrix, strict=True))


_SEQUENCES = frozenset({list, np.ndarray})


def _numeric(name: str, values: Any) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        row, value = _first_bad(values)
        raise SchemaError(name, f"row {row}: expected a number, found {value!r}") from None
    if array.ndim != 1:
        raise SchemaError(
            name, f"expected one value per row, found nested values of shape {array.shape}"
        )
    infinite = np.isinf(array)
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise SchemaError(name, f"row {row}: infinite values are not allowed")
    return array


def _first_bad(values: Any) -> tuple[int, Any]:
    for row, value in enumerate(values):
        try:
            float(value if value is not None else "nan")
        except (TypeError, ValueError):
            return row, value
    return 0, values


def _text(name: str, values: Any, dtype: str) -> list[Any]:
    if dtype == "bool":
        for row, value in enumerate(values):
            if value is not None and not isinstance(value, bool):
                raise SchemaError(name, f"row {row}: expected true or false, found {value!r}")
        return list(values)
    out = []
    for row, value in enumerate(values):
        if value is None or isinstance(value, str):
            out.append(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(str(value))
        else:
            raise SchemaError(name, f"row {row}: expected text, found {value!r}")
    return out
