"""A real `shipline server` process on a free loopback port, its first admin, and API calls
as one user or another, for end-to-end tests of the team server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.services import free_port


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment with no shipline or AWS settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    env.update(extra)
    return env


def shipline(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> Any:
    """Run the CLI; the completed process (text)."""
    return subprocess.run(
        [sys.executable, "-m", "shipline", *args],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@dataclass
class TeamServer:
    """A running team server and the environment that reaches its database and store."""

    process: subprocess.Popen[bytes]
    url: str
    server_env: dict[str, str]
    folder: Path
    admin_token: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None) -> httpx.Client:
        """An HTTP client on ``/api/v1`` presenting ``token`` (none: anonymous)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=60)

    def add_user(self, name: str, *roles: str) -> str:
        """A user with ``roles`` (``role`` or ``role:model``); returns their token."""
        grants = []
        for role in roles:
            kind, _, model = role.partition(":")
            grants.append({"role": kind, "model": model or "*"})
        with self.client(self.admin_token) as admin:
            answer = admin.post("/users", json={"name": name, "roles": grants})
            assert answer.status_code == 201, answer.text
            issued = admin.post("/tokens", json={"name": "test", "user": name})
            assert issued.status_code == 201, issued.text
        self.tokens[name] = issued.json()["secret"]
        return self.tokens[name]

    def remote_env(self, token: str, **extra: str) -> dict[str, str]:
        """A client environment in remote mode: no database or store settings at all."""
        home = self.folder / "client-home"
        home.mkdir(exist_ok=True)
        return clean_env(
            SHIPLINE_URL=self.url, SHIPLINE_TOKEN=token, XDG_CONFIG_HOME=str(home), **extra
        )

    def stop(self) -> int:
        """SIGTERM, as an orchestrator would; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def start_team_server(
    folder: Path, db_url: str, store_url: str, extra_env: dict[str, str] | None = None
) -> TeamServer:
    """Bootstrap an admin with `shipline users add`, start `shipline server`, wait for
    /api/v1/health."""
    folder.mkdir(parents=True, exist_ok=True)
    env = clean_env(SHIPLINE_DB=db_url, SHIPLINE_STORE=store_url, **(extra_env or {}))
    boot = shipline("users", "add", "root", "--role", "admin", "--json", env=env, cwd=folder)
    assert boot.returncode == 0, boot.stderr
    process, url = launch_server(folder, env)
    return TeamServer(process, url, env, folder, json.loads(boot.stdout)["token"])


def launch_server(
    folder: Path, env: dict[str, str], *options: str
) -> tuple[subprocess.Popen[bytes], str]:
    """One more `shipline server` process with ``env``; returns it and its URL once healthy."""
    port = free_port()
    log = folder / f"team-server-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "shipline", "server", "--port", str(port), *options],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    scheme = "https" if "--tls-cert" in options else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"team server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1, verify=False).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)  # poll interval
    process.kill()
    pytest.fail("team server did not become ready")


def key_pair(folder: Path, name: str = "team") -> tuple[Path, Path]:
    """A fresh elliptic-curve key pair as PEM files: (private, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public
