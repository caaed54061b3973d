"""``SHIPLINE_REQUIRE_SIGNED=1``: a serving source that loads a version only when its signature
holds for the team's public key, so an unsigned or altered version is never served (a server
already serving keeps its current version when the alias moves to one that fails)."""

from __future__ import annotations

__all__ = ["SignedOnly"]

from dataclasses import dataclass
from pathlib import Path

from shipline.artifacts import BlobReader
from shipline.registry import ModelVersion
from shipline.registry.rollout_observation import RolloutObservation
from shipline.registry.version_signing import verify_version
from shipline.scoring.loaded_model import LoadedModel
from shipline.scoring.serving_source import RolloutView, ServingSource


@dataclass(frozen=True)
class SignedOnly:
    """``inner``, refusing to load versions whose signature does not hold for ``public_key``."""

    inner: ServingSource
    public_key: Path

    def holder(self, name: str, alias: str) -> ModelVersion:
        """The version ``name@alias`` points at now."""
        return self.inner.holder(name, alias)

    def load(self, version: ModelVersion, prefer_onnx: bool) -> LoadedModel:
        """The version's model, once its signature is checked (SignatureError otherwise)."""
        verify_version(self.inner.blobs(version), version, self.public_key)
        return self.inner.load(version, prefer_onnx)

    def blobs(self, version: ModelVersion) -> BlobReader:
        """The version's files, once its signature is checked."""
        verify_version(self.inner.blobs(version), version, self.public_key)
        return self.inner.blobs(version)

    def rollout(self, name: str, alias: str) -> RolloutView | None:
        """The inner source's rollout (its candidate is loaded through ``load``, checked)."""
        return self.inner.rollout(name, alias)

    def write_observations(self, observations: list[RolloutObservation]) -> None:
        """Reports go where the inner source sends them."""
        self.inner.write_observations(observations)

    def write_capture(self, model: str, version: int, parquet: bytes) -> None:
        """Captures go where the inner source sends them."""
        self.inner.write_capture(model, version, parquet)
