"""Shared fixtures: backends (SQLite/PostgreSQL, local/S3), throwaway servers, CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.services import (
    Postgres,
    SeaweedS3,
    ServiceUnavailableError,
    start_postgres,
    start_seaweedfs,
)

REQUIRE_SERVICES = os.environ.get("SHIPLINE_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} not available: {error}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (SHIPLINE_REQUIRE_SERVICES=1 turns this skip into a failure)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One PostgreSQL cluster for the whole test session."""
    try:
        server = start_postgres()
    except ServiceUnavailableError as error:
        _unavailable("PostgreSQL", error)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server for the whole test session."""
    try:
        server = start_seaweedfs()
    except ServiceUnavailableError as error:
        _unavailable("SeaweedFS S3", error)
    _wait_for_bucket(server)
    yield server
    server.stop()


def _wait_for_bucket(server: SeaweedS3) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(
        key="shipline", secret="shipline", client_kwargs={"endpoint_url": server.endpoint}
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            fs.ls(server.bucket, refresh=True)
            return
        except Exception:
            time.sleep(0.5)  # poll interval
    _unavailable("SeaweedFS S3", RuntimeError("bucket never became listable"))


def s3_environment(server: SeaweedS3) -> dict[str, str]:
    """Environment variables that point boto/s3fs at the throwaway server."""
    return {
        "AWS_ACCESS_KEY_ID": "shipline",
        "AWS_SECRET_ACCESS_KEY": "shipline",
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty metadata database URL on each database kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'shipline.db'}"
    server: Postgres = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["local", "s3"])
def store_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh, empty content store URL on each storage kind."""
    if request.param == "local":
        return str(tmp_path / "store")
    server: SeaweedS3 = request.getfixturevalue("s3_server")
    for key, value in s3_environment(server).items():
        monkeypatch.setenv(key, value)
    return f"s3://{server.bucket}/{uuid.uuid4().hex[:12]}"


@dataclass
class Backend:
    """A metadata database and a content store to run one test on."""

    db_url: str
    store_url: str
    env: dict[str, str]


@pytest.fixture(params=["sqlite+local", "postgres+s3"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Backend:
    """Both ends of the deployment range: laptop defaults, and a team's PostgreSQL + S3."""
    if request.param == "sqlite+local":
        return Backend(
            f"sqlite:///{tmp_path / 'meta' / 'shipline.db'}", str(tmp_path / "store"), {}
        )
    postgres: Postgres = request.getfixturevalue("postgres_server")
    s3: SeaweedS3 = request.getfixturevalue("s3_server")
    env = s3_environment(s3)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    url = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    return Backend(url, f"s3://{s3.bucket}/{uuid.uuid4().hex[:12]}", env)


@dataclass
class CliResult:
    """What a CLI run printed and returned."""

    code: int
    out: str
    err: str


@dataclass
class Cli:
    """Runs ``shipline`` in a subprocess inside a project folder, as a user would."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, user: str = "alice", check: bool = False) -> CliResult:
        """Run ``shipline ARGS``; with ``check`` a non-zero exit fails the test."""
        env = {**self.env, "SHIPLINE_USER": user}
        proc = subprocess.run(
            [sys.executable, "-m", "shipline", *args],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            pytest.fail(f"shipline {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder."""
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def cli(project: Path, backend: Backend) -> Cli:
    """The CLI in ``project`` on each backend."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    env.update(backend.env, SHIPLINE_DB=backend.db_url, SHIPLINE_STORE=backend.store_url)
    return Cli(project, env)


@pytest.fixture
def local_cli(project: Path) -> Cli:
    """The CLI in ``project`` on the zero-set-up defaults (SQLite + local files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    return Cli(project, env)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A real headless Chromium (the system's), driven by Playwright."""
    import shutil

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("Chromium", FileNotFoundError("no chromium on PATH"))
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()
