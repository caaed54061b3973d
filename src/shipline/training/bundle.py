"""The model bundle: the fitted model and what it expects, as one stored object.

Serialisation is joblib (pickle), because scikit-learn pipelines and bring-your-own models
have no safe, complete alternative format. Pickle runs code when loaded, so shipline only
loads bundles that its own training step produced into the content store, and only after the
bytes re-hash to the digest registered for the version (``ContentStore.read_bytes``). Never
point shipline at a bundle from an untrusted source.
"""

from __future__ import annotations

__all__ = ["FORMAT", "ModelBundle", "load_bundle"]

import io
from dataclasses import dataclass
from typing import Any

from shipline.artifacts import ContentStore

FORMAT = "joblib (pickle), loaded only after digest verification"


@dataclass(frozen=True)
class ModelBundle:
    """A fitted model with its input columns and task."""

    model: Any
    task: str
    target: str
    features: tuple[str, ...]
    signature: dict[str, Any]

    def to_bytes(self) -> bytes:
        """Serialise with joblib."""
        import joblib

        buffer = io.BytesIO()
        joblib.dump(self, buffer)
        return buffer.getvalue()


def load_bundle(store: ContentStore, digest: str) -> ModelBundle:
    """Load a bundle after verifying its bytes against ``digest``."""
    import joblib

    bundle = joblib.load(io.BytesIO(store.read_bytes(digest)))
    if not isinstance(bundle, ModelBundle):
        raise TypeError(f"object blake3:{digest} is not a shipline model bundle")
    return bundle
