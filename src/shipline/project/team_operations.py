"""Who acts, and the team server's users and tokens (a part of ``Project``)."""

from __future__ import annotations

__all__ = ["TeamOperations"]

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shipline.identity.api_token import ApiToken, IssuedToken
    from shipline.identity.principal import Grant
    from shipline.identity.user import User
    from shipline.settings import Settings
    from shipline.store import Database


class _Opened(Protocol):
    """What these methods use of the project they are part of."""

    @property
    def settings(self) -> Settings:
        """Resolved settings."""
        ...

    def db(self, read_only: bool = False) -> Database:
        """The metadata database."""
        ...


class TeamOperations:
    """Users, role grants and API tokens, kept where the database is."""

    def whoami(self: _Opened) -> dict[str, Any]:
        """Who this project acts as: locally, the OS user (or ``SHIPLINE_USER``); it is a
        single-user mode, with no credential behind the name."""
        return {"name": self.settings.actor, "via": "local", "grants": []}

    def users(self: _Opened) -> list[User]:
        """Every user of the team server and their roles."""
        from shipline.identity.user import list_users

        return list_users(self.db())

    def add_user(self: _Opened, name: str, grants: tuple[Grant, ...]) -> User:
        """A new team-server user holding ``grants``."""
        from shipline.identity.user import add_user

        return add_user(self.db(), name, grants, self.settings.actor)

    def grant_role(self: _Opened, name: str, grant: Grant) -> User:
        """Give a user a role (on one model or all)."""
        from shipline.identity.user import grant_role

        return grant_role(self.db(), name, grant, self.settings.actor)

    def revoke_role(self: _Opened, name: str, grant: Grant) -> User:
        """Take a role away from a user."""
        from shipline.identity.user import revoke_role

        return revoke_role(self.db(), name, grant, self.settings.actor)

    def issue_token(
        self: _Opened, name: str, user: str | None, expires_days: int | None
    ) -> IssuedToken:
        """A new API token for ``user`` (its secret is in the answer only)."""
        from shipline.identity.api_token import issue_token

        owner = user or self.settings.actor
        return issue_token(self.db(), owner, name, expires_days, self.settings.actor)

    def tokens(self: _Opened, user: str | None = None) -> list[ApiToken]:
        """API tokens (never their secrets), of one user when given."""
        from shipline.identity.api_token import list_tokens

        return list_tokens(self.db(), user)

    def revoke_token(self: _Opened, token_id: int) -> ApiToken:
        """Revoke an API token; the next request with it is refused."""
        from shipline.identity.api_token import revoke_token

        return revoke_token(self.db(), token_id, self.settings.actor)
