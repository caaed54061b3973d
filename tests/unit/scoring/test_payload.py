"""Request bodies of every protocol, parsed or refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from shipline.scoring import PayloadError, SchemaError, coerce_columns, parse_invocations
from shipline.server.v2_protocol import parse_v2

NAMES = ["a", "b"]
SIGNATURE = {"inputs": [{"name": "a", "dtype": "float64"}, {"name": "b", "dtype": "str"}]}


def _inv(body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return parse_invocations(body, content_type, NAMES, max_depth=32, max_rows=100)


@pytest.mark.parametrize(
    "body",
    [
        b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}}',
        b'{"dataframe_records": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}',
        b'{"instances": [[1, "x"], [2, "y"]]}',
        b'{"instances": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}',
        b'{"inputs": {"a": [1, 2], "b": ["x", "y"]}}',
        b'{"inputs": [[1, "x"], [2, "y"]], "params": {"probabilities": true}}',
    ],
)
def test_every_mlflow_shape_gives_the_same_columns(body: bytes) -> None:
    batch = _inv(body)
    assert batch.rows == 2 and batch.columns == {"a": [1, 2], "b": ["x", "y"]}


def test_csv_body() -> None:
    batch = _inv(b"a,b\n1,x\n2,y\n", "text/csv; charset=utf-8")
    assert batch.rows == 2 and batch.columns["b"] == ["x", "y"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "text"),
    [
        (b"{}", "text/plain", 415, "unsupported Content-Type"),
        (b"{}", "application/json; format=pandas-split", 415, "parameter"),
        (b"[1]", "application/json", 400, "JSON object"),
        (b'{"instances": [[1, "x"]], "inputs": []}', "application/json", 400, "exactly one"),
        (b'{"instances": [[1]]}', "application/json", 400, "row 0 has 1 values, expected 2"),
        (b'{"dataframe_split": {"columns": ["a"]}}', "application/json", 400, "'columns'"),
        (b'{"inputs": {"a": [1], "b": [1, 2]}}', "application/json", 400, "equal length"),
        (
            b'{"instances": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}",
            "application/json",
            400,
            "nested deeper",
        ),
        (b"a,b\n1,2,3\n", "text/csv", 400, "CSV body"),
    ],
)
def test_unreadable_bodies(body: bytes, content_type: str, status: int, text: str) -> None:
    with pytest.raises(PayloadError, match=text) as caught:
        _inv(body, content_type)
    assert caught.value.status == status


def test_row_limit() -> None:
    body = b'{"instances": [' + b",".join([b'[1, "x"]'] * 101) + b"]}"
    with pytest.raises(PayloadError) as caught:
        _inv(body)
    assert caught.value.status == 413


def test_v2_named_and_matrix_tensors() -> None:
    named = parse_v2(
        b'{"id": "7", "inputs": [{"name": "a", "shape": [2], "datatype": "FP64", "data": [1, 2]},'
        b' {"name": "b", "shape": [2, 1], "datatype": "BYTES", "data": [["x"], ["y"]]}],'
        b' "outputs": [{"name": "probabilities"}]}',
        NAMES,
        32,
        100,
    )
    assert named.columns == {"a": [1, 2], "b": ["x", "y"]} and named.request_id == "7"
    assert named.outputs == ("probabilities",)
    matrix = parse_v2(
        b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "BYTES",'
        b' "data": [1, "x", 2, "y"]}]}',
        NAMES,
        32,
        100,
    )
    assert matrix.columns == {"a": [1, 2], "b": ["x", "y"]}


def test_coercion_names_the_column_and_row() -> None:
    frame = coerce_columns({"a": ["1.5", None], "b": ["x", None]}, SIGNATURE, 2)
    assert frame["a"].tolist()[0] == 1.5 and frame["a"].isna().tolist() == [False, True]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"a": [1]}, "b: missing input column"),
        ({"a": [1], "b": ["x"], "c": [0]}, "c: unknown input column"),
        ({"a": ["x"], "b": ["x"]}, "a: row 0: expected a number, found 'x'"),
        ({"a": [float("inf")], "b": ["x"]}, "a: row 0: infinite"),
        ({"a": [1], "b": [{"nested": 1}]}, "b: row 0: expected text"),
        ({"a": [1, 2], "b": ["x"]}, "b: has 1 values, expected 2"),
    ]
    for columns, text in cases:
        rows = 2 if text.startswith("b: has") else 1
        with pytest.raises(SchemaError, match=text):
            coerce_columns(columns, SIGNATURE, rows)


@pytest.mark.parametrize(
    "estimator",
    [
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "sklearn.ensemble.RandomForestClassifier",
        "sklearn.linear_model.LogisticRegression",
        "sklearn.calibration.CalibratedClassifierCV",
    ],
)
def test_labels_with_probabilities_are_the_labels_predict_gives(estimator: str) -> None:
    """One predict_proba gives the labels only for argmax classifiers; the others still call
    predict (a calibrated SVC's probabilities can disagree with its own decision)."""
    import importlib

    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shipline.training.sklearn_flavour import SKLEARN

    module, _, name = estimator.rpartition(".")
    factory = getattr(importlib.import_module(module), name)
    from sklearn.svm import SVC

    params = {"estimator": SVC(), "ensemble": False} if name == "CalibratedClassifierCV" else {}
    frame, target = load_breast_cancer(return_X_y=True, as_frame=True)
    model = make_pipeline(StandardScaler(), factory(**params)).fit(frame, target)
    labels, proba = SKLEARN.predict(model, frame, probabilities=True)
    assert (labels == model.predict(frame)).all()
    assert proba is not None and proba.shape == (len(frame), 2)


def test_depth_is_checked_exactly_at_the_limit_whatever_the_bracket_count() -> None:
    from shipline.scoring.payload import load_json_body

    def nested(depth: int) -> bytes:
        return b"[" * depth + b"1" + b"]" * depth

    assert load_json_body(nested(4), max_depth=4) == [[[[1]]]]
    with pytest.raises(PayloadError, match="nested deeper than 4 levels"):
        load_json_body(nested(5), max_depth=4)
    # Many brackets, all shallow: walked, and accepted.
    wide = b"[" + b",".join(b"[1]" for _ in range(50)) + b"]"
    assert len(load_json_body(wide, max_depth=4)) == 50
    # Brackets inside strings only make the walk run; they do not count as depth.
    assert load_json_body(b'{"a": "[[[[[[[["}', max_depth=2) == {"a": "[[[[[[[["}
