"""Files written for people (reports, exports): whole or not at all."""

from __future__ import annotations

__all__ = ["write_atomically"]

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temp file beside ``path``, fsync it, then rename it over ``path``."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        from shipline.errors import UsageError

        raise UsageError(f"{path}: folder {folder} does not exist")
    handle, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
