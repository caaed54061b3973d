"""A prediction server in remote mode: versions and their files through the team server's
API (each file verified against its digest here), captures sent to the server."""

from __future__ import annotations

__all__ = ["RemoteServingSource"]

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipline.project.api_client import ApiClient, segment

if TYPE_CHECKING:
    from shipline.registry import ModelVersion
    from shipline.registry.rollout_observation import RolloutObservation
    from shipline.scoring import LoadedModel
    from shipline.scoring.serving_source import RolloutView


@dataclass(frozen=True)
class _VersionFiles:
    """A version's files through the API, each verified against its digest here."""

    api: ApiClient
    ref: str

    def read_bytes(self, digest: str) -> bytes:
        """The file's bytes, refused unless they hash to ``digest``."""
        from shipline.artifacts import require_digest

        data = self.api.download(f"/versions/{segment(self.ref)}/blobs/{segment(digest)}")
        return require_digest(data, digest, f"{self.api.url} {self.ref}")


@dataclass(frozen=True)
class RemoteServingSource:
    """A prediction server's models and captures, through the team server."""

    api: ApiClient

    def holder(self, name: str, alias: str) -> ModelVersion:
        """The version ``name@alias`` points at now, as the server says."""
        from shipline.registry import ModelVersion

        return self.api.typed(ModelVersion, "GET", f"/versions/{segment(f'{name}@{alias}')}")

    def load(self, version: ModelVersion, prefer_onnx: bool) -> LoadedModel:
        """The version's model from files downloaded and verified here."""
        from shipline.scoring import load_version

        return load_version(self.blobs(version), version, prefer_onnx)

    def blobs(self, version: ModelVersion) -> _VersionFiles:
        """The version's files through the API, verified here."""
        return _VersionFiles(self.api, version.ref)

    def rollout(self, name: str, alias: str) -> RolloutView | None:
        """The alias's active rollout, as the server says (None when there is none)."""
        from shipline.scoring.serving_source import RolloutView

        path = f"/models/{segment(name)}/aliases/{segment(alias)}/rollout"
        found = self.api.typed(RolloutView | None, "GET", path)  # type: ignore[arg-type]
        return found if isinstance(found, RolloutView) else None

    def write_observations(self, observations: list[RolloutObservation]) -> None:
        """Send the reports to the team server."""
        import dataclasses

        body = [dataclasses.asdict(o) for o in observations]
        self.api.call("POST", "/rollouts/observations", json=body)

    def write_capture(self, model: str, version: int, parquet: bytes) -> None:
        """Send one partition; the server re-hashes, checks and indexes it."""
        params = {"model": model, "version": version}
        self.api.call("POST", "/captures", params=params, content=parquet)
