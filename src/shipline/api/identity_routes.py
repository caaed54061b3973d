"""Users, role grants, tokens, the caller's own identity, and the token check prediction
servers started with ``--auth`` ask."""

from __future__ import annotations

__all__ = ["router"]

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from shipline.api.bodies import GrantBody, TokenBody, UserBody, needs
from shipline.api.credentials import ServerState, caller, state
from shipline.errors import UnauthenticatedError
from shipline.identity import Permission, Principal
from shipline.identity.api_token import ApiToken, IssuedToken
from shipline.identity.principal import Grant
from shipline.identity.user import User

router = APIRouter()
Caller = Annotated[Principal, Depends(caller)]
Server = Annotated[ServerState, Depends(state)]
_ANYONE = "authenticated"  # any valid credential; the route limits it to the caller's own


@router.get("/whoami", **needs(_ANYONE))
def whoami(who: Caller) -> Principal:
    """The caller as the server sees it: name, how they signed in, their roles."""
    return who


@router.get("/users", **needs(Permission.MANAGE_USERS))
def list_users(who: Caller, server: Server) -> list[User]:
    """Every user and their roles."""
    from shipline.identity.user import list_users as users

    who.require(Permission.MANAGE_USERS)
    return users(server.db)


@router.post("/users", status_code=201, **needs(Permission.MANAGE_USERS))
def add_user(body: UserBody, who: Caller, server: Server) -> User:
    """A new user with their first roles (then issue them a token)."""
    from shipline.identity.user import add_user as add

    who.require(Permission.MANAGE_USERS)
    return add(
        server.db, body.name, tuple(Grant.parse(g.role, g.model) for g in body.roles), who.name
    )


@router.post("/users/{name}/roles", **needs(Permission.MANAGE_USERS))
def grant_role(name: str, body: GrantBody, who: Caller, server: Server) -> User:
    """Give a user a role, on one model or all."""
    from shipline.identity.user import grant_role as grant

    who.require(Permission.MANAGE_USERS)
    return grant(server.db, name, Grant.parse(body.role, body.model), who.name)


@router.delete("/users/{name}/roles/{role}", **needs(Permission.MANAGE_USERS))
def revoke_role(
    name: str,
    role: str,
    who: Caller,
    server: Server,
    model: Annotated[str, Query(max_length=100)] = "*",
) -> User:
    """Take a role away; the user's next request sees it."""
    from shipline.identity.user import revoke_role as revoke

    who.require(Permission.MANAGE_USERS)
    return revoke(server.db, name, Grant.parse(role, model), who.name)


@router.get("/tokens", **needs(_ANYONE))
def list_tokens(
    who: Caller, server: Server, user: Annotated[str | None, Query(max_length=100)] = None
) -> list[ApiToken]:
    """Your tokens (anyone's, or everyone's, for user managers)."""
    from shipline.identity.api_token import list_tokens as tokens

    if user != who.name:
        who.require(Permission.MANAGE_USERS)
    return tokens(server.db, user)


@router.post("/tokens", status_code=201, **needs(_ANYONE))
def issue_token(body: TokenBody, who: Caller, server: Server) -> IssuedToken:
    """A new token, its secret shown in this answer only."""
    from shipline.identity.api_token import issue_token as issue

    owner = body.user or who.name
    if owner != who.name:
        who.require(Permission.MANAGE_USERS)
    return issue(server.db, owner, body.name, body.expires_days, who.name)


@router.delete("/tokens/{token_id}", **needs(_ANYONE))
def revoke_token(token_id: int, who: Caller, server: Server) -> ApiToken:
    """Revoke a token (your own; anyone's for user managers); the next request with it fails."""
    from shipline.identity.api_token import revoke_token as revoke

    owner = None if who.may(Permission.MANAGE_USERS) else who.name
    return revoke(server.db, token_id, who.name, owner)


class CallerCheck(BaseModel):
    """A credential presented to a prediction server, and the model it wants."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    credential: str = Field(max_length=8192)
    model: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class CallerVerdict:
    """Whether the credential may predict with the model, and whose it is."""

    allowed: bool
    name: str | None


@router.post("/auth/check", **needs(Permission.CHECK_CALLERS))
def check_caller(body: CallerCheck, who: Caller, server: Server) -> CallerVerdict:
    """For prediction servers: may this credential call ``predict`` on this model?"""
    from shipline.api.credentials import resolve

    who.require(Permission.CHECK_CALLERS, body.model)
    try:
        principal = resolve(server, body.credential)
    except UnauthenticatedError:
        return CallerVerdict(False, None)
    return CallerVerdict(principal.may(Permission.PREDICT, body.model), principal.name)
