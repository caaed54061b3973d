"""The ``sklearn`` flavour: any fitted object with scikit-learn's estimator API (scikit-learn
itself, and xgboost, lightgbm and bring-your-own models through their scikit-learn wrappers).

Serialised with joblib (pickle): scikit-learn pipelines have no safe, complete alternative
format, so bundles are only loaded after their bytes re-hash to the registered digest.
"""

from __future__ import annotations

__all__ = ["SKLEARN"]

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Classifiers whose predict() is the class of highest probability (numpy's argmax, first on
# ties): for them one predict_proba() gives both, which halves the model's work when the server
# captures probabilities for every request.
_ARGMAX_FAMILIES = (
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.naive_bayes",
    "sklearn.neighbors",
    "xgboost",
    "lightgbm",
)


@dataclass(frozen=True)
class _SklearnFlavour:
    name: str = "sklearn"

    def accepts(self, model: object) -> bool:
        return callable(getattr(model, "predict", None))

    def predict(
        self, model: Any, frame: pd.DataFrame, probabilities: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels (and class probabilities); a pipeline's preprocessing runs once for both."""
        if not probabilities or not hasattr(model, "predict_proba"):
            return np.asarray(model.predict(frame)), None
        steps = getattr(model, "steps", None)
        final, features = (steps[-1][1], model[:-1].transform(frame)) if steps else (model, frame)
        proba = np.asarray(final.predict_proba(features))
        classes = getattr(final, "classes_", None)
        if classes is not None and type(final).__module__.startswith(_ARGMAX_FAMILIES):
            return np.asarray(classes)[np.argmax(proba, axis=1)], proba
        return np.asarray(final.predict(features)), proba

    def classes(self, model: Any) -> list[Any] | None:
        found = getattr(model, "classes_", None)
        if found is None:
            return None
        return [c.item() if hasattr(c, "item") else c for c in found]

    def estimator(self, model: Any) -> Any:
        return model

    def to_onnx(self, model: Any, inputs: Sequence[str], task: str) -> bytes:
        try:
            from skl2onnx import to_onnx
            from skl2onnx.common.data_types import FloatTensorType
        except ImportError:
            raise NotImplementedError("skl2onnx is not installed") from None
        types = [(name, FloatTensorType([None, 1])) for name in inputs]
        options = {"zipmap": False} if task == "classification" else None
        converted: bytes = to_onnx(model, initial_types=types, options=options).SerializeToString()
        return converted

    def dump(self, model: Any) -> bytes:
        from shipline.training.bundle import canonical_dump

        return canonical_dump(model)

    def load(self, data: bytes) -> Any:
        import joblib

        return joblib.load(io.BytesIO(data))


SKLEARN = _SklearnFlavour()
