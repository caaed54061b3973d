"""Where a run came from: the code commit, the environment, the configuration."""

from __future__ import annotations

__all__ = ["environment", "git_state"]

import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = (
    "shipline",
    "scikit-learn",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "joblib",
    "xgboost",
    "lightgbm",
)


def git_state(folder: Path) -> dict[str, Any]:
    """The commit checked out in ``folder`` and whether the work tree has changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if commit.returncode != 0:
            return {"git_commit": None, "git_dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": commit.stdout.strip(), "git_dirty": bool(status.stdout.strip())}


def environment() -> dict[str, Any]:
    """Python and the versions of the packages that decide what a model computes."""
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "packages": packages}
