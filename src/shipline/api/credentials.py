"""Who is calling: the bearer credential of a request, verified, as a ``Principal``.

Deny by default: every route depends on ``caller`` and checks its permission, except the
health probe. The resolved principal's origin (how it authenticated, from where) is set for
the request, so every audit event the request appends carries it.
"""

from __future__ import annotations

__all__ = ["ServerState", "caller", "resolve", "state"]

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from shipline.artifacts import ContentStore
from shipline.errors import UnauthenticatedError
from shipline.identity import Principal
from shipline.identity.api_token import TOKEN_PREFIX, authenticate_token
from shipline.identity.oidc import OidcVerifier
from shipline.store import Database
from shipline.store.audit_log import Origin, set_request_origin

_MAX_CREDENTIAL = 8192


@dataclass(frozen=True)
class ServerState:
    """What every route reads: the database, the content store, the SSO verifier."""

    db: Database
    store: ContentStore
    oidc: OidcVerifier | None
    dask: str = ""  # SHIPLINE_DASK of the server's environment: overrides a model's compute
    signing_key: Path | None = None  # SHIPLINE_SIGNING_KEY: signs the versions it registers


def state(request: Request) -> ServerState:
    """The server's state, set when the app was built."""
    found: ServerState = request.app.state.shipline
    return found


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not credential.strip():
        raise UnauthenticatedError("a bearer credential is required (Authorization: Bearer …)")
    if len(credential) > _MAX_CREDENTIAL or not credential.isascii():
        raise UnauthenticatedError("the bearer credential is malformed")
    return credential.strip()


def resolve(server: ServerState, credential: str) -> Principal:
    """The principal a bearer credential stands for: an API token or an SSO JWT."""
    if credential.startswith(TOKEN_PREFIX):
        return authenticate_token(server.db, credential)
    if server.oidc is None:
        raise UnauthenticatedError("invalid, expired or revoked token")
    return server.oidc.principal(credential)


async def caller(request: Request) -> Principal:
    """The verified principal of the request (401 without a valid credential)."""
    server = state(request)
    principal = await run_in_threadpool(resolve, server, _bearer(request))
    client = request.client.host if request.client else None
    # Set in the request's own task: the route, run in a worker thread with a copy of this
    # context, appends its audit events with this origin.
    set_request_origin(Origin(principal.via, client))
    return principal
