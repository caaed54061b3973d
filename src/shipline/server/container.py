"""What a shipline image runs: ``shipline container serve`` (SageMaker calls the image with
``serve``), ``check`` (at build) and ``health`` (the image's health check).

The served version is the one baked into the image; its files are checked against their
digests at every start (and its signature when ``SHIPLINE_REQUIRE_SIGNED=1``) before the port
opens. The port is 8080, or ``SAGEMAKER_BIND_TO_PORT`` / ``SHIPLINE_PORT`` when set; with
``SHIPLINE_GRPC_PORT`` the Open Inference Protocol is also served over gRPC on that port.
"""

from __future__ import annotations

__all__ = ["check", "health", "image_grpc_port", "image_port", "serve_image"]

import os
from collections.abc import Mapping
from pathlib import Path

from shipline.config.schema import ServingConfig
from shipline.deploy.kserve import GRPC_PORT_VARIABLE
from shipline.errors import UsageError
from shipline.image.containerfile import IMAGE_PORT
from shipline.image.manifest import IMAGE_MODEL_DIR, ImageManifest
from shipline.image.source import FolderCaptureSink, ImageSource, check_image
from shipline.project import Project
from shipline.scoring.capture import CaptureSink


def model_folder(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the image's model lies (``SHIPLINE_IMAGE_MODEL``)."""
    return Path(environ.get("SHIPLINE_IMAGE_MODEL", "").strip() or IMAGE_MODEL_DIR)


def image_port(environ: Mapping[str, str] = os.environ) -> int:
    """SageMaker's ``SAGEMAKER_BIND_TO_PORT``, else ``SHIPLINE_PORT``, else 8080."""
    for name in ("SAGEMAKER_BIND_TO_PORT", "SHIPLINE_PORT"):
        value = environ.get(name, "").strip()
        if value:
            return _port_number(name, value)
    return IMAGE_PORT


def image_grpc_port(environ: Mapping[str, str] = os.environ) -> int | None:
    """``SHIPLINE_GRPC_PORT``: where gRPC is served beside HTTP (None: not served)."""
    value = environ.get(GRPC_PORT_VARIABLE, "").strip()
    if not value:
        return None
    port = _port_number(GRPC_PORT_VARIABLE, value)
    if port == image_port(environ):
        raise UsageError(f"{GRPC_PORT_VARIABLE}: {port} is the HTTP port; expected another one")
    return port


def _port_number(name: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise UsageError(f"{name}: expected a port number, found {value!r}")
    return int(value)


def check(project: Project) -> ImageManifest:
    """Check the image's files (and signature when required); the manifest they belong to."""
    settings = project.settings
    return check_image(model_folder(), settings.require_signed, settings.verify_key)


def serve_image(project: Project, host: str = "0.0.0.0") -> None:
    """Check the image's model, then serve it until SIGTERM."""
    from shipline.server.app import build_app
    from shipline.server.runner import run_app
    from shipline.server.service import PredictionService

    port, grpc_port = image_port(), image_grpc_port()
    manifest = check(project)
    folder = model_folder()
    source = ImageSource(folder, manifest, _capture_sink(project))
    serving = ServingConfig.model_validate(manifest.serving)
    version = manifest.model_version()
    service = PredictionService(source, [(version.name, manifest.alias)], serving, 3600.0)
    service.load()
    app = build_app(service, None, None, None if grpc_port is None else (host, grpc_port))
    limits = serving.limits
    run_app(app, host, port, limits.header_timeout_s, limits.max_connections, proxy_headers=False)


def health(environ: Mapping[str, str] = os.environ) -> bool:
    """True when the server in this container answers ``GET /ping`` with 200."""
    import urllib.error
    import urllib.request

    url = f"http://127.0.0.1:{image_port(environ)}/ping"
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _capture_sink(project: Project) -> CaptureSink:
    """The team server when the container is given one (``SHIPLINE_URL`` and a token), else
    Parquet files under ``$SHIPLINE_HOME/captures``."""
    from shipline.project.remote import RemoteProject

    if isinstance(project, RemoteProject):
        return project.serving_source()
    home = Path(os.environ.get("SHIPLINE_HOME", "").strip() or Path.home() / ".shipline")
    return FolderCaptureSink(home / "captures")
