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
        # mkstemp makes the file 0600; a report is for people, so give it the mode any new
        # file gets under the user's umask, as open() would.
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask: from /proc where it is shown (no change to process state), else by
    setting it and putting it back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current
