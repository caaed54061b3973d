"""The model bundle: the fitted model and what it expects, as one stored object.

The envelope is joblib (pickle) holding the task, target, features, signature, the flavour's
name and the model's bytes as its flavour wrote them (bundles written before flavours existed
hold the scikit-learn model itself, and still load). Pickle runs code when loaded, so shipline
only loads bundles that its own training step produced into the content store, and only after
the bytes re-hash to the digest registered for the version (``ContentStore.read_bytes``). Never
point shipline at a bundle from an untrusted source.
"""

from __future__ import annotations

__all__ = ["FORMAT", "ModelBundle", "canonical_dump", "load_bundle"]

import io
import pickle
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from shipline.artifacts import BlobReader
from shipline.training.model_flavour import GENERIC_FLAVOUR, MODEL_FLAVOURS, ModelFlavour

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FORMAT = "joblib (pickle), loaded only after digest verification"


@dataclass(frozen=True)
class _SerialisedModel:
    """A model as its flavour's ``dump`` wrote it."""

    data: bytes


@dataclass(frozen=True)
class ModelBundle:
    """A fitted model with its input columns, task and flavour."""

    model: Any
    task: str
    target: str
    features: tuple[str, ...]
    signature: dict[str, Any]
    flavour: str = GENERIC_FLAVOUR

    @property
    def model_flavour(self) -> ModelFlavour:
        """The flavour that knows how to use the model."""
        return MODEL_FLAVOURS.get(self.flavour)

    def predict(
        self, frame: pd.DataFrame, probabilities: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels or values per row, and class probabilities when asked for and offered."""
        return self.model_flavour.predict(self.model, frame, probabilities)

    @property
    def classes(self) -> list[Any] | None:
        """The class labels in probability-column order (None for regression)."""
        return self.model_flavour.classes(self.model)

    @property
    def estimator(self) -> Any:
        """The model as a scikit-learn estimator, for evaluation and importance."""
        return self.model_flavour.estimator(self.model)

    def to_bytes(self) -> bytes:
        """The envelope with the model's bytes, serialised with joblib."""
        stored = replace(self, model=_SerialisedModel(self.model_flavour.dump(self.model)))
        return canonical_dump(stored)


def canonical_dump(value: Any) -> bytes:
    """Pickle bytes that depend on ``value``'s contents only, not on which of its parts are
    the same Python object; read back with ``joblib.load``.

    Pickle records shared objects once and refers back to them, so the same model fitted in
    two processes (here and on a Dask worker) pickles differently when, say, one string is
    shared in one and copied in the other. The pickler's fast mode records no sharing. The C
    pickler writes arrays in-band under protocol 5 (joblib's pure-Python pickler took ~10x as
    long for a gradient-boosted model). An object that refers to itself cannot be written
    that way and is written as joblib does.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=5)
    pickler.fast = True
    try:
        pickler.dump(value)
    except (RecursionError, ValueError):  # ValueError: a cycle, in the C pickler's fast mode
        import joblib

        buffer = io.BytesIO()
        joblib.dump(value, buffer)
    return buffer.getvalue()


def load_bundle(store: BlobReader, digest: str) -> ModelBundle:
    """Load a bundle after verifying its bytes against ``digest``."""
    import joblib

    bundle = joblib.load(io.BytesIO(store.read_bytes(digest)))
    if not isinstance(bundle, ModelBundle):
        raise TypeError(f"object blake3:{digest} is not a shipline model bundle")
    if isinstance(bundle.model, _SerialisedModel):
        return replace(bundle, model=bundle.model_flavour.load(bundle.model.data))
    return bundle
