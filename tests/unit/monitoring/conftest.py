"""The trained project of a monitoring test module, opened as the monitoring bot."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipline.project import Project


@pytest.fixture
def project(trained: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """The module's ``trained`` project folder, opened with no SHIPLINE_* settings but the
    user."""
    for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SHIPLINE_USER", "monitor-bot")
    with Project.open(trained) as opened:
        yield opened
