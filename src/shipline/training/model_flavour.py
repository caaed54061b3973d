"""What a model flavour is: the plug-in point for the kinds of fitted model shipline trains,
stores, serves and converts.

A flavour recognises its fitted models, predicts with them (labels or values, and class
probabilities), offers the scikit-learn estimator view evaluation uses (``predict``,
``predict_proba``, ``classes_``), serialises them and, where it can, converts them to ONNX.
shipline's own flavour is ``sklearn`` (any object speaking scikit-learn's estimator API, in
``shipline.training.sklearn_flavour``); add one with ``MODEL_FLAVOURS.register(...)`` or an
entry point in the ``shipline.model_flavours`` group.
"""

from __future__ import annotations

__all__ = ["GENERIC_FLAVOUR", "MODEL_FLAVOURS", "ModelFlavour", "flavour_for"]

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from shipline.plugin import PluginRegistry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# Any object with predict() speaks scikit-learn's API: that flavour is chosen only when no
# other flavour claims a model.
GENERIC_FLAVOUR = "sklearn"


class ModelFlavour(Protocol):
    """How one kind of fitted model is used by shipline."""

    @property
    def name(self) -> str:
        """The name stored with every bundle of this flavour."""
        ...

    def accepts(self, model: object) -> bool:
        """True when ``model`` is a fitted model of this flavour."""
        ...

    def predict(
        self, model: Any, frame: pd.DataFrame, probabilities: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels or values per row, and class probabilities when asked for and offered."""
        ...

    def classes(self, model: Any) -> list[Any] | None:
        """The class labels, in the order of the probability columns (None: regression)."""
        ...

    def estimator(self, model: Any) -> Any:
        """The model as a scikit-learn estimator (``predict``, ``predict_proba``, ``classes_``)."""
        ...

    def to_onnx(self, model: Any, inputs: Sequence[str], task: str) -> bytes:
        """ONNX bytes with one float input per name; NotImplementedError saying why not."""
        ...

    def dump(self, model: Any) -> bytes:
        """The model's bytes."""
        ...

    def load(self, data: bytes) -> Any:
        """The model from bytes ``dump`` wrote (loaded only after digest verification)."""
        ...


MODEL_FLAVOURS: PluginRegistry[ModelFlavour] = PluginRegistry(
    "shipline.model_flavours",
    "model flavour",
    {GENERIC_FLAVOUR: "shipline.training.sklearn_flavour:SKLEARN"},
)


def flavour_for(model: object) -> ModelFlavour | None:
    """The flavour that claims ``model``: a specific one before the generic one, or None."""
    claiming = [f for f in MODEL_FLAVOURS if f.accepts(model)]
    claiming.sort(key=lambda flavour: flavour.name == GENERIC_FLAVOUR)
    return claiming[0] if claiming else None
