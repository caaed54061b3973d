"""A real `shipline serve` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.services import free_port


def shipline_env(user: str = "alice") -> dict[str, str]:
    """This process's environment without shipline or AWS settings, acting as ``user``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    env["SHIPLINE_USER"] = user
    return env


@dataclass
class Server:
    """A running `shipline serve` process."""

    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> int:
        """SIGTERM, as an orchestrator would; returns the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def start_server(
    folder: Path,
    *targets: str,
    poll: float = 0.2,
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """Start `shipline serve TARGETS` in ``folder`` (with ``env``, else as alice in local
    mode) and wait until it answers /ping."""
    port = free_port()
    log = folder / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shipline",
                "serve",
                *targets,
                "--port",
                str(port),
                "--poll",
                str(poll),
                *extra,
            ],
            cwd=folder,
            env=shipline_env() if env is None else env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{server.url}/ping", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)  # poll interval
    server.stop()
    pytest.fail("server did not become ready")


def captured_rows(server: Server) -> float:
    """The server's count of captured rows written to the store (from its Prometheus text)."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    line = next(x for x in text.splitlines() if x.startswith("shipline_captured_rows_total"))
    return float(line.split()[-1])


def trained_example(folder: Path, alias: str | None = None) -> Path:
    """`shipline init`'s classification example in ``folder``, trained once as alice (no
    SHIPLINE_* settings); version 1 moved to ``alias`` when given."""
    from shipline.project import Project
    from shipline.scaffold import create_project

    create_project(folder, "classification")
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
            patch.delenv(key)
        patch.setenv("SHIPLINE_USER", "alice")
        with Project.open(folder) as project:
            assert project.run().status == "succeeded"
            if alias is not None:
                project.promote("cancer", 1, alias)
    return folder
