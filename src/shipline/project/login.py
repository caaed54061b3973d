"""Where a remote-mode client finds the team server and its token: ``SHIPLINE_URL`` and
``SHIPLINE_TOKEN``, else the file ``shipline login`` wrote (mode 0600, in the user's config
folder)."""

from __future__ import annotations

__all__ = ["Login", "check_url", "credentials_path", "find_login", "forget_login", "save_login"]

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipline.errors import UsageError


@dataclass(frozen=True)
class Login:
    """A team server's URL and the token to present to it."""

    url: str
    token: str


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/shipline/credentials.json`` (``~/.config`` by default)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base) / "shipline" / "credentials.json"


def check_url(url: str) -> str:
    """The server's base URL without a trailing slash, or a clear error."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise UsageError(f"expected the team server's URL, http(s)://host[:port], got {url!r}")
    return url.strip().rstrip("/")


def find_login(environ: Mapping[str, str] | None = None) -> Login | None:
    """The login to use, or ``None`` for local mode."""
    import orjson

    env = os.environ if environ is None else environ
    url, token = env.get("SHIPLINE_URL", "").strip(), env.get("SHIPLINE_TOKEN", "").strip()
    if url or token:
        if not (url and token):
            raise UsageError("SHIPLINE_URL and SHIPLINE_TOKEN go together; one is not set")
        return Login(check_url(url), token)
    path = credentials_path(env)
    if not path.is_file():
        return None
    try:
        saved = orjson.loads(path.read_bytes())
        return Login(check_url(saved["url"]), str(saved["token"]))
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise UsageError(f"{path}: not a shipline login ({error}); run `shipline login`") from None


def save_login(login: Login, environ: Mapping[str, str] | None = None) -> Path:
    """Keep the login in a file only its owner can read (written whole or not at all)."""
    import orjson

    path = credentials_path(environ)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(orjson.dumps({"url": login.url, "token": login.token}))
        out.flush()
        os.fsync(out.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def forget_login(environ: Mapping[str, str] | None = None) -> bool:
    """Remove the saved login; whether there was one."""
    path = credentials_path(environ)
    if path.is_file():
        path.unlink()
        return True
    return False
