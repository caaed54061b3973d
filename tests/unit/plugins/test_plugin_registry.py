"""A registry finds implementations registered in-process, shipline's own (imported only when
named) and installed packages' entry points (read only when a name is not found otherwise)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipline.errors import UsageError
from shipline.plugin import PluginRegistry


@dataclass(frozen=True)
class Named:
    name: str


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package installed with an entry point in the group ``shipline.test_things``."""
    (tmp_path / "thing_package.py").write_text(
        "from dataclasses import dataclass\n\n"
        "@dataclass(frozen=True)\nclass Thing:\n    name: str\n\n"
        "FANCY = Thing('fancy')\nMISNAMED = Thing('other')\n"
    )
    info = tmp_path / "thing_package-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thing-package\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[shipline.test_things]\nfancy = thing_package:FANCY\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("thing_package", None)


def test_an_installed_entry_point_is_found_by_name(installed: Path) -> None:
    registry: PluginRegistry[Named] = PluginRegistry("shipline.test_things", "thing", {})
    assert registry.get("fancy").name == "fancy"
    assert registry.names() == ("fancy",)


def test_builtins_load_only_when_named_and_must_carry_their_name(installed: Path) -> None:
    registry: PluginRegistry[Named] = PluginRegistry(
        "shipline.no_such_group",
        "thing",
        {"fancy": "thing_package:FANCY", "wrong": "thing_package:MISNAMED"},
    )
    assert "thing_package" not in sys.modules  # nothing imported yet
    assert registry.get("fancy").name == "fancy" and "thing_package" in sys.modules
    with pytest.raises(UsageError, match="is named 'other', not 'wrong'"):
        registry.get("wrong")


def test_unknown_names_list_the_known_and_names_are_taken_once() -> None:
    registry: PluginRegistry[Named] = PluginRegistry("shipline.no_such_group", "thing", {})
    registry.register(Named("one"))
    with pytest.raises(UsageError, match=r"unknown thing 'two'; expected one of: one"):
        registry.get("two")
    with pytest.raises(UsageError, match="already registered"):
        registry.register(Named("one"))
    with pytest.raises(UsageError, match="non-empty name"):
        registry.register(Named(""))
    registry.unregister("one")
    assert "one" not in registry and registry.names() == ()
