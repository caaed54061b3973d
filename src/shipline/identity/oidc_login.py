"""Browser sign-in with the team's identity provider: OpenID Connect's authorization code flow
with PKCE (S256), a one-time state and a nonce; the ID token is verified like any bearer JWT,
with the client id as its audience."""

from __future__ import annotations

__all__ = ["begin_login", "finish_login"]

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select

from shipline.errors import UnauthenticatedError, UsageError
from shipline.identity.oidc import OidcVerifier
from shipline.identity.principal import Principal
from shipline.store import Database
from shipline.store.audit_log import parse_stamp, stamp
from shipline.store.tables import oidc_logins

_LOGIN_TIME = timedelta(minutes=10)


def _endpoints(verifier: OidcVerifier) -> dict[str, Any]:
    """The provider's discovery document (its authorization and token endpoints)."""
    import httpx

    url = verifier.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        found: dict[str, Any] = httpx.get(url, timeout=10).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as error:
        raise UnauthenticatedError(f"the identity provider cannot be reached: {error}") from None
    return found


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def begin_login(db: Database, verifier: OidcVerifier, redirect_uri: str, next_path: str) -> str:
    """Record a new login (state, PKCE verifier, nonce) and return the provider's sign-in URL."""
    client_id = verifier.settings.client_id
    if client_id is None:
        raise UsageError("single sign-on in the browser needs SHIPLINE_OIDC_CLIENT_ID")
    state, code_verifier, nonce = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
    with db.write("dashboard") as tx:
        tx.conn.execute(
            oidc_logins.insert().values(
                state_hash=_hash(state),
                verifier=code_verifier,
                nonce=nonce,
                next=next_path,
                created_at=stamp(datetime.now(UTC)),
            )
        )
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email groups",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
    }
    return f"{_endpoints(verifier)['authorization_endpoint']}?{urlencode(query)}"


def finish_login(
    db: Database, verifier: OidcVerifier, redirect_uri: str, state: str, code: str
) -> tuple[Principal, str]:
    """Exchange the code (with the PKCE verifier) for an ID token, verify it; the principal and
    where to go next. A state is used once and within ten minutes."""
    import httpx

    with db.write("dashboard") as tx:
        row = tx.conn.execute(
            select(oidc_logins).where(oidc_logins.c.state_hash == _hash(state))
        ).first()
        tx.conn.execute(delete(oidc_logins).where(oidc_logins.c.state_hash == _hash(state)))
    if row is None or parse_stamp(row.created_at) + _LOGIN_TIME <= datetime.now(UTC):
        raise UnauthenticatedError("this sign-in is unknown, used or too old; start again")
    settings = verifier.settings
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": settings.client_id or "",
        "code_verifier": row.verifier,
    }
    if settings.client_secret:
        form["client_secret"] = settings.client_secret
    try:
        answer = httpx.post(_endpoints(verifier)["token_endpoint"], data=form, timeout=10)
        tokens = answer.raise_for_status().json()
    except (httpx.HTTPError, ValueError) as error:
        raise UnauthenticatedError(f"the identity provider refused the code: {error}") from None
    id_token = tokens.get("id_token") if isinstance(tokens, dict) else None
    if not isinstance(id_token, str):
        raise UnauthenticatedError("the identity provider sent no ID token")
    principal = verifier.principal(id_token, audience=settings.client_id, nonce=row.nonce)
    return principal, str(row.next)
