"""Where a prediction server gets its models and sends what it captured: the database and
store directly, or (remote mode) the team server's API with a service token."""

from __future__ import annotations

__all__ = ["LocalServingSource", "RolloutView", "ServingSource"]

from dataclasses import dataclass
from typing import Protocol

from shipline.artifacts import BlobReader, ContentStore
from shipline.registry import ModelVersion, resolve_model_version
from shipline.registry.rollout_observation import RolloutObservation
from shipline.scoring.capture import CaptureSink, StoreCaptureSink
from shipline.scoring.loaded_model import LoadedModel, load_version
from shipline.store import Database


@dataclass(frozen=True)
class RolloutView:
    """What a prediction server needs of an alias's running rollout."""

    id: int
    candidate: ModelVersion
    phase: str  # "shadow": mirrored, never returned; "canary": answers its share
    share: float


class ServingSource(CaptureSink, Protocol):
    """What the prediction service reads and writes outside itself."""

    def holder(self, name: str, alias: str) -> ModelVersion:
        """The version ``name@alias`` points at now."""
        ...

    def load(self, version: ModelVersion, prefer_onnx: bool) -> LoadedModel:
        """The version's model, its bytes verified against the registered digests."""
        ...

    def blobs(self, version: ModelVersion) -> BlobReader:
        """The version's files, each verified against its digest when read."""
        ...

    def rollout(self, name: str, alias: str) -> RolloutView | None:
        """The alias's running or paused rollout, if any."""
        ...

    def write_observations(self, observations: list[RolloutObservation]) -> None:
        """Report what this server saw of each rollout version's traffic."""
        ...


@dataclass(frozen=True)
class LocalServingSource:
    """Models from the database and content store this process opened itself."""

    db: Database
    store: ContentStore

    def holder(self, name: str, alias: str) -> ModelVersion:
        """The version ``name@alias`` points at now."""
        with self.db.read() as conn:
            return resolve_model_version(conn, f"{name}@{alias}")

    def load(self, version: ModelVersion, prefer_onnx: bool) -> LoadedModel:
        """The version's model, loaded from the store."""
        return load_version(self.store, version, prefer_onnx)

    def blobs(self, version: ModelVersion) -> BlobReader:
        """The content store (it verifies what it reads)."""
        return self.store

    def rollout(self, name: str, alias: str) -> RolloutView | None:
        """The alias's active rollout, with its candidate version."""
        from shipline.registry.rollout import active_rollout

        with self.db.read() as conn:
            found = active_rollout(conn, name, alias)
            if found is None:
                return None
            candidate = resolve_model_version(conn, f"{name}:{found.candidate}")
        return RolloutView(found.id, candidate, found.phase, found.share)

    def write_observations(self, observations: list[RolloutObservation]) -> None:
        """Store the reports in the database."""
        from shipline.registry.rollout_observation import record_observations

        record_observations(self.db, observations, "shipline-server")

    def write_capture(self, model: str, version: int, parquet: bytes) -> None:
        """Store the partition, then index it."""
        StoreCaptureSink(self.db, self.store).write_capture(model, version, parquet)
