"""Where shipline keeps its state, read once from the environment.

The only module-level state in shipline. Everything else receives a ``Settings`` value.
"""

from __future__ import annotations

__all__ = [
    "CONFIG_FILENAME",
    "STATE_DIRNAME",
    "Settings",
    "find_project_dir",
    "load_settings",
    "shown_path",
]

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shipline.errors import UsageError

CONFIG_FILENAME = "shipline.yaml"
STATE_DIRNAME = ".shipline"


@dataclass(frozen=True)
class Settings:
    """Resolved locations and identity for one invocation."""

    project_dir: Path
    config_path: Path
    db_url: str
    store_url: str
    actor: str
    # SHIPLINE_DASK: a scheduler address, or "local", overriding shipline.yaml's compute.
    dask: str = ""
    # SHIPLINE_SIGNING_KEY: the team's PEM private key; versions registered here are signed.
    signing_key: Path | None = None
    # SHIPLINE_VERIFY_KEY: the team's PEM public key, which signatures are checked against.
    verify_key: Path | None = None
    # SHIPLINE_REQUIRE_SIGNED=1: serve (and build) only versions whose signature holds.
    require_signed: bool = False

    @property
    def state_dir(self) -> Path:
        """The ``.shipline/`` folder beside ``shipline.yaml``."""
        return self.project_dir / STATE_DIRNAME


def shown_path(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def find_project_dir(start: Path) -> Path:
    """Return the nearest folder at or above ``start`` holding a shipline.yaml, else ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILENAME).is_file():
            return folder
    return start


def _actor(environ: Mapping[str, str]) -> str:
    actor = environ.get("SHIPLINE_USER", "").strip()
    if not actor:
        try:
            actor = getpass.getuser()
        except (KeyError, OSError):
            actor = f"uid:{os.getuid()}"
    if len(actor) > 100 or not actor.isprintable():
        raise UsageError(
            f"SHIPLINE_USER must be at most 100 printable characters, got {actor[:40]!r}"
        )
    return actor


def load_settings(
    config_path: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the project folder, database URL, store URL and actor for this invocation."""
    env = os.environ if environ is None else environ
    if config_path is not None:
        config_path = config_path.resolve()
        project_dir = config_path.parent
    else:
        project_dir = find_project_dir(cwd or Path.cwd())
        config_path = project_dir / CONFIG_FILENAME
    state_dir = project_dir / STATE_DIRNAME
    db_url = env.get("SHIPLINE_DB", "").strip() or f"sqlite:///{state_dir / 'shipline.db'}"
    store_url = env.get("SHIPLINE_STORE", "").strip() or str(state_dir / "store")
    return Settings(
        project_dir=project_dir,
        config_path=config_path,
        db_url=db_url,
        store_url=store_url,
        actor=_actor(env),
        dask=env.get("SHIPLINE_DASK", "").strip(),
        signing_key=_path(env, "SHIPLINE_SIGNING_KEY"),
        verify_key=_path(env, "SHIPLINE_VERIFY_KEY"),
        require_signed=_flag(env, "SHIPLINE_REQUIRE_SIGNED"),
    )


def _path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value not in ("", "0", "1", "true", "false", "yes", "no"):
        raise UsageError(f"{name}: expected 1 or 0, found {value!r}")
    return value in ("1", "true", "yes")
