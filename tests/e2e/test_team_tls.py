"""The team server's transport: TLS when given a certificate, a warning when it would listen
beyond loopback in clear text, and an exit 0 on SIGTERM."""

from __future__ import annotations

import datetime
import ipaddress
import signal
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shipline.api.team_server import exposure_warning
from tests.team import clean_env, launch_server, shipline


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "server.pem", folder / "server.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_the_server_speaks_tls_when_given_a_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    env = clean_env(SHIPLINE_DB=f"sqlite:///{tmp_path / 'meta.db'}")
    process, url = launch_server(tmp_path, env, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert url.startswith("https://")
        answer = httpx.get(f"{url}/api/v1/health", verify=ssl.create_default_context(cafile=cert))
        assert answer.status_code == 200
        # Over TLS the dashboard's session cookie is Secure.
        boot = shipline("users", "add", "tia", "--role", "viewer", env=env, cwd=tmp_path)
        signed = httpx.post(
            f"{url}/sign-in",
            data={"token": boot.stdout.strip(), "next": "/"},
            verify=ssl.create_default_context(cafile=cert),
        )
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https://", "http://") + "/api/v1/health", timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    log = next(tmp_path.glob("team-server-*.log")).read_text()
    assert "warning" not in log and "https://127.0.0.1" in log


def test_listening_beyond_loopback_in_clear_text_warns(tmp_path: Path) -> None:
    env = clean_env(SHIPLINE_DB=f"sqlite:///{tmp_path / 'meta.db'}")
    process, _ = launch_server(tmp_path, env, "--host", "0.0.0.0")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    log = next(tmp_path.glob("team-server-*.log")).read_text()
    assert "warning: listening on 0.0.0.0 without TLS" in log
    assert exposure_warning("127.0.0.1", False, None) is None
    assert exposure_warning("::1", False, None) is None
    assert exposure_warning("localhost", False, None) is None
    assert exposure_warning("10.0.0.5", True, None) is None
    assert exposure_warning("10.0.0.5", False, "10.0.0.1") is None
    assert exposure_warning("shipline.example", False, None) is not None


def test_half_a_tls_pair_is_refused(tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    env = clean_env(SHIPLINE_DB=f"sqlite:///{tmp_path / 'meta.db'}")
    half = shipline("server", "--tls-cert", str(cert), env=env, cwd=tmp_path)
    assert half.returncode == 2 and "--tls-cert and --tls-key go together" in half.stderr
    missing = shipline(
        "server", "--tls-cert", str(cert), "--tls-key", "nope.key", env=env, cwd=tmp_path
    )
    assert missing.returncode == 2 and "nope.key: no such file" in missing.stderr
