"""Dashboard sessions: a random cookie value (stored only as a hash) standing for a signed-in
principal, with a CSRF token, ended by sign-out, by idle time, or by revoking the API token it
was opened with (checked on every request)."""

from __future__ import annotations

__all__ = ["IDLE", "Session", "end_session", "open_session", "resume_session"]

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import delete, select, update

from shipline.errors import UnauthenticatedError
from shipline.identity.principal import Grant, Principal
from shipline.identity.role import Role
from shipline.identity.user import user_grants
from shipline.store import Database
from shipline.store.audit_log import parse_stamp, stamp
from shipline.store.tables import api_tokens, ui_sessions

IDLE = timedelta(hours=8)
# Last seen is written at most this often, so page views do not each take the write lock.
_SEEN_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class Session:
    """A signed-in session: who, and the token its forms must carry."""

    principal: Principal
    csrf: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def open_session(db: Database, principal: Principal) -> tuple[str, Session]:
    """A new session for ``principal``; returns the cookie value (shown once) and it."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = stamp(datetime.now(UTC))
    # A single sign-on session keeps the roles the provider's groups gave at sign-in.
    grants = None
    if principal.token_id is None:
        grants = orjson.dumps([[str(g.role), g.model] for g in principal.grants]).decode()
    with db.write(principal.name) as tx:
        tx.conn.execute(
            ui_sessions.insert().values(
                id_hash=_digest(cookie),
                user=principal.name,
                token_id=principal.token_id,
                csrf=csrf,
                created_at=now,
                last_seen_at=now,
                grants=grants,
            )
        )
        tx.record("session.open", f"user:{principal.name}", None, {"via": principal.via})
    return cookie, Session(principal, csrf)


def resume_session(db: Database, cookie: str, idle: timedelta = IDLE) -> Session:
    """The session a cookie stands for, or ``UnauthenticatedError`` (unknown, idle too long,
    or its token revoked or expired since)."""
    refused = UnauthenticatedError("not signed in, or the session ended")
    if not cookie or len(cookie) > 200:
        raise refused
    now = datetime.now(UTC)
    with db.read() as conn:
        row = conn.execute(
            select(ui_sessions).where(ui_sessions.c.id_hash == _digest(cookie))
        ).first()
        if row is None or parse_stamp(row.last_seen_at) + idle <= now:
            raise refused
        via = "oidc (dashboard)"
        if row.token_id is not None:
            token = conn.execute(select(api_tokens).where(api_tokens.c.id == row.token_id)).one()
            expired = token.expires_at is not None and parse_stamp(token.expires_at) <= now
            if token.revoked_at is not None or expired:
                raise refused
            via = f"token {row.token_id} (dashboard)"
        if row.grants is not None:
            grants = tuple(Grant(Role(role), model) for role, model in orjson.loads(row.grants))
        else:
            grants = user_grants(conn, row.user)
    if parse_stamp(row.last_seen_at) + _SEEN_EVERY <= now:
        with db.write(row.user) as tx:
            tx.conn.execute(
                update(ui_sessions)
                .where(ui_sessions.c.id_hash == row.id_hash)
                .values(last_seen_at=stamp(now))
            )
    return Session(Principal(row.user, via, grants, row.token_id), row.csrf)


def end_session(db: Database, cookie: str) -> None:
    """Sign out: the cookie no longer opens anything."""
    with db.write("dashboard") as tx:
        tx.conn.execute(delete(ui_sessions).where(ui_sessions.c.id_hash == _digest(cookie)))
