"""`plan` and `apply`: the applied config is the model's desired state, versioned and audited."""

from __future__ import annotations

from collections.abc import Callable

from shipline.audit import list_events
from shipline.project import Project


def test_apply_records_versions_and_plan_names_the_changes(
    project: Project, write_config: Callable[[str], None]
) -> None:
    write_config("retraining:\n  triggers:\n    - new_data: true\n")
    first = project.plan()
    assert {("triggers", "add")} <= {(c.section, c.action) for c in first}
    applied, changes = project.apply()
    assert applied.version == 1 and changes == first
    assert project.plan() == []
    again, nothing = project.apply()
    assert again.version == 1 and nothing == []
    write_config(
        "retraining:\n  triggers:\n    - cron: '0 3 * * *'\n  cooldown: 2h\n"
        "monitoring:\n  schedule: '*/30 * * * *'\n"
    )
    planned = {(c.section, c.path, c.action, str(c.before), str(c.after)) for c in project.plan()}
    assert ("triggers", "retraining.triggers", "remove", "{'new_data': True}", "None") in planned
    assert ("triggers", "retraining.triggers", "add", "None", "{'cron': '0 3 * * *'}") in planned
    assert ("schedule", "monitoring.schedule", "change", "None", "*/30 * * * *") in planned
    assert ("other", "retraining.cooldown", "change", "None", "2h") in planned
    config = project.settings.config_path
    config.write_text(
        config.read_text().replace("production: auto", "production: manual, approvers: 2")
    )
    approval = [c for c in project.plan() if c.section == "approval"]
    assert {(c.path, c.before, c.after) for c in approval} == {
        ("deployment.approval.production", "auto", "manual"),
        ("deployment.approval.approvers", 1, 2),
    }
    second, _ = project.apply()
    assert second.version == 2
    events = list_events(project.db(), action="config.apply")
    assert [e.actor for e in events] == ["controller-bot", "controller-bot"]
    status = project.status("churn")[0]
    assert status["applied_config"]["version"] == 2
    assert {n["event"] for n in status["next"]} == {"retrain (cron 0 3 * * *)", "monitoring"}
