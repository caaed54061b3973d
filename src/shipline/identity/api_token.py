"""API tokens: 256 random bits shown once, stored only as a hash, with expiry, last use and
revocation that the next request sees."""

from __future__ import annotations

__all__ = [
    "TOKEN_PREFIX",
    "ApiToken",
    "IssuedToken",
    "authenticate_token",
    "issue_token",
    "list_tokens",
    "revoke_token",
]

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, select

from shipline.errors import ForbiddenError, NotFoundError, UnauthenticatedError, UsageError
from shipline.identity.principal import Principal
from shipline.identity.user import user_grants
from shipline.store import Database, utc_now
from shipline.store.audit_log import parse_stamp, stamp
from shipline.store.tables import api_tokens, users
from shipline.types import check_name

TOKEN_PREFIX = "shp_"
MAX_DAYS = 3650
# Last use is written at most this often per token, so reads do not each take the write lock.
_LAST_USE_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiToken:
    """A token's record (never its secret)."""

    id: int
    user: str
    name: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    revoked_at: str | None


@dataclass(frozen=True)
class IssuedToken:
    """A new token: ``secret`` is shown this once and stored nowhere."""

    token: ApiToken
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_token(
    db: Database, user: str, name: str, expires_days: int | None, actor: str
) -> IssuedToken:
    """A new token for ``user`` (expiring after ``expires_days``; ``None``: never)."""
    check_name(name, "token name")
    if expires_days is not None and not 1 <= expires_days <= MAX_DAYS:
        raise UsageError(f"token expiry must be 1 to {MAX_DAYS} days, got {expires_days}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = None if expires_days is None else stamp(now + timedelta(days=expires_days))
    with db.write(actor) as tx:
        user_id = tx.conn.execute(select(users.c.id).where(users.c.name == user)).scalar()
        if user_id is None:
            raise NotFoundError(f"no user {user!r}; add one with `shipline users add`")
        token_id: int = tx.conn.execute(
            api_tokens.insert()
            .values(
                user_id=user_id,
                name=name,
                token_hash=_digest(secret),
                created_at=stamp(now),
                expires_at=expires,
            )
            .returning(api_tokens.c.id)
        ).scalar_one()
        tx.record("token.issue", f"user:{user}", None, {"token": token_id, "expires": expires})
        return IssuedToken(_load(tx.conn, token_id), secret)


def revoke_token(db: Database, token_id: int, actor: str, owner: str | None = None) -> ApiToken:
    """Revoke a token for good (``owner``: refuse unless the token is theirs)."""
    with db.write(actor) as tx:
        token = _load(tx.conn, token_id)
        if owner is not None and token.user != owner:
            raise ForbiddenError(f"token {token_id} is not yours to revoke")
        if token.revoked_at is None:
            tx.conn.execute(
                api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=utc_now())
            )
            tx.record("token.revoke", f"user:{token.user}", {"token": token_id}, None)
        return _load(tx.conn, token_id)


def list_tokens(db: Database, user: str | None = None) -> list[ApiToken]:
    """Tokens (of one user when given), newest first."""
    query = select(api_tokens.c.id).order_by(api_tokens.c.id.desc())
    if user is not None:
        query = query.join(users, users.c.id == api_tokens.c.user_id).where(users.c.name == user)
    with db.read() as conn:
        return [_load(conn, i) for i in conn.execute(query).scalars()]


def authenticate_token(db: Database, secret: str) -> Principal:
    """The principal a presented token stands for, or ``UnauthenticatedError`` when it is
    unknown, expired or revoked (the same answer for each, so nothing leaks)."""
    refused = UnauthenticatedError("invalid, expired or revoked token")
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise refused
    now = datetime.now(UTC)
    with db.read() as conn:
        row = conn.execute(
            select(api_tokens, users.c.name.label("user"))
            .join(users, users.c.id == api_tokens.c.user_id)
            .where(api_tokens.c.token_hash == _digest(secret))
        ).first()
        if row is None or row.revoked_at is not None:
            raise refused
        if row.expires_at is not None and parse_stamp(row.expires_at) <= now:
            raise refused
        grants = user_grants(conn, row.user)
    if row.last_used_at is None or parse_stamp(row.last_used_at) + _LAST_USE_EVERY <= now:
        with db.write(row.user) as tx:
            tx.conn.execute(
                api_tokens.update().where(api_tokens.c.id == row.id).values(last_used_at=stamp(now))
            )
    return Principal(row.user, f"token {row.id}", grants, row.id)


def _load(conn: Connection, token_id: int) -> ApiToken:
    row = conn.execute(
        select(api_tokens, users.c.name.label("user"))
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(api_tokens.c.id == token_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no token {token_id}")
    return ApiToken(
        row.id, row.user, row.name, row.created_at, row.expires_at, row.last_used_at, row.revoked_at
    )
