"""The dashboard's admin page: users, their roles, tokens (a new one is shown once)."""

from __future__ import annotations

__all__ = ["router"]

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipline.api.credentials import ServerState, state
from shipline.api.dashboard_pages import page
from shipline.api.dashboard_session import PAGE_HEADERS, check_csrf, signed_in
from shipline.identity import Permission
from shipline.identity.ui_session import Session

router = APIRouter(include_in_schema=False)
Server = Annotated[ServerState, Depends(state)]
Viewer = Annotated[Session, Depends(signed_in)]


def _admin(
    request: Request, session: Session, server: ServerState, issued: Any = None
) -> HTMLResponse:
    from shipline.identity.api_token import list_tokens
    from shipline.identity.role import Role
    from shipline.identity.user import list_users

    context = {
        "session": session,
        "users": list_users(server.db),
        "tokens": list_tokens(server.db),
        "roles": [r.value for r in Role],
        "issued": issued,
    }
    return page(request, "admin.html", context)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: Viewer, server: Server) -> HTMLResponse:
    """Users, their roles, every token (never a secret)."""
    session.principal.require(Permission.MANAGE_USERS)
    return _admin(request, session, server)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: Viewer,
    server: Server,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=30)],
    model: Annotated[str, Form(max_length=100)] = "*",
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """A new user with a role, and their first token shown once on the page."""
    from shipline.identity.api_token import issue_token
    from shipline.identity.principal import Grant
    from shipline.identity.user import add_user as add

    check_csrf(session, csrf)
    session.principal.require(Permission.MANAGE_USERS)
    actor = session.principal.name
    add(server.db, name.strip(), (Grant.parse(role, model),), actor)
    issued = issue_token(server.db, name.strip(), "first", 90, actor)
    return _admin(request, session, server, issued)


@router.post("/admin/grants")
def grant(
    session: Viewer,
    server: Server,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=30)],
    model: Annotated[str, Form(max_length=100)] = "*",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Give a user a role."""
    from shipline.identity.principal import Grant
    from shipline.identity.user import grant_role

    check_csrf(session, csrf)
    session.principal.require(Permission.MANAGE_USERS)
    given = Grant.parse(role, model)
    grant_role(server.db, name.strip(), given, session.principal.name)
    return RedirectResponse("/admin", status_code=303, headers=PAGE_HEADERS)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke(
    token_id: int, session: Viewer, server: Server, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Revoke a token: its next request, and any session opened with it, is refused."""
    from shipline.identity.api_token import revoke_token

    check_csrf(session, csrf)
    session.principal.require(Permission.MANAGE_USERS)
    revoke_token(server.db, token_id, session.principal.name)
    return RedirectResponse("/admin", status_code=303, headers=PAGE_HEADERS)
