"""Users and the roles granted to them, globally or per model."""

from __future__ import annotations

__all__ = ["User", "add_user", "grant_role", "list_users", "revoke_role", "user_grants"]

from dataclasses import dataclass

from sqlalchemy import Connection, select

from shipline.errors import ConflictError, NotFoundError
from shipline.identity.principal import Grant
from shipline.identity.role import ANY_MODEL, Role
from shipline.store import Database, Transaction, utc_now
from shipline.store.tables import role_grants, users
from shipline.types import check_name


@dataclass(frozen=True)
class User:
    """A person or a machine known to the team server."""

    name: str
    grants: tuple[Grant, ...]
    created_at: str
    created_by: str


def add_user(db: Database, name: str, grants: tuple[Grant, ...], actor: str) -> User:
    """Create a user holding ``grants``; refused if the name is taken."""
    check_name(name, "user name")
    with db.write(actor) as tx:
        if _user_id(tx.conn, name) is not None:
            raise ConflictError(f"user {name!r} already exists")
        tx.conn.execute(users.insert().values(name=name, created_at=utc_now(), created_by=actor))
        tx.record("user.add", f"user:{name}", None, {})
        for grant in grants:
            _grant(tx, name, grant)
        return _load(tx.conn, name)


def grant_role(db: Database, name: str, grant: Grant, actor: str) -> User:
    """Give ``name`` a role (on one model or all); granting one already held changes nothing."""
    with db.write(actor) as tx:
        _require(tx.conn, name)
        if grant not in user_grants(tx.conn, name):
            _grant(tx, name, grant)
        return _load(tx.conn, name)


def revoke_role(db: Database, name: str, grant: Grant, actor: str) -> User:
    """Take a role away; it takes effect on the user's next request."""
    with db.write(actor) as tx:
        user_id = _require(tx.conn, name)
        removed = tx.conn.execute(
            role_grants.delete().where(
                role_grants.c.user_id == user_id,
                role_grants.c.role == grant.role,
                role_grants.c.model == grant.model,
            )
        ).rowcount
        if not removed:
            raise NotFoundError(f"user {name!r} holds no role {grant.role} on {grant.model}")
        tx.record("user.revoke_role", f"user:{name}", _shown(grant), None)
        return _load(tx.conn, name)


def list_users(db: Database) -> list[User]:
    """Every user, by name."""
    with db.read() as conn:
        names = conn.execute(select(users.c.name).order_by(users.c.name)).scalars().all()
        return [_load(conn, n) for n in names]


def user_grants(conn: Connection, name: str) -> tuple[Grant, ...]:
    """The roles ``name`` holds now (none for an unknown user)."""
    rows = conn.execute(
        select(role_grants.c.role, role_grants.c.model)
        .join(users, users.c.id == role_grants.c.user_id)
        .where(users.c.name == name)
        .order_by(role_grants.c.role, role_grants.c.model)
    )
    return tuple(Grant(Role(r.role), r.model) for r in rows)


def _grant(tx: Transaction, name: str, grant: Grant) -> None:
    if grant.model != ANY_MODEL:
        check_name(grant.model, "model name")
    tx.conn.execute(
        role_grants.insert().values(
            user_id=_require(tx.conn, name), role=grant.role, model=grant.model
        )
    )
    tx.record("user.grant_role", f"user:{name}", None, _shown(grant))


def _shown(grant: Grant) -> dict[str, str]:
    return {"role": str(grant.role), "model": grant.model}


def _user_id(conn: Connection, name: str) -> int | None:
    return conn.execute(select(users.c.id).where(users.c.name == name)).scalar()


def _require(conn: Connection, name: str) -> int:
    user_id = _user_id(conn, name)
    if user_id is None:
        raise NotFoundError(f"no user {name!r}; add one with `shipline users add`")
    return user_id


def _load(conn: Connection, name: str) -> User:
    row = conn.execute(select(users).where(users.c.name == name)).one()
    return User(row.name, user_grants(conn, name), row.created_at, row.created_by)
