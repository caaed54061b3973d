"""The image trigger: fires once per new digest of an image reference (an OCI layout on disk
or a registry tag behind a loopback registry that asks for an anonymous bearer token), never
for the same one, and the run it starts retrains (the digest is in the train step's key)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from shipline.config.trigger_kind import WatchedFileError
from shipline.controller.image_digest import image_digest
from shipline.controller.trigger_event import list_events as trigger_events
from shipline.project import Project
from tests.unit.controller.conftest import write_oci_layout

FIRST, SECOND = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def _pass(project: Project, at: datetime) -> dict[str, object]:
    return project.controller(now=at).run_pass()[0].to_dict()


def test_a_new_image_digest_fires_once_and_retrains(
    project: Project, folder: Path, write_config: Callable[[str], None], now: datetime
) -> None:
    write_oci_layout(folder / "images", {"trainer": FIRST, "other": SECOND})
    write_config("retraining:\n  triggers:\n    - image: oci:images:trainer\n")
    project.apply()
    assert project.run().status == "succeeded"  # trained with the first image
    assert _pass(project, now)["run"] is None  # the first look is the baseline
    assert _pass(project, now)["run"] is None
    write_oci_layout(folder / "images", {"trainer": SECOND, "other": SECOND})
    result = _pass(project, now)
    assert result["run_status"] == "succeeded"
    event = trigger_events(project.db(), "churn")[0]
    assert (event.kind, event.evidence["previous"], event.evidence["digest"]) == (
        "image",
        FIRST,
        SECOND,
    )
    run = project.get_run(int(str(result["run"])))
    train = next(s for s in run.steps if s.step == "train")
    assert train.cached_from is None  # the new image's digest is in the key: it retrained
    assert "environment" in train.key_parts
    assert _pass(project, now)["run"] is None  # the same digest never fires again


def test_layout_mistakes_are_named(folder: Path) -> None:
    write_oci_layout(folder / "images", {"a": FIRST, "b": SECOND})
    assert image_digest("oci:images:b", folder) == SECOND
    with pytest.raises(WatchedFileError, match="no tag 'c'"):
        image_digest("oci:images:c", folder)
    with pytest.raises(WatchedFileError, match="exactly one image"):
        image_digest("oci:images", folder)
    with pytest.raises(WatchedFileError, match="not an OCI layout"):
        image_digest("oci:nowhere:a", folder)
    with pytest.raises(WatchedFileError, match="expected oci:PATH"):
        image_digest("not a reference", folder)
    pinned = f"registry.example.com/ml/trainer@{FIRST}"
    assert image_digest(pinned, folder) == FIRST  # pinned: no registry asked


class _Registry(BaseHTTPRequestHandler):
    """The OCI distribution API's manifest HEAD behind an anonymous bearer token."""

    digests: ClassVar[dict[str, str]] = {}

    def do_HEAD(self) -> None:
        prefix, _, tag = self.path.rpartition("/manifests/")
        if self.headers.get("Authorization") != "Bearer anonymous-pull":
            realm = f"http://127.0.0.1:{self.server.server_port}/token"  # type: ignore[attr-defined]
            self.send_response(401)
            self.send_header(
                "WWW-Authenticate",
                f'Bearer realm="{realm}",service="registry",scope="repository:ml/trainer:pull"',
            )
        elif prefix == "/v2/ml/trainer" and tag in self.digests:
            self.send_response(200)
            self.send_header("Docker-Content-Digest", self.digests[tag])
        else:
            self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        body = b'{"token": "anonymous-pull"}' if self.path.startswith("/token?") else b"{}"
        self.send_response(200 if self.path.startswith("/token?") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_registry_tag_is_resolved_through_an_anonymous_token(registry: str, folder: Path) -> None:
    _Registry.digests = {"stable": FIRST}
    assert image_digest(f"{registry}/ml/trainer:stable", folder) == FIRST
    _Registry.digests = {"stable": SECOND}
    assert image_digest(f"{registry}/ml/trainer:stable", folder) == SECOND
    with pytest.raises(WatchedFileError, match="answered 404"):
        image_digest(f"{registry}/ml/trainer:missing", folder)
    with pytest.raises(WatchedFileError, match=r"retraining\.triggers image"):
        image_digest("127.0.0.1:1/ml/trainer:stable", folder)  # nothing listens on port 1
