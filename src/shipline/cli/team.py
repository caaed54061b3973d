"""The team server and who may use it: ``server``, ``login``, ``logout``, ``whoami``,
``users`` and ``tokens``."""

from __future__ import annotations

__all__ = ["login", "logout", "server", "tokens_app", "users_app", "whoami"]

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipline.cli.output import print_json, print_table, when
from shipline.identity.principal import Grant
from shipline.project import Project

if TYPE_CHECKING:
    from shipline.identity.api_token import IssuedToken
    from shipline.identity.user import User

users_app = typer.Typer(help="Team-server users and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
RoleOption = Annotated[
    str,
    typer.Option(
        "--role",
        help=(
            "viewer, data-scientist, ml-engineer, approver, admin; for machines: predictor, "
            "serving, controller."
        ),
    ),
]
ModelOption = Annotated[
    str, typer.Option("--model", help="Only on this model (default: every model).")
]
ExpiryOption = Annotated[
    int,
    typer.Option("--expires-days", min=0, max=3650, help="Days until it expires (0: never)."),
]


def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Proxies trusted for X-Forwarded-For/-Proto (behind a TLS reverse proxy).",
        ),
    ] = None,
) -> None:
    """Run the team server: the management API at /api/v1 (OpenAPI at /api/v1/openapi.json)."""
    from shipline.api.team_server import exposure_warning, run_team_server

    project: Project = ctx.obj
    warning = exposure_warning(host, tls_cert is not None, forwarded_allow_ips)
    if warning:
        typer.echo(warning, err=True)
    scheme = "https" if tls_cert else "http"
    typer.echo(f"team server on {scheme}://{host}:{port}/api/v1", err=True)
    run_team_server(project.settings, host, port, tls_cert, tls_key, forwarded_allow_ips)


def login(
    url: Annotated[str, typer.Argument(help="The team server, e.g. https://shipline.example")],
    token: Annotated[
        str | None,
        typer.Option("--token", help="API token (default: read from standard input)."),
    ] = None,
) -> None:
    """Use a team server from now on: checks the token, keeps it in a 0600 file."""
    import sys

    from shipline.project.login import Login, check_url, save_login
    from shipline.project.remote import RemoteProject

    secret = (token or sys.stdin.readline()).strip()
    if not secret:
        raise typer.BadParameter("no token given (--token, or on standard input)")
    chosen = Login(check_url(url), secret)
    with RemoteProject(login=chosen) as remote:
        who = remote.whoami()  # a bad token is refused before anything is saved
    path = save_login(chosen)
    typer.echo(f"logged in to {chosen.url} as {who['name']} (token kept in {path})")


def logout() -> None:
    """Forget the saved team-server login (local mode again)."""
    from shipline.project.login import forget_login

    typer.echo("logged out" if forget_login() else "not logged in")


def whoami(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Who shipline acts as here: the authenticated principal, or the local OS user."""
    project: Project = ctx.obj
    found = project.whoami()
    if as_json:
        print_json(found)
        return
    roles = ", ".join(f"{g['role']} on {g['model']}" for g in found["grants"]) or "none"
    typer.echo(f"{found['name']} ({found['via']}); roles: {roles}")


def _show_user(user: User, as_json: bool) -> None:
    if as_json:
        print_json(_user_view(user))
    else:
        typer.echo(f"{user.name}: {_roles(user)}")


def _user_view(user: User) -> dict[str, object]:
    grants = [{"role": str(g.role), "model": g.model} for g in user.grants]
    return {"name": user.name, "grants": grants, "created_at": user.created_at}


def _roles(user: User) -> str:
    return ", ".join(f"{g.role} on {g.model}" for g in user.grants) or "no roles"


def _show_token(issued: IssuedToken, as_json: bool) -> None:
    """The secret alone on standard output (so `> file` keeps just the token), the rest on
    standard error."""
    token = issued.token
    if as_json:
        print_json({"id": token.id, "user": token.user, "token": issued.secret})
        return
    expiry = token.expires_at or "never"
    typer.echo(f"token {token.id} for {token.user}, expires {expiry}, shown this once:", err=True)
    typer.echo(issued.secret)


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (letters, digits, . _ -).")],
    role: RoleOption,
    model: ModelOption = "*",
    expires_days: ExpiryOption = 90,
    as_json: JsonOption = False,
) -> None:
    """Add a user with a role and print their first token, once (bootstraps the first admin
    where the database is reachable)."""
    project: Project = ctx.obj
    user = project.add_user(name, (Grant.parse(role, model),))
    issued = project.issue_token("first", user.name, expires_days or None)
    if not as_json:
        typer.echo(f"added {user.name}: {_roles(user)}", err=True)
    _show_token(issued, as_json)


@users_app.command("list")
def users_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every user and their roles."""
    project: Project = ctx.obj
    found = project.users()
    if as_json:
        print_json([_user_view(u) for u in found])
        return
    print_table(
        "Users",
        ("user", "roles", "added (UTC)"),
        [(u.name, _roles(u), when(u.created_at)) for u in found],
    )


@users_app.command("grant")
def users_grant(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    role: RoleOption,
    model: ModelOption = "*",
    as_json: JsonOption = False,
) -> None:
    """Give a user a role, on one model or every model."""
    project: Project = ctx.obj
    _show_user(project.grant_role(name, Grant.parse(role, model)), as_json)


@users_app.command("revoke")
def users_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.")],
    role: RoleOption,
    model: ModelOption = "*",
    as_json: JsonOption = False,
) -> None:
    """Take a role away; the user's next request sees it."""
    project: Project = ctx.obj
    _show_user(project.revoke_role(name, Grant.parse(role, model)), as_json)


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the token is for, e.g. laptop, ci.")],
    user: Annotated[
        str | None, typer.Option("--user", help="For this user (default: yourself).")
    ] = None,
    expires_days: ExpiryOption = 90,
    as_json: JsonOption = False,
) -> None:
    """A new API token, printed once."""
    project: Project = ctx.obj
    _show_token(project.issue_token(name, user, expires_days or None), as_json)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens (never their secrets): expiry, last use, revocation."""
    project: Project = ctx.obj
    found = project.tokens(user)
    if as_json:
        print_json([t.__dict__ for t in found])
        return
    rows = [
        (t.id, t.user, t.name, t.expires_at or "never", t.last_used_at or "-", t.revoked_at or "")
        for t in found
    ]
    print_table("Tokens", ("id", "user", "name", "expires", "last used", "revoked"), rows)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="Token id (from `shipline tokens list`).")],
) -> None:
    """Revoke a token; the next request that presents it is refused."""
    project: Project = ctx.obj
    token = project.revoke_token(token_id)
    typer.echo(f"revoked token {token.id} of {token.user}")
