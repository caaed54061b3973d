"""``shipline server``: the one process that holds the database and store credentials and
serves the management API. It keeps no state of its own beyond caches, so several processes
on one PostgreSQL database work together."""

from __future__ import annotations

__all__ = ["exposure_warning", "open_server_state", "run_team_server"]

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipline.api.credentials import ServerState
from shipline.errors import UsageError
from shipline.settings import Settings


def open_server_state(settings: Settings, environ: Mapping[str, str] | None = None) -> ServerState:
    """Open the database (migrated), the content store and the SSO verifier."""
    from shipline.artifacts import open_content_store
    from shipline.identity.oidc import OidcSettings, OidcVerifier
    from shipline.store import open_database

    oidc = OidcSettings.from_environ(os.environ if environ is None else environ)
    return ServerState(
        open_database(settings.db_url),
        open_content_store(settings.store_url, settings.state_dir / "cache"),
        None if oidc is None else OidcVerifier(oidc),
        settings.dask,
        settings.signing_key,
    )


def exposure_warning(host: str, tls: bool, forwarded_allow_ips: str | None) -> str | None:
    """A warning when the server listens beyond loopback with neither TLS nor a proxy."""
    if tls or forwarded_allow_ips:
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"warning: listening on {host} without TLS: tokens would cross the network in clear "
        "text. Use --tls-cert/--tls-key, or a TLS reverse proxy with --forwarded-allow-ips."
    )


def run_team_server(
    settings: Settings,
    host: str,
    port: int,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve the API until SIGTERM (in-flight requests finish first) or Ctrl-C."""
    from shipline.api.app import create_app
    from shipline.server.runner import run_app

    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    for path in (tls_cert, tls_key):
        if path is not None and not path.is_file():
            raise UsageError(f"{path}: no such file (TLS certificate or key)")
    server = open_server_state(settings)
    options: dict[str, Any] = {}
    if tls_cert is not None and tls_key is not None:
        options |= {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)}
    if forwarded_allow_ips:
        options |= {"proxy_headers": True, "forwarded_allow_ips": forwarded_allow_ips}
    else:
        options |= {"proxy_headers": False}
    try:
        run_app(create_app(server), host, port, **options)
    finally:
        server.db.close()
