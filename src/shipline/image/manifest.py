"""What a shipline image carries of its model: ``image.json`` and a folder of the version's
files named by BLAKE3 digest, every one checked when the image is built and again when it
starts (``shipline container check``).

The folder is the build context's ``model/`` and the image's ``/opt/shipline/model``.
"""

from __future__ import annotations

__all__ = [
    "IMAGE_MODEL_DIR",
    "MANIFEST_NAME",
    "BlobFolder",
    "ImageManifest",
    "read_manifest",
]

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from shipline.artifacts import require_digest
from shipline.errors import NotFoundError, UsageError
from shipline.registry import ModelVersion
from shipline.types import check_digest

IMAGE_MODEL_DIR = "/opt/shipline/model"
MANIFEST_NAME = "image.json"
_FORMAT = 1


class ImageManifest(BaseModel):
    """The version an image serves, the files it is made of and how it serves them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = _FORMAT
    alias: str
    version: dict[str, Any]
    files: dict[str, str]
    serving: dict[str, Any]
    require_signed: bool = False
    shipline: str

    def model_version(self) -> ModelVersion:
        """The version record, as the registry holds it."""
        fields = dict(self.version)
        fields["aliases"] = tuple(fields.get("aliases", ()))
        return ModelVersion(**fields)

    @staticmethod
    def version_record(version: ModelVersion) -> dict[str, Any]:
        """A version as ``image.json`` stores it."""
        return {
            "name": version.name,
            "version": version.version,
            "run_id": version.run_id,
            "bundle_digest": version.bundle_digest,
            "card_digest": version.card_digest,
            "details": version.details,
            "created_at": version.created_at,
            "created_by": version.created_by,
            "aliases": list(version.aliases),
        }


class BlobFolder:
    """A folder of files named by their BLAKE3 digest; every read is checked against it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, digest: str) -> Path:
        """Where the file for ``digest`` lies."""
        check_digest(digest)
        return self.folder / digest

    def read_bytes(self, digest: str) -> bytes:
        """The bytes of ``digest``, refused unless they hash to it."""
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{path}: the image's file blake3:{digest} is missing") from None
        return require_digest(data, digest, str(path))


def read_manifest(folder: Path) -> ImageManifest:
    """``folder/image.json``, checked; a clear error naming the file otherwise."""
    path = folder / MANIFEST_NAME
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            f"{path}: no image manifest (is this a shipline image? SHIPLINE_IMAGE_MODEL points "
            "at the model folder)"
        ) from None
    try:
        manifest = ImageManifest.model_validate_json(text)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise UsageError(f"{path}: {where}: {first['msg']}") from None
    if manifest.format != _FORMAT:
        raise UsageError(f"{path}: format {manifest.format}; this shipline reads {_FORMAT}")
    return manifest
