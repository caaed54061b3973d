"""Real container images for the tests: a small Debian base made once with mmdebstrap (no
image registry is reachable here) and kept in buildah's storage, and containers started from
an image's own entrypoint and command with ``buildah run`` (host network, chroot isolation)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BASE_TAG = "localhost/shipline-test-base:bookworm"
_PACKAGES = "python3,python3-venv,ca-certificates"


class ImageToolsMissingError(RuntimeError):
    """buildah or mmdebstrap is not installed."""


def buildah_env() -> dict[str, str]:
    """This environment with buildah isolating by chroot (works as root inside a VM or a
    container, where namespaces for runc may not be available)."""
    return {**os.environ, "BUILDAH_ISOLATION": "chroot"}


def buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run buildah."""
    return subprocess.run(
        ["buildah", *args], env=buildah_env(), capture_output=True, text=True, check=check
    )


def base_image() -> str:
    """The Debian bookworm base with Python 3.11 and venv, built once and kept."""
    for tool in ("buildah", "mmdebstrap"):
        if shutil.which(tool) is None:
            raise ImageToolsMissingError(f"{tool} is not installed")
    if buildah("inspect", "--type", "image", BASE_TAG, check=False).returncode == 0:
        return BASE_TAG
    with tempfile.TemporaryDirectory(prefix="shipline-base-") as scratch:
        tarball = Path(scratch) / "base.tar"
        subprocess.run(
            [
                "mmdebstrap", "--variant=minbase", f"--include={_PACKAGES}",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                "bookworm", str(tarball),
            ],
            check=True, capture_output=True,
        )  # fmt: skip
        container = buildah("from", "scratch").stdout.strip()
        try:
            buildah("add", container, str(tarball), "/")
            buildah("config", "--env", "PATH=/usr/local/bin:/usr/bin:/bin", container)
            buildah("commit", "--quiet", container, BASE_TAG)
        finally:
            buildah("rm", container, check=False)
    return BASE_TAG


def image_config(tag: str) -> dict[str, Any]:
    """The image's configuration (user, entrypoint, command, ports, labels, health check)."""
    found: dict[str, Any] = json.loads(buildah("inspect", "--type", "image", tag).stdout)
    config: dict[str, Any] = found["Docker"]["config"]
    return config


@dataclass
class Container:
    """A container running its image's entrypoint and command, on the host's network."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> int | None:
        """SIGTERM, then remove the working container; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code: int | None = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = None
        buildah("rm", self.name, check=False)
        return code


def start_container(
    tag: str, port: int, folder: Path, user: str | None = None, env: dict[str, str] | None = None
) -> Container:
    """Start ``tag``'s entrypoint and command (``serve``) listening on ``port``."""
    config = image_config(tag)
    name = f"shipline-test-{uuid.uuid4().hex[:10]}"
    buildah("from", "--name", name, tag)
    options = ["--env", f"SHIPLINE_PORT={port}"]
    for key, value in (env or {}).items():
        options += ["--env", f"{key}={value}"]
    if user is not None:
        options += ["--user", user]
    log = folder / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            ["buildah", "run", *options, name, "--", *config["Entrypoint"], *config["Cmd"]],
            env=buildah_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    return Container(name, process, f"http://127.0.0.1:{port}", log)


def wait_until_ready(container: Container, deadline_s: float = 120) -> None:
    """Wait until the container answers ``/ping`` (fails with its log if it exits)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if container.process.poll() is not None:
            raise AssertionError(f"container exited: {container.log.read_text()}")
        try:
            if httpx.get(f"{container.url}/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)  # poll interval
    raise AssertionError(f"container not ready: {container.log.read_text()}")
