"""Running a command with stderr on a pseudo-terminal, as a person at a terminal sees it."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path


def run_on_terminal(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, bytes]:
    """Exit code, stdout, and everything written to the terminal on stderr."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=follower, text=True
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        shown += data
    out, _ = process.communicate(timeout=120)
    os.close(leader)
    return process.returncode, out, shown
