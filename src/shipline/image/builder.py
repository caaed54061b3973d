"""The tools that build an image from a context: docker, podman or buildah, whichever works here.

A new tool plugs in as one ``ImageBuilder`` in ``IMAGE_BUILDERS``. Each builds the same
Containerfile; podman and buildah are asked for the Docker image format, the one that keeps
the ``HEALTHCHECK`` (the OCI image format has no field for it). buildah reads its storage
driver and isolation from its own settings (``STORAGE_DRIVER``, ``BUILDAH_ISOLATION``).
"""

from __future__ import annotations

__all__ = ["IMAGE_BUILDERS", "BuiltImage", "ImageBuilder", "build_image", "choose_builder"]

import shutil
import subprocess
import sys
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shipline.errors import ShiplineError, UsageError


@dataclass(frozen=True)
class BuiltImage:
    """An image a builder made: which builder, its tag and its image ID."""

    builder: str
    tag: str
    image_id: str


class ImageBuilder(Protocol):
    """A tool that builds a Containerfile."""

    @property
    def name(self) -> str:
        """What users call it (``--builder``)."""
        ...

    def available(self) -> bool:
        """True when the tool is installed and can build here (a daemon answers, say)."""
        ...

    def command(self, context: Path, tag: str, iidfile: Path) -> list[str]:
        """The command that builds ``context/Containerfile`` as ``tag``, writing the ID."""
        ...


def _answers(*command: str) -> bool:
    """True when ``command`` runs and exits 0 within 20 seconds."""
    if shutil.which(command[0]) is None:
        return False
    try:
        done = subprocess.run(command, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class Docker:
    """``docker build`` (needs a running Docker engine, not only the client)."""

    name: str = "docker"

    def available(self) -> bool:
        """The client is installed and an engine answers."""
        return _answers("docker", "info")

    def command(self, context: Path, tag: str, iidfile: Path) -> list[str]:
        """``docker build``."""
        containerfile = str(context / "Containerfile")
        return [
            "docker",
            "build",
            "-f",
            containerfile,
            "-t",
            tag,
            "--iidfile",
            str(iidfile),
            str(context),
        ]


@dataclass(frozen=True)
class Podman:
    """``podman build``, Docker image format."""

    name: str = "podman"

    def available(self) -> bool:
        """podman is installed and works here."""
        return _answers("podman", "info")

    def command(self, context: Path, tag: str, iidfile: Path) -> list[str]:
        """``podman build --format docker``."""
        return [
            "podman", "build", "--format", "docker", "-f", str(context / "Containerfile"),
            "-t", tag, "--iidfile", str(iidfile), str(context),
        ]  # fmt: skip


@dataclass(frozen=True)
class Buildah:
    """``buildah bud``, Docker image format, intermediate layers cached."""

    name: str = "buildah"

    def available(self) -> bool:
        """buildah is installed (it needs no daemon)."""
        return _answers("buildah", "--version")

    def command(self, context: Path, tag: str, iidfile: Path) -> list[str]:
        """``buildah bud --format docker --layers``."""
        return [
            "buildah", "bud", "--format", "docker", "--layers",
            "-f", str(context / "Containerfile"), "-t", tag,
            "--iidfile", str(iidfile), str(context),
        ]  # fmt: skip


IMAGE_BUILDERS: dict[str, ImageBuilder] = {b.name: b for b in (Docker(), Podman(), Buildah())}


def choose_builder(name: str | None) -> ImageBuilder:
    """The builder named, or the first of docker, podman and buildah that works here."""
    if name is not None:
        builder = IMAGE_BUILDERS.get(name)
        if builder is None:
            known = ", ".join(IMAGE_BUILDERS)
            raise UsageError(f"--builder {name!r}: expected one of {known}")
        if not builder.available():
            raise UsageError(f"--builder {name}: {name} is not installed or cannot build here")
        return builder
    for builder in IMAGE_BUILDERS.values():
        if builder.available():
            return builder
    raise UsageError(
        "no image builder works here: install docker (with a running engine), podman or buildah"
    )


def build_image(builder: ImageBuilder, context: Path, tag: str) -> BuiltImage:
    """Build ``context`` with ``builder``, its output passed through to stderr as it comes;
    a failure names the builder and ends with the last lines it printed."""
    with tempfile.TemporaryDirectory(prefix="shipline-iid-") as scratch:
        iidfile = Path(scratch) / "iid"
        last: deque[str] = deque(maxlen=15)
        with subprocess.Popen(
            builder.command(context, tag, iidfile),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                sys.stderr.write(line)
                last.append(line.rstrip())
        if process.returncode != 0:
            shown = "\n".join(last)
            raise ShiplineError(f"{builder.name} failed to build {tag}:\n{shown}")
        image_id = iidfile.read_text().strip() if iidfile.exists() else ""
    return BuiltImage(builder.name, tag, image_id)
