"""A registered version loaded for scoring: verified bytes, one predict path for all callers."""

from __future__ import annotations

__all__ = ["LoadedModel", "ModelInput", "Prediction", "load_version"]

from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeAlias, cast

import numpy as np
import pandas as pd

from shipline.artifacts import BlobReader
from shipline.numeric_columns import NumericColumns
from shipline.registry import ModelVersion
from shipline.registry.version_details import Signature
from shipline.scoring.signature import InputPlan, coerce_arrays, input_plan
from shipline.training.bundle import ModelBundle, load_bundle


@dataclass(frozen=True)
class Prediction:
    """Predictions for a frame, and class probabilities when asked for."""

    values: list[Any]
    probabilities: list[list[float]] | None
    classes: list[Any] | None


ModelInput: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class LoadedModel:
    """A version in memory. Batch scoring and every protocol of the server use ``predict``."""

    name: str
    version: int
    digest: str
    bundle: ModelBundle
    form: str = "native"
    onnx: Any = None

    @cached_property
    def signature(self) -> Signature:
        """The columns the version takes and what it returns, typed once per loaded model."""
        return Signature.model_validate(self.bundle.signature)

    @cached_property
    def input_names(self) -> list[str]:
        """The signature's input columns, in order."""
        return self.signature.input_names

    @cached_property
    def input_plan(self) -> InputPlan:
        """What checking a request against the signature needs, worked out once."""
        return input_plan(self.signature)

    @cached_property
    def classes(self) -> list[Any]:
        """The class labels in probability-column order (empty for regression)."""
        return self.bundle.classes or []

    @cached_property
    def reads_number_rows(self) -> bool:
        """Whether requests' rows may be read straight into one matrix (``NumericColumns``):
        every input is a number and no id column rides along."""
        return self.input_plan.all_numeric and self.signature.id_column is None

    def frame(self, columns: dict[str, Any], rows: int) -> ModelInput:
        """Check request columns against the signature: the model's input for those rows.

        Kept as one array (or list, for text) per column: requests are cheap to batch, and a
        native model gets its DataFrame once per batch.
        """
        return coerce_arrays(columns, self.input_plan, rows)

    @staticmethod
    def rows(inputs: ModelInput) -> int:
        """How many rows an input holds."""
        if isinstance(inputs, NumericColumns):
            return inputs.rows
        return len(next(iter(inputs.values()))) if inputs else 0

    @staticmethod
    def concat(parts: list[ModelInput]) -> ModelInput:
        """Several inputs as one batch."""
        if len(parts) == 1:
            return parts[0]
        first = parts[0]
        if isinstance(first, NumericColumns) and all(
            isinstance(p, NumericColumns) and p.keys() == first.keys() for p in parts
        ):
            return NumericColumns.joined(cast(list[NumericColumns], parts))
        return {name: np.concatenate([np.asarray(p[name]) for p in parts]) for name in first}

    def predict(self, inputs: ModelInput, probabilities: bool = False) -> Prediction:
        """Labels (classification) or values (regression) for every row, from either form."""
        proba: Any = None
        if self.onnx is not None:
            values, proba = self.onnx.run(inputs)
        else:
            values, proba = self.bundle.predict(pd.DataFrame(inputs), probabilities)
        if not probabilities or proba is None:
            return Prediction(np.asarray(values).tolist(), None, None)
        return Prediction(
            np.asarray(values).tolist(),
            np.asarray(proba).round(10).tolist(),
            self.classes,
        )


def load_version(store: BlobReader, version: ModelVersion, prefer_onnx: bool = True) -> LoadedModel:
    """Load a version after verifying its bundle (and ONNX form) against the registered digests.

    The ONNX form is used when it was verified at training time and onnxruntime is installed.
    """
    bundle = load_bundle(store, version.bundle_digest)
    onnx = version.facts.serving_forms.onnx
    if prefer_onnx and onnx is not None and onnx.available and onnx.digest:
        try:
            from shipline.training.onnx_form import open_onnx

            session = open_onnx(store.read_bytes(onnx.digest), bundle)
        except ImportError:
            session = None
        if session is not None:
            return LoadedModel(
                version.name, version.version, version.bundle_digest, bundle, "onnx", session
            )
    return LoadedModel(version.name, version.version, version.bundle_digest, bundle)
