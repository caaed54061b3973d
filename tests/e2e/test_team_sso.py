"""Single sign-on: a locally generated RSA key and a JWKS served on loopback stand in for the
team's identity provider; the team server accepts its JWTs and refuses every forgery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.team import TeamServer, start_team_server

ISSUER = "https://idp.example.test"
AUDIENCE = "shipline"


class SigningKeys:
    """An identity provider's signing keys: the JWKS that publishes them, and tokens."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []

    def new_key(self, kid: str, publish: bool = True) -> None:
        """A fresh RSA key (published in the JWKS unless told not to)."""
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        """The published public keys."""
        keys = []
        for kid in self.published:
            jwk = RSAAlgorithm.to_jwk(self.keys[kid].public_key(), as_dict=True)
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def token(self, kid: str = "k1", **overrides: Any) -> str:
        """A signed RS256 JWT with good claims unless ``overrides`` change them."""
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "00u-olga",
            "preferred_username": "olga",
            "groups": ["ml-team"],
            "exp": int(time.time()) + 600,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def public_pem(self, kid: str = "k1") -> bytes:
        """The public key as PEM (what an HS256 forgery would use as its secret)."""
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


class IdentityProvider(SigningKeys):
    """Signing keys, and their JWKS served on loopback."""

    def __init__(self) -> None:
        super().__init__()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = json.dumps(provider.jwks()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return None

        return Handler

    def stop(self) -> None:
        """Stop serving the JWKS and close its socket."""
        self._server.shutdown()
        self._server.server_close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], key: bytes | None = None) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = b"" if key is None else hmac.new(key, head.encode(), hashlib.sha256).digest()
    return head + "." + _b64(signature)


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    """An identity provider with one published key, ``k1``."""
    idp = IdentityProvider()
    idp.new_key("k1")
    yield idp
    idp.stop()


@pytest.fixture
def team(provider: IdentityProvider, tmp_path: Path) -> Iterator[TeamServer]:
    """A team server trusting ``provider``; ml-team → ml-engineer, auditors → approver on
    churn only."""
    settings = {
        "SHIPLINE_OIDC_ISSUER": ISSUER,
        "SHIPLINE_OIDC_AUDIENCE": AUDIENCE,
        "SHIPLINE_OIDC_JWKS_URL": provider.jwks_url,
        "SHIPLINE_OIDC_ROLES": "ml-team=ml-engineer,auditors=approver:churn",
        "SHIPLINE_OIDC_JWKS_REFETCH_S": "0",  # a rotated key is taken at once
    }
    db = f"sqlite:///{tmp_path / 'meta.db'}"
    server = start_team_server(tmp_path / "server", db, str(tmp_path / "store"), settings)
    yield server
    assert server.stop() == 0


def _whoami(team: TeamServer, token: str) -> Any:
    with team.client(token) as client:
        return client.get("/whoami")


def test_a_good_token_signs_in_with_the_mapped_roles(
    team: TeamServer, provider: IdentityProvider
) -> None:
    answer = _whoami(team, provider.token())
    assert answer.status_code == 200, answer.text
    me = answer.json()
    assert me["name"] == "olga" and me["via"] == "oidc 00u-olga"
    assert me["grants"] == [{"role": "ml-engineer", "model": "*"}]
    auditor = _whoami(team, provider.token(groups=["auditors", "unmapped"])).json()
    assert auditor["grants"] == [{"role": "approver", "model": "churn"}]
    with team.client(provider.token(groups=["unmapped"])) as nobody:
        assert nobody.get("/approvals").status_code == 403  # signed in, but no role


def test_every_forged_or_stale_token_is_refused(
    team: TeamServer, provider: IdentityProvider
) -> None:
    good = jwt.decode(provider.token(), options={"verify_signature": False})
    provider.new_key("stranger", publish=False)
    forgeries = {
        "alg none": _unsigned({"alg": "none", "kid": "k1"}, good),
        "HS256 keyed with the public key": _unsigned(
            {"alg": "HS256", "kid": "k1", "typ": "JWT"}, good, provider.public_pem()
        ),
        "wrong issuer": provider.token(iss="https://evil.example"),
        "wrong audience": provider.token(aud="someone-else"),
        "expired": provider.token(exp=int(time.time()) - 3600),
        "no expiry": provider.token(exp=None),
        "unknown key id": provider.token(kid="stranger"),
        "tampered claims": ".".join(
            [
                provider.token().split(".")[0],
                _b64(json.dumps({**good, "groups": ["admins"]}).encode()),
                provider.token().split(".")[2],
            ]
        ),
        "garbage": "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",
    }
    for what, token in forgeries.items():
        answer = _whoami(team, token)
        assert answer.status_code == 401, (what, answer.text)


def test_a_rotated_key_works_without_a_restart(
    team: TeamServer, provider: IdentityProvider
) -> None:
    assert _whoami(team, provider.token()).status_code == 200  # k1's JWKS is now cached
    provider.new_key("k2", publish=False)
    assert _whoami(team, provider.token(kid="k2")).status_code == 401
    provider.published = ["k2"]  # the provider rotates: k2 in, k1 out
    assert _whoami(team, provider.token(kid="k2")).status_code == 200


def test_sso_actions_are_audited_with_the_subject(
    team: TeamServer, provider: IdentityProvider
) -> None:
    with team.client(provider.token(groups=["ml-team"])) as client:
        assert client.post("/tokens", json={"name": "laptop"}).status_code == 404  # no user row
    with team.client(team.admin_token) as admin:
        assert admin.post("/users", json={"name": "olga", "roles": []}).status_code == 201
    with team.client(provider.token()) as client:
        issued = client.post("/tokens", json={"name": "laptop"})
        assert issued.status_code == 201, issued.text
    with team.client(team.admin_token) as admin:
        events = admin.get("/audit", params={"action": "token.issue"}).json()
        assert events[-1]["actor"] == "olga" and events[-1]["via"] == "oidc 00u-olga"
