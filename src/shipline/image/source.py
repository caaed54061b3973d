"""A shipline image's model: the version baked into ``/opt/shipline/model``, every file checked
against its digest (and its signature when signatures are required) before it is served.

Captured requests go to the team server when the container is given ``SHIPLINE_URL`` and a
token, else to Parquet files under ``$SHIPLINE_HOME/captures`` (a volume).
"""

from __future__ import annotations

__all__ = ["FolderCaptureSink", "ImageSource", "check_image"]

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shipline.artifacts.local_file import write_atomically
from shipline.errors import NotFoundError, UsageError
from shipline.image.context import VERIFY_KEY_NAME
from shipline.image.manifest import BlobFolder, ImageManifest, read_manifest
from shipline.registry import ModelVersion
from shipline.registry.rollout_observation import RolloutObservation
from shipline.registry.version_signing import verify_version
from shipline.scoring.capture import CaptureSink
from shipline.scoring.loaded_model import LoadedModel, load_version
from shipline.scoring.serving_source import RolloutView


@dataclass(frozen=True)
class FolderCaptureSink:
    """Captured partitions as Parquet files under ``folder/MODEL/vN/``, written whole."""

    folder: Path

    def write_capture(self, model: str, version: int, parquet: bytes) -> None:
        """Write one partition: temp file, fsync, rename."""
        target = self.folder / model / f"v{version}"
        target.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        write_atomically(target / f"{stamp}-{uuid.uuid4().hex[:12]}.parquet", parquet)


@dataclass(frozen=True)
class ImageSource:
    """The image's one version, whatever alias is asked for; captures to ``captures``."""

    folder: Path
    manifest: ImageManifest
    captures: CaptureSink

    def holder(self, name: str, alias: str) -> ModelVersion:
        """The baked version, when ``name`` is its model."""
        version = self.manifest.model_version()
        if name != version.name:
            raise NotFoundError(f"this image serves {version.name}, not {name}")
        return version

    def load(self, version: ModelVersion, prefer_onnx: bool) -> LoadedModel:
        """The version's model from the image's files, each checked against its digest."""
        return load_version(self.blobs(version), version, prefer_onnx)

    def blobs(self, version: ModelVersion) -> BlobFolder:
        """The image's files."""
        return BlobFolder(self.folder)

    def rollout(self, name: str, alias: str) -> RolloutView | None:
        """An image serves its one version: no rollout."""
        return None

    def write_observations(self, observations: list[RolloutObservation]) -> None:
        """An image takes part in no rollout: nothing to report."""

    def write_capture(self, model: str, version: int, parquet: bytes) -> None:
        """Captures go to the configured sink."""
        self.captures.write_capture(model, version, parquet)


def check_image(folder: Path, require_signed: bool, public_key: Path | None) -> ImageManifest:
    """Read every file the manifest lists and check it against its digest; with
    ``require_signed``, check the version's signature with ``public_key`` (else the key the
    image was built with). Raises naming the first file or signature that fails."""
    manifest = read_manifest(folder)
    version = manifest.model_version()
    blobs = BlobFolder(folder)
    if manifest.files.get("bundle") != version.bundle_digest:
        raise UsageError(
            f"{folder / 'image.json'}: files.bundle does not name the version's bundle "
            f"(blake3:{version.bundle_digest})"
        )
    for digest in manifest.files.values():
        blobs.read_bytes(digest)
    if require_signed:
        key = public_key or folder / VERIFY_KEY_NAME
        if not key.exists():
            raise UsageError(
                "SHIPLINE_REQUIRE_SIGNED=1 but no public key: set SHIPLINE_VERIFY_KEY or build "
                "the image with signatures required"
            )
        verify_version(blobs, version, key)
    return manifest
