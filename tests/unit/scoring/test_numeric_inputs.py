"""All-numeric inputs take one conversion; anything off falls back to the path that names it."""

from __future__ import annotations

import numpy as np
import pytest

from shipline.scoring import SchemaError
from shipline.scoring.signature import coerce_arrays

SIGNATURE = {"inputs": [{"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "int64"}]}


def test_numbers_strings_booleans_and_nulls_convert_as_numpy_does() -> None:
    columns = {"a": [1.5, "2.5", None], "b": np.array([1, 2, 3])}
    converted = coerce_arrays(columns, SIGNATURE, 3)
    assert list(converted) == ["a", "b"]
    assert converted["a"].dtype == np.float64 and np.isnan(converted["a"][2])
    assert converted["a"][:2].tolist() == [1.5, 2.5]
    assert converted["b"].tolist() == [1.0, 2.0, 3.0]
    assert coerce_arrays({"a": [True], "b": [0]}, SIGNATURE, 1)["a"].tolist() == [1.0]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"a": [1.0, 2.0], "b": [1.0]}, r"b.*has 1 values, expected 2"),
        ({"a": ["x", 2.0], "b": [1.0, 2.0]}, r"a.*row 0: expected a number, found 'x'"),
        ({"a": [[1.0, 2.0], 3.0], "b": [1.0, 2.0]}, r"a"),
        ({"a": [1.0, float("inf")], "b": [1.0, 2.0]}, r"a.*row 1: infinite"),
    ],
)
def test_what_the_fast_path_cannot_take_is_named(
    columns: dict[str, list[object]], message: str
) -> None:
    with pytest.raises(SchemaError, match=message):
        coerce_arrays(columns, SIGNATURE, 2)
