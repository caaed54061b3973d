"""A registered version loaded for scoring: verified bytes, one predict path for all callers."""

from __future__ import annotations

__all__ = ["LoadedModel", "Prediction", "load_version"]

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipline.artifacts import ContentStore
from shipline.registry import ModelVersion
from shipline.scoring.signature import coerce_columns
from shipline.training.bundle import ModelBundle, load_bundle


@dataclass(frozen=True)
class Prediction:
    """Predictions for a frame, and class probabilities when asked for."""

    values: list[Any]
    probabilities: list[list[float]] | None
    classes: list[Any] | None


@dataclass(frozen=True)
class LoadedModel:
    """A version in memory. Batch scoring and every protocol of the server use ``predict``."""

    name: str
    version: int
    digest: str
    bundle: ModelBundle
    form: str = "native"

    @property
    def input_names(self) -> list[str]:
        """The signature's input columns, in order."""
        return [c["name"] for c in self.bundle.signature["inputs"]]

    def frame(self, columns: dict[str, Any], rows: int) -> pd.DataFrame:
        """Check request columns against the signature and build the model's input."""
        return coerce_columns(columns, self.bundle.signature, rows)

    def predict(self, frame: pd.DataFrame, probabilities: bool = False) -> Prediction:
        """Labels (classification) or values (regression) for every row."""
        model = self.bundle.model
        values = np.asarray(model.predict(frame))
        proba = None
        classes = None
        if probabilities and hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(frame)).round(10).tolist()
            classes = [
                c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])
            ]
        return Prediction(values.tolist(), proba, classes)


def load_version(store: ContentStore, version: ModelVersion) -> LoadedModel:
    """Load a version after verifying its bundle against the registered digest."""
    return LoadedModel(
        version.name,
        version.version,
        version.bundle_digest,
        load_bundle(store, version.bundle_digest),
    )
