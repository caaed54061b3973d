"""data.source: the local path rule (inside the project, symbolic links included) and URLs read
through fsspec, S3 tested on a real SeaweedFS: ingest, fingerprint, the new-data trigger."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from shipline.controller.trigger_event import list_events as trigger_events
from shipline.data import resolve_version
from shipline.data.data_source import resolve_source
from shipline.errors import DataFileError
from shipline.project import Project
from tests.conftest import s3_environment
from tests.services import SeaweedS3
from tests.unit.controller.conftest import BASE_CONFIG, churn_rows


def test_relative_sources_stay_inside_the_project_links_included(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "ok.csv").write_text("a\n1\n")
    outside = tmp_path / "secret.csv"
    outside.write_text("a\n1\n")
    (project / "data" / "link.csv").symlink_to(outside)
    (project / "inner.csv").symlink_to(project / "data" / "ok.csv")
    assert resolve_source(project, "data/ok.csv").path == (project / "data" / "ok.csv").resolve()
    assert resolve_source(project, "inner.csv").path == (project / "data" / "ok.csv").resolve()
    for source in ("data/link.csv", "../secret.csv", "data/../../secret.csv"):
        with pytest.raises(DataFileError, match="outside the project folder"):
            resolve_source(project, source)
    # Written out in full, data elsewhere is visible to reviewers, and allowed.
    assert resolve_source(project, str(outside)).path == outside
    assert resolve_source(project, f"file://{outside}").path == outside


def test_a_run_refuses_a_source_linked_outside_the_project(
    project: Project, folder: Path, write_config: Callable[[str], None]
) -> None:
    outside = folder.parent / f"{folder.name}-elsewhere.csv"
    churn_rows(200, 3).to_csv(outside, index=False)
    (folder / "data" / "churn.csv").unlink()
    (folder / "data" / "churn.csv").symlink_to(outside)
    write_config("")
    run = project.run()
    assert run.status == "failed" and "outside the project folder" in (run.error or "")


@pytest.fixture
def s3_source(
    s3_server: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Callable[[bytes], None]]:
    import s3fs

    for key, value in s3_environment(s3_server).items():
        monkeypatch.setenv(key, value)
    fs = s3fs.S3FileSystem(
        key="shipline", secret="shipline", client_kwargs={"endpoint_url": s3_server.endpoint}
    )
    url = f"s3://{s3_server.bucket}/sources-{uuid.uuid4().hex[:8]}/churn.csv"

    def upload(data: bytes) -> None:
        fs.pipe_file(url.removeprefix("s3://"), data)

    return url, upload


def test_an_s3_source_is_ingested_and_its_changes_fire_new_data(
    project: Project,
    folder: Path,
    write_config: Callable[[str], None],
    s3_source: tuple[str, Callable[[bytes], None]],
    now: datetime,
) -> None:
    url, upload = s3_source
    upload(churn_rows(300, 5).to_csv(index=False).encode())
    (folder / "shipline.yaml").write_text(
        BASE_CONFIG.replace("source: data/churn.csv", f"source: {url}")
        + "retraining:\n  triggers:\n    - new_data: true\n"
    )
    first = project.run()
    assert first.status == "succeeded", first.error
    version = resolve_version(project.db(), "churn@v1")
    assert version.source == url and version.rows == 300
    assert [s.status for s in project.run().steps] == ["cached"] * 7  # unchanged object

    project.apply()
    project.controller(now=now).run_pass()  # baseline: a version exists, nothing fires
    assert trigger_events(project.db(), "churn") == []
    upload(churn_rows(400, 6).to_csv(index=False).encode())
    project.controller(now=now).run_pass()
    events = trigger_events(project.db(), "churn")
    assert [(e.kind, e.evidence["rows"], e.evidence["source"]) for e in events] == [
        ("new_data", 400, url)
    ]
    assert resolve_version(project.db(), "churn@v2").rows == 400
