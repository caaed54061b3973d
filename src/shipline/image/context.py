"""A build context for one model version: the Containerfile, the wheels and the model folder.

Each of the version's files is read through a verifying reader (the content store, or the
team server's API) before it is written, so only bytes that match the registry go in; the
context can also be written for a build elsewhere (a CI job with its own builder) and the
image build checks the files again.
"""

from __future__ import annotations

__all__ = ["ImageRequest", "image_constraints", "image_labels", "write_context"]

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from shipline import __version__
from shipline.artifacts import BlobReader
from shipline.image.containerfile import ImageSpec, containerfile
from shipline.image.manifest import MANIFEST_NAME, ImageManifest
from shipline.image.wheelhouse import fill_wheelhouse
from shipline.registry import ModelVersion

VERIFY_KEY_NAME = "verify-key.pem"
# Libraries an estimator may come from beyond the core install, by the extra that brings them.
_EXTRA_FOR_LIBRARY = {"xgboost": "boosting", "lightgbm": "boosting"}


@dataclass(frozen=True)
class ImageRequest:
    """What to build: the version, the alias it was resolved from, and how."""

    version: ModelVersion
    alias: str
    base: str
    serving: dict[str, Any]
    constraints: str
    require_signed: bool = False
    public_key: bytes | None = None


def image_labels(version: ModelVersion, alias: str, base: str) -> dict[str, str]:
    """OCI annotations and shipline's own labels: model, version, digests, commit, config."""
    facts = version.facts
    lineage = facts.lineage
    labels = {
        "org.opencontainers.image.title": version.name,
        "org.opencontainers.image.version": str(version.version),
        "org.opencontainers.image.description": (
            f"shipline prediction server for {version.ref} ({version.name}@{alias})"
        ),
        "org.opencontainers.image.created": datetime.now(UTC).isoformat(timespec="seconds"),
        "org.opencontainers.image.base.name": base,
        "dev.shipline.model": version.name,
        "dev.shipline.version": str(version.version),
        "dev.shipline.alias": alias,
        "dev.shipline.bundle-digest": f"blake3:{version.bundle_digest}",
        "dev.shipline.shipline-version": __version__,
    }
    if lineage.git_commit:
        labels["org.opencontainers.image.revision"] = lineage.git_commit
        labels["dev.shipline.git-commit"] = lineage.git_commit
    if lineage.config_digest:
        labels["dev.shipline.config-digest"] = lineage.config_digest
    onnx = facts.serving_forms.onnx
    if onnx is not None and onnx.available and onnx.digest:
        labels["dev.shipline.onnx-digest"] = f"blake3:{onnx.digest}"
    if facts.signed is not None:
        labels["dev.shipline.signature-key"] = facts.signed.key_id
    return labels


def write_context(folder: Path, request: ImageRequest, blobs: BlobReader) -> ImageSpec:
    """Write the build context into the empty ``folder``; returns what the Containerfile says."""
    version = request.version
    files = _version_files(version)
    model = folder / "model"
    model.mkdir(parents=True)
    for digest in files.values():
        (model / digest).write_bytes(blobs.read_bytes(digest))
    if request.public_key is not None:
        (model / VERIFY_KEY_NAME).write_bytes(request.public_key)
    manifest = ImageManifest(
        alias=request.alias,
        version=ImageManifest.version_record(version),
        files=files,
        serving=request.serving,
        require_signed=request.require_signed,
        shipline=__version__,
    )
    (model / MANIFEST_NAME).write_bytes(
        orjson.dumps(manifest.model_dump(), option=orjson.OPT_INDENT_2)
    )
    constraints = image_constraints(request.constraints, version)
    wheels = fill_wheelhouse(folder / "wheels", _extras(version, request), constraints)
    spec = ImageSpec(
        base=request.base,
        python=wheels.python,
        shipline_wheel=wheels.shipline_wheel,
        extras=_extras(version, request),
        labels=image_labels(version, request.alias, request.base),
        require_signed=request.require_signed,
    )
    (folder / "Containerfile").write_text(containerfile(spec))
    return spec


def image_constraints(constraints: str, version: ModelVersion) -> str:
    """``constraints`` with the versions of the libraries that decide what the model computes
    (scikit-learn, numpy, …) replaced by those it was trained with: the image computes what the
    registry measured."""
    trained = {
        _normal(name): f"{name}=={number}"
        for name, number in version.facts.lineage.environment.packages.items()
        if _normal(name) != "shipline"
    }
    kept = []
    for line in constraints.splitlines():
        name = re.split(r"[\s<>=!~;\[@]", line.strip(), maxsplit=1)[0]
        if name and not name.startswith("#") and _normal(name) in trained:
            continue
        kept.append(line)
    return "\n".join([*kept, *sorted(trained.values())]) + "\n"


def _normal(name: str) -> str:
    """A distribution name as package indexes compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_files(version: ModelVersion) -> dict[str, str]:
    """The files the image carries, by role → digest: the bundle, the verified ONNX form, the
    signature."""
    facts = version.facts
    files = {"bundle": version.bundle_digest}
    onnx = facts.serving_forms.onnx
    if onnx is not None and onnx.available and onnx.digest:
        files["onnx"] = onnx.digest
    if facts.signed is not None:
        files["signature"] = facts.signed.digest
    return files


def _extras(version: ModelVersion, request: ImageRequest) -> tuple[str, ...]:
    """shipline's extras the image needs: the library the estimator comes from, and the
    signature checker when the version is signed or signatures are required."""
    library = (version.facts.estimator or "").partition(".")[0]
    extras = {_EXTRA_FOR_LIBRARY[library]} if library in _EXTRA_FOR_LIBRARY else set()
    if request.require_signed or version.facts.signed is not None:
        extras.add("signing")
    return tuple(sorted(extras))
