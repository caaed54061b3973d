"""The ONNX form is kept only when it converts and predicts like the native model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from shipline.training.bundle import ModelBundle
from shipline.training.onnx_form import TOLERANCE, convert_to_onnx, open_onnx


def _bundle(estimator: object, frame: pd.DataFrame, y: np.ndarray) -> ModelBundle:
    imputer = Pipeline([("impute", SimpleImputer(strategy="median"))])
    features = ColumnTransformer([("numeric", imputer, list(frame.columns))])
    model = Pipeline([("features", features), ("model", estimator)]).fit(frame, y)
    signature = {"inputs": [{"name": c, "dtype": "float64"} for c in frame.columns], "output": {}}
    return ModelBundle(model, "classification", "y", tuple(frame.columns), signature)


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    x, y = make_classification(400, 6, random_state=0)
    return pd.DataFrame(x, columns=[f"feature {i}" for i in range(6)]), y


def test_a_random_forest_converts_and_matches() -> None:
    frame, y = _data()
    # An odd number of fully grown trees: no probability ties for float32 and float64 to
    # break differently.
    bundle = _bundle(RandomForestClassifier(21, random_state=0), frame, y)
    onnx_bytes, report = convert_to_onnx(bundle, frame.assign(y=y))
    assert onnx_bytes is not None and report["available"] is True
    assert report["labels_agree"] == 1.0 and report["max_probability_difference"] <= TOLERANCE
    with_missing = frame.head(5).copy()
    with_missing.iloc[0, 0] = np.nan  # the ONNX imputer fills it like the native one
    labels, probabilities = open_onnx(onnx_bytes, bundle).run(with_missing)
    assert list(labels) == list(bundle.model.predict(with_missing))
    assert probabilities is not None
    assert np.allclose(probabilities, bundle.model.predict_proba(with_missing), atol=TOLERANCE)


def test_the_examples_gradient_boosting_converts_and_matches() -> None:
    """The estimator `shipline init` writes (protobuf 7 made its conversion fail: a boolean
    where ONNX wants an int)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame, y = _data()
    bundle = _bundle(HistGradientBoostingClassifier(max_iter=50, random_state=0), frame, y)
    onnx_bytes, report = convert_to_onnx(bundle, frame.assign(y=y))
    assert report["available"] is True, report
    assert onnx_bytes is not None and report["labels_agree"] == 1.0
    assert report["max_probability_difference"] <= TOLERANCE


class _Custom(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    def fit(self, x: object, y: np.ndarray) -> _Custom:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: object) -> np.ndarray:
        return np.zeros(len(x), dtype=int)  # type: ignore[arg-type]

    def predict_proba(self, x: object) -> np.ndarray:
        return np.tile([1.0, 0.0], (len(x), 1))  # type: ignore[arg-type]


def test_a_form_that_disagrees_on_one_label_is_refused() -> None:
    """20 trees tie 10/10 on some rows; float32 ONNX and float64 break those ties differently."""
    frame, y = _data()
    bundle = _bundle(RandomForestClassifier(20, random_state=0), frame, y)
    onnx_bytes, report = convert_to_onnx(bundle, frame.assign(y=y))
    assert onnx_bytes is None and report["available"] is False
    assert report["labels_agree"] < 1.0 and report["max_probability_difference"] <= TOLERANCE
    assert "beyond the tolerance" in report["reason"]


def test_an_unconvertible_model_is_served_natively_with_the_reason() -> None:
    frame, y = _data()
    onnx_bytes, report = convert_to_onnx(_bundle(_Custom(), frame, y), frame.assign(y=y))
    assert onnx_bytes is None and report["available"] is False
    assert report["reason"].startswith("conversion failed")


def test_text_inputs_stay_native() -> None:
    frame, y = _data()
    bundle = _bundle(RandomForestClassifier(5, random_state=0), frame, y)
    signature = {
        **bundle.signature,
        "inputs": [*bundle.signature["inputs"][:-1], {"name": "feature 5", "dtype": "str"}],
    }
    text_bundle = ModelBundle(bundle.model, bundle.task, bundle.target, bundle.features, signature)
    onnx_bytes, report = convert_to_onnx(text_bundle, frame)
    assert onnx_bytes is None and "text inputs (feature 5)" in report["reason"]


def test_columns_of_one_matrix_predict_like_separate_columns() -> None:
    from shipline.numeric_columns import NumericColumns

    frame, y = _data()
    bundle = _bundle(RandomForestClassifier(21, random_state=0), frame, y)
    onnx_bytes, _ = convert_to_onnx(bundle, frame.assign(y=y))
    assert onnx_bytes is not None
    session = open_onnx(onnx_bytes, bundle)
    assert session.signature_names == list(frame.columns)  # so the matrix path is taken
    rows = frame.head(40).to_numpy().copy()
    rows[3, 2] = np.nan
    as_matrix = session.run(NumericColumns(rows, list(frame.columns)))
    as_columns = session.run({name: rows[:, i].copy() for i, name in enumerate(frame.columns)})
    assert list(as_matrix[0]) == list(as_columns[0])
    assert np.array_equal(as_matrix[1], as_columns[1])  # type: ignore[arg-type]
