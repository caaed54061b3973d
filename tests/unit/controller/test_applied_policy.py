"""The approval policy comes from the model's applied config, read where the alias moves; the
caller's local shipline.yaml never decides (issue 12, governance)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipline.project import Project
from shipline.registry import list_approvals


def test_an_unapplied_local_policy_does_not_skip_the_approval(
    project: Project, write_config: Callable[[str], None]
) -> None:
    write_config("")  # the local file says production: auto
    assert project.run().status == "succeeded"
    promotion = project.promote("churn", 1, "production")  # nothing applied: production manual
    assert not promotion.moved and promotion.approval is not None
    assert [a.status for a in list_approvals(project.db())] == ["pending"]
    project.apply()
    assert project.promote("churn", 1, "production").moved  # the applied policy is auto


def test_editing_the_local_file_after_apply_changes_nothing(
    project: Project, folder: Path, write_config: Callable[[str], None]
) -> None:
    write_config("")
    project.apply()  # staging: auto, production: auto
    config = folder / "shipline.yaml"
    config.write_text(
        config.read_text().replace(
            "approval: {staging: auto, production: auto}",
            "approval: {staging: manual, production: manual}",
        )
    )
    assert project.config().deployment.approval.production == "manual"  # local, not applied
    assert project.run().status == "succeeded"
    assert project.version("churn@staging").version == 1  # the applied staging: auto
    assert project.promote("churn", 1, "production").moved


def test_a_policy_applied_as_manual_holds_against_a_local_auto(
    project: Project, folder: Path, write_config: Callable[[str], None]
) -> None:
    write_config("")
    config = folder / "shipline.yaml"
    manual = config.read_text().replace(
        "approval: {staging: auto, production: auto}",
        "approval: {staging: manual, production: manual}",
    )
    config.write_text(manual)
    project.apply()
    config.write_text(manual.replace("manual", "auto"))  # edited back, never applied
    assert project.run().status == "succeeded"
    pending = list_approvals(project.db(), "pending")
    assert [(a.alias, a.version) for a in pending] == [("staging", 1)]  # the run asked
    assert not project.promote("churn", 1, "production").moved


def test_promoting_another_model_follows_that_models_policy(
    project: Project,
    folder: Path,
    write_config: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_config("")
    project.apply()
    assert project.run().status == "succeeded"
    other = folder / "other"
    (other / "data").mkdir(parents=True)
    (other / "data" / "churn.csv").write_bytes((folder / "data" / "churn.csv").read_bytes())
    (other / "shipline.yaml").write_text(
        (folder / "shipline.yaml").read_text().replace("name: churn", "name: fraud")
    )
    # One team registry: both folders use the same database and store.
    monkeypatch.setenv("SHIPLINE_DB", project.settings.db_url)
    monkeypatch.setenv("SHIPLINE_STORE", project.settings.store_url)
    with Project.open(other) as fraud:
        assert fraud.run().status == "succeeded"
    # From churn's folder (applied: production auto), fraud has no applied policy: manual.
    assert not project.promote("fraud", 1, "production").moved
    assert project.promote("churn", 1, "production").moved


def test_rolling_production_back_follows_the_promotion_policy(
    project: Project, folder: Path, write_config: Callable[[str], None]
) -> None:
    write_config("")
    project.apply()  # production: auto
    assert project.run().status == "succeeded"
    data = folder / "data" / "churn.csv"
    data.write_text(data.read_text() + data.read_text().split("\n", 1)[1])  # rows twice: v2
    assert project.run().status == "succeeded"
    assert project.promote("churn", 1, "production").moved
    assert project.promote("churn", 2, "production").moved
    config = folder / "shipline.yaml"
    config.write_text(config.read_text().replace("production: auto", "production: manual"))
    project.apply()
    back = project.rollback("churn", "production", "version 2 misbehaves")
    assert not back.moved and back.approval is not None and back.version.version == 1
    assert project.version("churn@production").version == 2  # nothing moved yet
    staged = project.rollback("churn", "staging")  # staging: auto, at once, as a rollback
    assert staged.moved and staged.version.version == 1
    assert project.alias_history("churn", "staging")[-1].kind == "rollback"
