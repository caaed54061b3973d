"""A registered version sent to cluster workers: its verified files, loaded once per worker."""

from __future__ import annotations

__all__ = ["ShippedModel", "loaded_on_worker", "ship_version"]

from dataclasses import dataclass, field

from shipline.artifacts import BlobReader, require_digest
from shipline.registry import ModelVersion
from shipline.scoring.loaded_model import LoadedModel, load_version


@dataclass(frozen=True)
class ShippedModel:
    """A version and its verified files, sent once to each worker."""

    version: ModelVersion
    blobs: dict[str, bytes]
    prefer_onnx: bool = True

    def read_bytes(self, digest: str) -> bytes:
        """A file's bytes, checked again after the journey."""
        return require_digest(self.blobs[digest], digest, f"model sent to a worker ({digest[:12]})")


@dataclass
class _Recording:
    """A blob reader that keeps what it read (verified by the reader it wraps)."""

    inner: BlobReader
    seen: dict[str, bytes] = field(default_factory=dict)

    def read_bytes(self, digest: str) -> bytes:
        """Read through, and keep."""
        data = self.inner.read_bytes(digest)
        self.seen[digest] = data
        return data


def ship_version(
    reader: BlobReader, version: ModelVersion, prefer_onnx: bool = True
) -> tuple[LoadedModel, ShippedModel]:
    """Load a version here (verified) and keep the files it read, to send to workers."""
    recording = _Recording(reader)
    model = load_version(recording, version, prefer_onnx)
    return model, ShippedModel(version, recording.seen, prefer_onnx)


_LOADED: dict[tuple[str, bool], LoadedModel] = {}


def loaded_on_worker(model: ShippedModel) -> LoadedModel:
    """The model in this worker process, loaded once for all its tasks."""
    key = (model.version.bundle_digest, model.prefer_onnx)
    if key not in _LOADED:
        _LOADED.clear()  # one job's model at a time
        _LOADED[key] = load_version(model, model.version, model.prefer_onnx)
    return _LOADED[key]
