"""Every model flavour (shipline's and one added by a test) passes the same checks, and one
added through the plug-in point alone is trained, registered, loaded and served."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from shipline.project import Project
from shipline.scoring.loaded_model import load_version
from shipline.training.model_flavour import MODEL_FLAVOURS, ModelFlavour, flavour_for
from tests.unit.pipeline.conftest import edit_config


@dataclass(frozen=True)
class CentroidModel:
    """A toy classifier with no scikit-learn API: the class of the nearest centroid."""

    features: tuple[str, ...]
    classes: tuple[Any, ...]
    centroids: tuple[tuple[float, ...], ...]
    scales: tuple[float, ...]

    @classmethod
    def fit(cls, x: pd.DataFrame, y: pd.Series) -> CentroidModel:
        classes = tuple(sorted(np.unique(y).tolist()))
        scales = tuple(float(s) or 1.0 for s in x.std())
        centroids = tuple(tuple(x[y == c].mean().tolist()) for c in classes)
        return cls(tuple(x.columns), classes, centroids, scales)

    def proba(self, frame: pd.DataFrame) -> np.ndarray:
        points = frame[list(self.features)].to_numpy(dtype=float) / np.asarray(self.scales)
        centres = np.asarray(self.centroids) / np.asarray(self.scales)
        distance = np.linalg.norm(points[:, None, :] - centres[None, :, :], axis=2)
        weights = np.exp(-(distance - distance.min(axis=1, keepdims=True)))
        shares: np.ndarray = weights / weights.sum(axis=1, keepdims=True)
        return shares


class _CentroidEstimator(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """The toy model as a fitted scikit-learn classifier (what permutation importance needs)."""

    def __init__(self, model: CentroidModel) -> None:
        self.model = model

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def fit(self, x: pd.DataFrame, y: pd.Series) -> _CentroidEstimator:
        self.model = CentroidModel.fit(x, y)
        return self

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.model.classes)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.proba(frame)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.classes_[np.argmax(self.model.proba(frame), axis=1)])


@dataclass(frozen=True)
class CentroidFlavour:
    """The toy flavour: JSON bytes, native serving only."""

    name: str = "centroid"

    def accepts(self, model: object) -> bool:
        return isinstance(model, CentroidModel)

    def predict(
        self, model: Any, frame: pd.DataFrame, probabilities: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        estimator = _CentroidEstimator(model)
        return estimator.predict(frame), estimator.predict_proba(frame) if probabilities else None

    def classes(self, model: Any) -> list[Any] | None:
        return list(model.classes)

    def estimator(self, model: Any) -> Any:
        return _CentroidEstimator(model)

    def to_onnx(self, model: Any, inputs: Sequence[str], task: str) -> bytes:
        raise NotImplementedError("centroid models are served natively")

    def dump(self, model: Any) -> bytes:
        return orjson.dumps(model.__dict__)

    def load(self, data: bytes) -> Any:
        fields = orjson.loads(data)
        return CentroidModel(
            tuple(fields["features"]),
            tuple(fields["classes"]),
            tuple(tuple(c) for c in fields["centroids"]),
            tuple(fields["scales"]),
        )


@pytest.fixture
def toy_flavour() -> Iterator[ModelFlavour]:
    flavour = MODEL_FLAVOURS.register(CentroidFlavour())
    yield flavour
    MODEL_FLAVOURS.unregister(flavour.name)


def _fitted_examples(flavour: ModelFlavour) -> tuple[Any, pd.DataFrame]:
    from sklearn.compose import make_column_transformer
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, target = load_iris(return_X_y=True, as_frame=True)
    if flavour.name == "centroid":
        return CentroidModel.fit(frame, target), frame
    # As shipline trains it: one input per column, joined by a column transformer.
    scaled = make_column_transformer((StandardScaler(), list(frame.columns)))
    return make_pipeline(scaled, LogisticRegression(max_iter=1000)).fit(frame, target), frame


def _conforms(flavour: ModelFlavour) -> None:
    assert MODEL_FLAVOURS.get(flavour.name) is flavour
    model, frame = _fitted_examples(flavour)
    assert flavour.accepts(model) and flavour_for(model) is flavour
    assert not flavour.accepts(object())
    labels, none = flavour.predict(model, frame, probabilities=False)
    assert none is None and len(labels) == len(frame)
    same, proba = flavour.predict(model, frame, probabilities=True)
    assert (np.asarray(same) == np.asarray(labels)).all()
    classes = flavour.classes(model)
    assert proba is not None and classes is not None and proba.shape == (len(frame), len(classes))
    assert np.allclose(proba.sum(axis=1), 1.0)
    estimator = flavour.estimator(model)
    assert (np.asarray(estimator.predict(frame)) == np.asarray(labels)).all()
    assert list(estimator.classes_) == classes
    restored = flavour.load(flavour.dump(model))
    assert (np.asarray(flavour.predict(restored, frame, False)[0]) == np.asarray(labels)).all()
    try:
        onnx = flavour.to_onnx(model, list(frame.columns), "classification")
    except NotImplementedError as why:
        onnx, reason = b"", str(why)
    else:
        reason = ""
    assert (onnx and not reason) or (reason and not onnx), "ONNX bytes, or why not"


@pytest.mark.parametrize("name", ["sklearn"])
def test_every_shipped_model_flavour_conforms(name: str) -> None:
    assert "sklearn" in MODEL_FLAVOURS.names()
    _conforms(MODEL_FLAVOURS.get(name))


def test_a_model_flavour_added_through_the_registry_alone_is_trained_and_served(
    toy_flavour: ModelFlavour, project: Project
) -> None:
    _conforms(toy_flavour)
    folder = project.settings.project_dir
    (folder / "train.py").write_text(
        "from tests.unit.pipeline.test_model_flavour_conformance import CentroidModel\n\n"
        "def train(frame, config):\n"
        "    x = frame.drop(columns=[config.data.target, config.data.id_column])\n"
        "    return CentroidModel.fit(x, frame[config.data.target])\n"
    )
    edit_config(
        project,
        "  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
        "  params: {max_iter: 200, learning_rate: 0.1}\n",
        "  entrypoint: train.py:train\n",
    )
    run = project.run()
    assert run.status == "succeeded", run
    name = project.config().name
    version = project.version(f"{name}:1")
    forms = version.details["serving_forms"]
    assert forms["onnx"] == {"available": False, "reason": "centroid models are served natively"}
    bundle = project.load_model(f"{name}:1")
    assert bundle.flavour == "centroid" and isinstance(bundle.model, CentroidModel)
    assert version.details["metrics"]["accuracy"] > 0.8
    loaded = load_version(project.store(), version)
    features = list(bundle.features)
    rows = pd.read_csv(folder / "data" / "breast_cancer.csv").head(5)
    served = loaded.predict(loaded.frame({c: rows[c].tolist() for c in features}, 5), True)
    expected = _CentroidEstimator(bundle.model).predict(rows[features])
    assert served.values == expected.tolist() and served.classes == list(bundle.model.classes)
