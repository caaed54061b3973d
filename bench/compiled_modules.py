"""Compile shipline's modules before a benchmark times process starts, as installing a wheel does."""

from __future__ import annotations

import compileall
from pathlib import Path

import shipline


def compile_shipline() -> None:
    """Write the bytecode of every shipline module (kept when already current)."""
    # An editable install (the benchmark's) leaves the modules to be compiled on first import,
    # and on every start where PYTHONDONTWRITEBYTECODE=1 is set: ~0.1 s a command that a user,
    # whose pip compiled the wheel at install, never pays.
    if not compileall.compile_dir(Path(shipline.__file__).parent, quiet=1):
        raise SystemExit("could not compile shipline's modules")
