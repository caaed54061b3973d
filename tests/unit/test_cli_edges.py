"""The CLI is a thin edge over the Python API: no verb reaches past ``Project`` into the
metadata database or the content store, so a notebook can do everything the CLI does."""

from __future__ import annotations

import re
from pathlib import Path

CLI = Path(__file__).resolve().parents[2] / "src" / "shipline" / "cli"
# Comparing two files (``shipline drift``) touches no state: shipline.monitoring's file
# functions are allowed; its stored reports, alarms and traffic are not.
REACHING_PAST = re.compile(
    r"\.db\(|\.store\(|from shipline\.(store|registry|audit|scoring|controller)\b"
    r"|from shipline\.monitoring\.(alarm|monitor_report|traffic|quality)\b"
)


def _runtime_lines(text: str) -> list[tuple[int, str]]:
    """The lines that run: an ``if TYPE_CHECKING:`` block names types, it opens nothing."""
    kept, typing_only = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("if TYPE_CHECKING:"):
            typing_only = True
            continue
        if typing_only and line and not line.startswith(" "):
            typing_only = False
        if not typing_only:
            kept.append((number, line))
    return kept


def test_no_cli_verb_opens_the_database_or_store_itself() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(CLI.glob("*.py"))
        for number, line in _runtime_lines(path.read_text())
        if REACHING_PAST.search(line)
    ]
    assert found == []
    # The rule is checked, not skipped: a runtime import of the store is found.
    assert _runtime_lines("from shipline.store import Database\n")[0][1].startswith("from")
