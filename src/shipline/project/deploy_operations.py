"""What a project renders to run on Kubernetes (a part of ``Project``)."""

from __future__ import annotations

__all__ = ["DeployOperations", "ImageChoices"]

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shipline.errors import UsageError

if TYPE_CHECKING:
    from shipline.config.schema import ServingConfig
    from shipline.deploy.kubernetes_manifests import RenderOptions, Workload
    from shipline.image.builder import BuiltImage
    from shipline.image.context import ImageRequest
    from shipline.registry import ModelVersion
    from shipline.scoring.serving_source import ServingSource
    from shipline.settings import Settings


class _Opened(Protocol):
    def version(self, ref: str) -> ModelVersion:
        """A version by reference."""
        ...


class _Shipping(_Opened, Protocol):
    @property
    def settings(self) -> Settings:
        """Resolved settings."""
        ...

    def model_source(self) -> ServingSource:
        """Models, verified, signatures checked when required."""
        ...

    def serving_config(self) -> ServingConfig:
        """shipline.yaml's serving section."""
        ...

    def verify_key(self, given: Path | None = None) -> Path:
        """The team's public key."""
        ...


@dataclass(frozen=True)
class ImageChoices:
    """How ``shipline build`` builds: base image, tag, builder, constraints."""

    base: str = "docker.io/library/python:3.11-slim-bookworm"
    tag: str | None = None
    builder: str | None = None
    constraints: Path | None = None


class DeployOperations:
    """Kubernetes manifests for a project's workloads."""

    def kubernetes_manifests(
        self: _Opened, workload: Workload, options: RenderOptions
    ) -> list[dict[str, Any]]:
        """The workload's manifests; a prediction server's alias must point at a version."""
        from shipline.deploy.kubernetes_manifests import render

        _require_version(self, workload)
        return render(workload, options)

    def write_kustomize(
        self: _Opened, workload: Workload, options: RenderOptions, folder: Path
    ) -> list[Path]:
        """``base/`` and ``overlays/{staging,production}/`` under ``folder``; the files written."""
        from shipline.artifacts.local_file import write_atomically
        from shipline.deploy.kubernetes_manifests import kustomize_tree

        _require_version(self, workload)
        written = []
        for relative, text in kustomize_tree(workload, options).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, text.encode())
            written.append(path)
        return written

    def kserve_manifests(
        self: _Opened, workload: Workload, options: RenderOptions, image: str | None
    ) -> list[dict[str, Any]]:
        """A KServe InferenceService for a prediction server's alias, running ``image`` (by
        default the tag ``shipline build`` gives the version the alias points at)."""
        from dataclasses import replace

        from shipline.deploy.kserve import kserve_manifests

        if workload.kind != "serving":
            raise UsageError("--kserve renders a prediction server: give NAME@ALIAS")
        version = self.version(f"{workload.model}@{workload.alias}")
        return kserve_manifests(workload, replace(options, image=image or _default_tag(version)))

    def dask_cluster_manifest(
        self, options: RenderOptions, workers: int, worker_memory: str
    ) -> dict[str, Any]:
        """A DaskCluster resource for the Dask operator, shipline's image on every pod."""
        from shipline.config.compute import parse_bytes
        from shipline.deploy.dask_cluster import dask_cluster

        try:
            parse_bytes(worker_memory)
        except ValueError as error:
            raise UsageError(f"--worker-memory: {error}") from None
        return dask_cluster(options, workers, worker_memory)

    def write_image_context(
        self: _Shipping, reference: str, choices: ImageChoices, folder: Path
    ) -> str:
        """Write the build context of ``NAME@ALIAS`` into the empty or new ``folder`` (for a
        build elsewhere), whole or not at all; the tag it would be built as."""
        import shutil
        import tempfile

        from shipline.image.context import write_context

        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise UsageError(f"--context {folder}: expected a new or empty folder")
        if not folder.parent.is_dir():
            raise UsageError(f"--context {folder}: folder {folder.parent} does not exist")
        version, request = _image_request(self, reference, choices)
        # Written beside the target and renamed into place once complete.
        scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            write_context(scratch / "context", request, self.model_source().blobs(version))
            if folder.exists():
                folder.rmdir()
            (scratch / "context").rename(folder)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return choices.tag or _default_tag(version)

    def build_image(self: _Shipping, reference: str, choices: ImageChoices) -> BuiltImage:
        """Build an image serving the version behind ``NAME@ALIAS``."""
        import tempfile

        from shipline.image.builder import build_image, choose_builder
        from shipline.image.context import write_context

        builder = choose_builder(choices.builder)
        version, request = _image_request(self, reference, choices)
        with tempfile.TemporaryDirectory(prefix="shipline-build-") as scratch:
            context = Path(scratch) / "context"
            write_context(context, request, self.model_source().blobs(version))
            return build_image(builder, context, choices.tag or _default_tag(version))


def _image_request(
    project: _Shipping, reference: str, choices: ImageChoices
) -> tuple[ModelVersion, ImageRequest]:
    """The version behind ``NAME@ALIAS`` and what to build of it; signatures checked first
    when required."""
    from shipline.image.context import ImageRequest
    from shipline.image.wheelhouse import installed_constraints
    from shipline.registry.version_signing import public_key_file, verify_version
    from shipline.types import parse_reference

    parsed = parse_reference(reference, "model")
    if parsed is None or parsed.alias is None:
        raise UsageError(f"expected NAME@ALIAS such as churn@production, got {reference!r}")
    version = project.version(reference)
    settings = project.settings
    public_key = None
    if settings.require_signed:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="shipline-key-") as scratch:
            key = public_key_file(project.verify_key(), Path(scratch))
            verify_version(project.model_source().blobs(version), version, key)
            public_key = key.read_bytes()
    constraints = choices.constraints or _project_constraints(settings.project_dir)
    try:
        pins = constraints.read_text() if constraints else installed_constraints()
    except OSError as error:
        raise UsageError(f"--constraints {constraints}: {error.strerror}") from None
    request = ImageRequest(
        version=version,
        alias=parsed.alias,
        base=choices.base,
        serving=project.serving_config().model_dump(mode="json"),
        constraints=pins,
        require_signed=settings.require_signed,
        public_key=public_key,
    )
    return version, request


def _project_constraints(folder: Path) -> Path | None:
    """The project's ``constraints.txt`` beside shipline.yaml, if it has one."""
    candidate = folder / "constraints.txt"
    return candidate if candidate.is_file() else None


def _default_tag(version: ModelVersion) -> str:
    """``shipline-NAME:vN``, a valid image reference for any model name."""
    import re

    name = re.sub(r"[^a-z0-9._-]+", "-", version.name.lower()).strip("-._") or "model"
    return f"shipline-{name}:v{version.version}"


def _require_version(project: _Opened, workload: Workload) -> None:
    """A prediction server's alias must point at a version (NotFoundError naming it)."""
    if workload.kind == "serving":
        project.version(f"{workload.model}@{workload.alias}")
