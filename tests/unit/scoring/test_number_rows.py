"""Requests of numbers only are read in one pass into one matrix, with the same values and the
same errors as the column-by-column path."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import orjson
import pytest

from shipline.numeric_columns import NumericColumns
from shipline.scoring import PayloadError, SchemaError
from shipline.scoring.loaded_model import LoadedModel
from shipline.scoring.payload import parse_invocations
from shipline.scoring.signature import coerce_arrays, input_plan

NAMES = ["a", "b", "c"]
PLAN = input_plan({"inputs": [{"name": n, "dtype": "float64"} for n in NAMES], "output": {}})


def _read(document: dict[str, Any], numeric: bool) -> tuple[Any, dict[str, Any]]:
    batch = parse_invocations(orjson.dumps(document), "application/json", NAMES, 32, 1000, numeric)
    return batch.columns, coerce_arrays(batch.columns, PLAN, batch.rows)


@pytest.mark.parametrize(
    "document",
    [
        {"instances": [[1, 2.5, -3], [4e300, 0, True]]},
        {"instances": [[1, None, 3]]},  # missing: NaN, as the column path reads it
        {"inputs": [[0.1, 0.2, 0.3]]},
        {"dataframe_split": {"columns": NAMES, "data": [[1, "2.5", 3], [7, 8, 9]]}},
    ],
)
def test_rows_of_numbers_become_one_matrix_with_the_column_paths_values(
    document: dict[str, Any],
) -> None:
    columns, checked = _read(document, numeric=True)
    assert isinstance(columns, NumericColumns) and checked is columns
    _, by_column = _read(document, numeric=False)
    assert list(checked) == list(by_column) == NAMES
    for name in NAMES:
        assert checked[name].dtype == by_column[name].dtype == np.float64
        assert np.array_equal(checked[name], by_column[name], equal_nan=True), name


@pytest.mark.parametrize(
    "document",
    [
        {"instances": [[1, "x", 3]]},  # text: the column path names it
        {"instances": [[1, [2], 3]]},
        {"dataframe_split": {"columns": ["b", "a", "c"], "data": [[1, 2, 3]]}},  # reordered
    ],
)
def test_anything_else_is_read_column_by_column(document: dict[str, Any]) -> None:
    batch = parse_invocations(orjson.dumps(document), "application/json", NAMES, 32, 1000, True)
    assert not isinstance(batch.columns, NumericColumns)
    outcomes = []
    for numeric in (True, False):
        try:
            outcomes.append(repr({k: list(v) for k, v in _read(document, numeric)[1].items()}))
        except SchemaError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]


def test_an_infinity_is_refused_naming_its_column_and_row() -> None:
    columns = NumericColumns(np.array([[1.0, 2.0, 3.0], [4.0, np.inf, 6.0]]), NAMES)
    with pytest.raises(SchemaError, match=r"\bb\b.*row 1"):
        coerce_arrays(columns, PLAN, 2)


def test_a_row_of_the_wrong_width_is_refused_before_any_matrix() -> None:
    with pytest.raises(PayloadError, match="row 1 has 2 values, expected 3"):
        _read({"instances": [[1, 2, 3], [4, 5]]}, numeric=True)


def test_numeric_columns_are_read_only_views_that_survive_pickling_and_batching() -> None:
    first = NumericColumns(np.arange(6, dtype=np.float64).reshape(2, 3), NAMES)
    second = NumericColumns(np.arange(6, 9, dtype=np.float64).reshape(1, 3), NAMES)
    assert first["b"].tolist() == [1.0, 4.0]
    with pytest.raises(TypeError, match="read-only"):
        first["a"] = np.zeros(2)
    with pytest.raises(TypeError, match="read-only"):
        first.pop("a")
    again = pickle.loads(pickle.dumps(first))
    assert isinstance(again, NumericColumns) and np.array_equal(again.matrix, first.matrix)
    batch = LoadedModel.concat([first, second])
    assert isinstance(batch, NumericColumns)
    assert batch["c"].tolist() == [2.0, 5.0, 8.0]
    mixed = LoadedModel.concat([first, {n: np.array([9.0]) for n in NAMES}])
    assert not isinstance(mixed, NumericColumns) and mixed["a"].tolist() == [0.0, 3.0, 9.0]
    with pytest.raises(ValueError, match="does not hold 2 columns"):
        NumericColumns(np.zeros((2, 3)), ["a", "b"])


def test_columns_not_yet_read_copy_and_convert_with_their_values() -> None:
    import pandas as pd

    matrix = np.arange(6, dtype=np.float64).reshape(2, 3)
    expected = {"a": [0.0, 3.0], "b": [1.0, 4.0], "c": [2.0, 5.0]}
    # Each conversion on a fresh instance, so none of them sees views made by another.
    conversions = {
        "dict": dict,
        "unpacked": lambda c: {**c},
        "copy": lambda c: c.copy(),
        "items": lambda c: dict(c.items()),
        "values": lambda c: dict(zip(c.keys(), c.values(), strict=True)),
        "get": lambda c: {n: c.get(n) for n in c},
        "dataframe": lambda c: {n: v.to_numpy() for n, v in pd.DataFrame(c).items()},
        "pickle": lambda c: dict(pickle.loads(pickle.dumps(c))),
    }
    for how, convert in conversions.items():
        columns = NumericColumns(matrix, NAMES)
        assert len(columns) == 3 and "b" in columns and columns.rows == 2, how
        got = {name: np.asarray(values).tolist() for name, values in convert(columns).items()}
        assert got == expected, how
    # Joined into a batch, counted and checked, a request's columns make no views of their own.
    requests: list[dict[str, Any]] = [
        NumericColumns(matrix, NAMES),
        NumericColumns(matrix[:1], NAMES),
    ]
    batch = LoadedModel.concat(requests)
    assert [LoadedModel.rows(r) for r in requests] == [2, 1] and batch["a"].tolist() == [0, 3, 0]
    assert coerce_arrays(requests[0], PLAN, 2) is requests[0]
    assert all(value is None for request in requests for value in dict.values(request))
    assert "array([1., 4.])" in repr(NumericColumns(matrix, NAMES))
    assert NumericColumns(matrix, NAMES).get("absent", "default") == "default"
