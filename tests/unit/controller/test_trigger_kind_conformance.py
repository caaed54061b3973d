"""Every trigger kind (shipline's and one added by a test) passes the same checks, and one
added through the plug-in point alone retrains a model through the controller."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipline.config import parse_config
from shipline.config.trigger_kind import TRIGGER_KINDS, TriggerKind, TriggerWatch
from shipline.controller.trigger_event import list_events
from shipline.controller.trigger_watch import detect_triggers
from shipline.errors import ConfigError
from shipline.project import Project
from shipline.registry.applied_config import latest_applied
from tests.unit.controller.conftest import BASE_CONFIG, write_oci_layout

EXAMPLES: dict[str, Any] = {
    "cron": "*/5 * * * *",
    "new_data": True,
    "environment": "requirements.lock",
    "alarm": "drift",
    "image": "oci:image-layout:trainer",
    "flag_file": "retrain.flag",
}


@dataclass(frozen=True)
class FlagFile:
    """A toy kind: fires whenever the named file holds a token it has not seen."""

    name: str = "flag_file"
    value_type: Any = str

    def look(self, value: str, watch: TriggerWatch) -> None:
        path = watch.project_dir / value
        token = path.read_text().strip() if path.is_file() else ""
        if token and token != watch.remembered("flag"):
            watch.fire(f"flag:{token}", {"file": value, "token": token})
            watch.remember("flag", token)

    def next_at(self, value: str, now: datetime) -> datetime | None:
        return None

    def watched_files(self, value: str) -> tuple[str, ...]:
        return ()

    def environment(self, value: str, project_dir: Path) -> dict[str, str]:
        return {}


@pytest.fixture
def toy_kind() -> Iterator[TriggerKind]:
    kind = TRIGGER_KINDS.register(FlagFile())
    yield kind
    TRIGGER_KINDS.unregister(kind.name)


def _conforms(
    kind: TriggerKind,
    project: Project,
    folder: Path,
    write_config: Callable[[str], None],
    now: datetime,
) -> None:
    assert TRIGGER_KINDS.get(kind.name) is kind
    example = EXAMPLES[kind.name]
    (folder / "requirements.lock").write_text("scikit-learn==1.7.2\n")
    write_config(yaml.safe_dump({"retraining": {"triggers": [{kind.name: [[1]]}]}}))
    with pytest.raises(ConfigError, match=r"retraining\.triggers\[0\]"):
        project.config()
    write_config(yaml.safe_dump({"retraining": {"triggers": [{kind.name: example}]}}))
    config = project.config()
    trigger = config.retraining.triggers[0]
    assert (trigger.kind, trigger.value) == (kind.name, example)
    # The configuration survives a dump and a reload (applied configs are stored dumped).
    assert type(config).model_validate(config.model_dump(mode="json")) == config
    project.apply()
    applied = latest_applied(project.db(), "churn")
    assert applied is not None
    first, problems = detect_triggers(project.controller_state(), applied, config, now)
    again, _ = detect_triggers(project.controller_state(), applied, config, now)
    assert problems == [] and again == [], f"{kind.name}: a change seen twice fired twice"
    assert all(event.kind == kind.name for event in first)
    upcoming = kind.next_at(example, now)
    assert upcoming is None or upcoming > now
    assert all(isinstance(name, str) for name in kind.watched_files(example))
    facts = kind.environment(example, folder)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in facts.items())


@pytest.mark.parametrize("name", ["alarm", "cron", "environment", "image", "new_data"])
def test_every_shipped_trigger_kind_conforms(
    name: str, project: Project, folder: Path, write_config: Callable[[str], None], now: datetime
) -> None:
    assert set(TRIGGER_KINDS.names()) >= {"alarm", "cron", "environment", "image", "new_data"}
    write_oci_layout(folder / "image-layout", {"trainer": "sha256:" + "1" * 64})
    _conforms(TRIGGER_KINDS.get(name), project, folder, write_config, now)


def test_a_trigger_kind_added_through_the_registry_alone_retrains(
    toy_kind: TriggerKind,
    project: Project,
    folder: Path,
    write_config: Callable[[str], None],
    now: datetime,
) -> None:
    _conforms(toy_kind, project, folder, write_config, now)
    (folder / "retrain.flag").write_text("please\n")
    passes = project.controller(now=now).run_pass()
    assert passes[0].to_dict()["run_status"] == "succeeded"
    event = list_events(project.db(), "churn")[0]
    assert (event.kind, event.key, event.status) == ("flag_file", "flag:please", "done")
    assert project.version("churn@production").version == 1


def test_an_unknown_trigger_kind_lists_the_known_ones(
    project: Project, write_config: Callable[[str], None]
) -> None:
    write_config("retraining:\n  triggers:\n    - nightly: true\n")
    with pytest.raises(ConfigError) as caught:
        project.config()
    assert "unknown trigger kind 'nightly'" in str(caught.value)
    assert "'cron'" in str(caught.value) and "retraining.triggers[0]" in str(caught.value)


def test_base_config_has_no_triggers() -> None:
    assert parse_config(BASE_CONFIG.encode()).retraining.triggers == []
