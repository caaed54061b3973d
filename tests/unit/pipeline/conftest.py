"""A scaffolded project opened through the Python API, on the laptop defaults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shipline.project import Project
from shipline.scaffold import create_project


def open_as(folder: Path, user: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The project as seen by ``user`` (the actor recorded in runs, versions and the audit)."""
    monkeypatch.setenv("SHIPLINE_USER", user)
    return Project.open(folder)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """A fresh classification project (breast cancer) opened as 'alice'."""
    for key in ("SHIPLINE_DB", "SHIPLINE_STORE"):
        monkeypatch.delenv(key, raising=False)
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    with open_as(folder, "alice", monkeypatch) as opened:
        yield opened


def edit_config(project: Project, old: str, new: str) -> None:
    """Change shipline.yaml as a user would."""
    path = project.settings.config_path
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
