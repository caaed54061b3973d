"""Users, role grants and API tokens on SQLite and PostgreSQL; the role table; SSO settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from shipline.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthenticatedError,
    UsageError,
)
from shipline.identity import Permission, Role
from shipline.identity.api_token import authenticate_token, issue_token, revoke_token
from shipline.identity.oidc import OidcSettings, parse_role_map
from shipline.identity.principal import Grant, Principal
from shipline.identity.user import add_user, grant_role, revoke_role
from shipline.store import Database, open_database
from shipline.store.tables import api_tokens


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.close()


def test_a_token_is_random_shown_once_and_stored_only_as_a_hash(db: Database) -> None:
    add_user(db, "dana", (Grant(Role.DATA_SCIENTIST, "churn"),), "root")
    first = issue_token(db, "dana", "laptop", 30, "root")
    second = issue_token(db, "dana", "ci", None, "root")
    assert first.secret != second.secret and len(first.secret) >= 4 + 43  # 256 bits, base64
    with db.read() as conn:
        stored = conn.execute(select(api_tokens)).all()
    assert all(first.secret not in str(tuple(row)) for row in stored)
    principal = authenticate_token(db, first.secret)
    assert principal.name == "dana" and principal.via == f"token {first.token.id}"
    assert principal.may(Permission.RUN, "churn") and not principal.may(Permission.RUN, "fraud")
    assert second.token.expires_at is None and first.token.expires_at is not None


def test_revoked_unknown_and_malformed_tokens_are_refused_alike(db: Database) -> None:
    add_user(db, "vic", (Grant(Role.VIEWER),), "root")
    issued = issue_token(db, "vic", "laptop", 1, "root")
    revoke_token(db, issued.token.id, "root")
    for secret in (issued.secret, "shp_unknown", "no-prefix", "shp_" + "x" * 300):
        with pytest.raises(UnauthenticatedError, match="invalid, expired or revoked token"):
            authenticate_token(db, secret)


def test_only_the_owner_or_a_user_manager_revokes_a_token(db: Database) -> None:
    add_user(db, "ann", (), "root")
    add_user(db, "bea", (), "root")
    issued = issue_token(db, "ann", "laptop", 1, "root")
    with pytest.raises(ForbiddenError, match="not yours"):
        revoke_token(db, issued.token.id, "bea", owner="bea")
    assert revoke_token(db, issued.token.id, "ann", owner="ann").revoked_at is not None


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_a_token_expiry_out_of_range_is_refused(db: Database, days: int) -> None:
    add_user(db, "ann", (), "root")
    with pytest.raises(UsageError, match="1 to 3650 days"):
        issue_token(db, "ann", "laptop", days, "root")


def test_users_and_grants_are_checked_and_audited(db: Database) -> None:
    from shipline.audit import list_events

    add_user(db, "erin", (Grant(Role.ML_ENGINEER, "churn"),), "root")
    with pytest.raises(ConflictError, match="already exists"):
        add_user(db, "erin", (), "root")
    with pytest.raises(UsageError):
        add_user(db, "../etc", (), "root")
    assert grant_role(db, "erin", Grant(Role.APPROVER), "root").grants == (
        Grant(Role.APPROVER),
        Grant(Role.ML_ENGINEER, "churn"),
    )
    assert grant_role(db, "erin", Grant(Role.APPROVER), "root").grants[0] == Grant(Role.APPROVER)
    with pytest.raises(NotFoundError, match="no role viewer"):
        revoke_role(db, "erin", Grant(Role.VIEWER), "root")
    with pytest.raises(NotFoundError, match="no user 'zed'"):
        grant_role(db, "zed", Grant(Role.VIEWER), "root")
    actions = [e.action for e in list_events(db, 20, "user:erin")]
    assert actions == ["user.add", "user.grant_role", "user.grant_role"]


def test_a_grant_on_one_model_never_covers_operations_on_every_model() -> None:
    scoped = Principal("fran", "token 1", (Grant(Role.ADMIN, "fraud"),))
    assert scoped.may(Permission.MANAGE_USERS, "fraud")
    assert not scoped.may(Permission.MANAGE_USERS)
    with pytest.raises(ForbiddenError, match="may not read-audit: no role of theirs grants it"):
        scoped.require(Permission.READ_AUDIT)
    scoped.require_somewhere(Permission.READ_AUDIT)  # some model: lookups by id may proceed
    with pytest.raises(ForbiddenError):
        Principal("nobody", "token 2", ()).require_somewhere(Permission.READ)


def test_the_sso_settings_and_group_mapping_are_validated() -> None:
    assert parse_role_map("ml=ml-engineer, risk=approver:churn,ml=viewer") == {
        "ml": (Grant(Role.ML_ENGINEER), Grant(Role.VIEWER)),
        "risk": (Grant(Role.APPROVER, "churn"),),
    }
    for bad in ("ml", "ml=", "=viewer", "ml=root", "ml=viewer:../x"):
        with pytest.raises(UsageError):
            parse_role_map(bad)
    assert OidcSettings.from_environ({}) is None
    with pytest.raises(UsageError, match="SHIPLINE_OIDC_JWKS_URL is not"):
        OidcSettings.from_environ({"SHIPLINE_OIDC_ISSUER": "x", "SHIPLINE_OIDC_AUDIENCE": "a"})
    with pytest.raises(UsageError, match="0 to 86400 seconds"):
        OidcSettings.from_environ(
            {
                "SHIPLINE_OIDC_ISSUER": "x",
                "SHIPLINE_OIDC_AUDIENCE": "a",
                "SHIPLINE_OIDC_JWKS_URL": "http://127.0.0.1/jwks",
                "SHIPLINE_OIDC_JWKS_REFETCH_S": "soon",
            }
        )
