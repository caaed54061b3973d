"""The layering the design notes describe is the one import-linter enforces."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_design_notes_list_the_layers_of_the_import_linter_contract() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in contracts["contracts"] if c["type"] == "layers")["layers"]
    notes = (ROOT / "docs" / "design-notes.md").read_text()
    section = notes.split("## Layers", 1)[1]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block is not None, "docs/design-notes.md: no layer list under '## Layers'"
    assert block.group(1).splitlines() == layers
