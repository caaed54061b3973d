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


def test_no_cli_verb_opens_the_database_or_store_itself() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(CLI.glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if REACHING_PAST.search(line)
    ]
    assert found == []
