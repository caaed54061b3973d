"""The dashboard's side of sign-in: the session cookie, CSRF checks on every form, and the
headers every page carries (a strict Content-Security-Policy: nothing from another origin,
no inline script or style)."""

from __future__ import annotations

__all__ = [
    "COOKIE",
    "PAGE_HEADERS",
    "check_csrf",
    "session_cookie",
    "signed_in",
]

import hmac
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from shipline.api.credentials import state
from shipline.errors import ForbiddenError
from shipline.identity.ui_session import IDLE, Session, resume_session
from shipline.store.audit_log import Origin, set_request_origin

COOKIE = "shipline_session"
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


async def signed_in(request: Request) -> Session:
    """The session of the request's cookie (``UnauthenticatedError`` sends the browser to the
    sign-in page)."""
    server = state(request)
    session = await run_in_threadpool(
        resume_session, server.db, request.cookies.get(COOKIE, ""), IDLE
    )
    client = request.client.host if request.client else None
    set_request_origin(Origin(session.principal.via, client))
    return session


def check_csrf(session: Session, submitted: str) -> None:
    """Refuse a form whose CSRF token is not the session's."""
    if not submitted or not hmac.compare_digest(submitted, session.csrf):
        raise ForbiddenError("the form's CSRF token is missing or wrong; reload the page")


def session_cookie(request: Request, value: str) -> dict[str, Any]:
    """The cookie's options: HttpOnly, SameSite=Lax, Secure over TLS, for the idle time."""
    secure = request.url.scheme == "https"
    return {
        "key": COOKIE,
        "value": value,
        "httponly": True,
        "samesite": "lax",
        "secure": secure,
        "max_age": int(IDLE.total_seconds()),
        "path": "/",
    }
