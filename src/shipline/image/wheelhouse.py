"""The wheels a shipline image installs: shipline itself and every dependency, pinned.

Wheels only (the base image has no compiler), for this interpreter's Python version and
platform, downloaded by pip here so the image build itself needs no network. The pins are the
project's constraints file when it has one, else exactly the versions installed here: the
environment the model was checked and served in on this machine.
"""

from __future__ import annotations

__all__ = ["Wheelhouse", "fill_wheelhouse", "installed_constraints"]

import json
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from shipline.errors import ShiplineError


@dataclass(frozen=True)
class Wheelhouse:
    """A folder of wheels and the constraints they were chosen by."""

    folder: Path
    shipline_wheel: str
    python: str
    wheels: int


def installed_constraints() -> str:
    """``name==version`` for every distribution installed here but shipline itself."""
    pins = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "shipline":
            pins.add(f"{name}=={dist.version}")
    return "\n".join(sorted(pins, key=str.lower)) + "\n"


def fill_wheelhouse(folder: Path, extras: tuple[str, ...], constraints: str) -> Wheelhouse:
    """Put shipline's wheel and its dependencies' wheels (with ``extras``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "constraints.txt").write_text(constraints)
    wheel = _shipline_wheel(folder)
    extra = f"[{','.join(extras)}]" if extras else ""
    _pip(
        "download",
        "--only-binary=:all:",
        "--dest",
        str(folder),
        "--constraint",
        str(folder / "constraints.txt"),
        f"{folder / wheel}{extra}",
    )
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return Wheelhouse(folder, wheel, python, len(list(folder.glob("*.whl"))))


def _shipline_wheel(folder: Path) -> str:
    """shipline's own wheel: built from the source folder it is installed from (an editable or
    local install), else downloaded at the installed version."""
    before = set(folder.glob("shipline-*.whl"))
    source = _source_folder()
    if source is not None:
        _pip("wheel", "--no-deps", "--wheel-dir", str(folder), str(source))
    else:
        version = metadata.version("shipline")
        _pip("download", "--no-deps", "--dest", str(folder), f"shipline=={version}")
    made = sorted(set(folder.glob("shipline-*.whl")) - before) or sorted(before)
    if not made:
        raise ShiplineError(f"{folder}: pip produced no shipline wheel")
    return made[-1].name


def _source_folder() -> Path | None:
    """The folder shipline was installed from, when it was installed from one."""
    text = metadata.distribution("shipline").read_text("direct_url.json")
    if not text:
        return None
    found = json.loads(text)
    url = str(found.get("url", ""))
    if "dir_info" not in found or not url.startswith("file://"):
        return None
    return Path(url.removeprefix("file://"))


def _pip(*arguments: str) -> None:
    """Run pip with this interpreter; its own message when it fails."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-12:])
        raise ShiplineError(
            f"pip {arguments[0]} failed while collecting the image's wheels:\n{tail}"
        )
