"""Each trigger kind fires exactly once per event; cooldown and min_new_rows hold.

Schedules are evaluated with an injected clock (``now``), never by sleeping.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from shipline.audit import list_events
from shipline.controller.trigger_event import list_events as trigger_events
from shipline.project import Project
from tests.unit.controller.conftest import churn_rows


def _pass(project: Project, at: datetime) -> list[dict[str, object]]:
    return [p.to_dict() for p in project.controller(now=at).run_pass()]


def _runs(project: Project) -> list[str]:
    return [r.trigger for r in reversed(project.runs(model="churn"))]


def _append(folder: Path, rows: int, seed: int) -> None:
    path = folder / "data" / "churn.csv"
    grown = pd.concat([pd.read_csv(path), churn_rows(rows, seed)])
    grown.to_csv(path, index=False)


def test_new_data_fires_once_per_change_and_min_new_rows_holds(
    project: Project, folder: Path, write_config: Callable[[str], None], now: datetime
) -> None:
    write_config("retraining:\n  triggers:\n    - new_data: true\n  min_new_rows: 50\n")
    project.apply()
    first = _pass(project, now)  # never trained: the data is new
    assert first[0]["run_status"] == "succeeded" and _runs(project) == ["controller: new_data#1"]
    assert project.version("churn@production").version == 1  # production: auto
    assert _pass(project, now)[0]["run"] is None
    path = folder / "data" / "churn.csv"
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert _pass(project, now)[0]["new_events"] == []  # touched, same bytes
    _append(folder, 10, 1)
    assert _pass(project, now)[0]["run"] is None
    skipped = trigger_events(project.db(), "churn")[0]
    assert skipped.status == "skipped" and "10 new rows" in (skipped.detail or "")
    _append(folder, 45, 2)  # 55 rows since the last run's data
    result = _pass(project, now)[0]
    assert result["run_status"] == "succeeded" and len(_runs(project)) == 2
    event = trigger_events(project.db(), "churn")[0]
    assert event.status == "done" and event.evidence["rows"] == 455
    assert event.run_id == project.runs(model="churn")[0].id
    assert _pass(project, now)[0]["run"] is None


def test_cron_fires_once_per_tick_with_an_injected_clock(
    project: Project, write_config: Callable[[str], None], now: datetime
) -> None:
    from croniter import croniter

    write_config("retraining:\n  triggers:\n    - cron: '0 3 * * *'\n")
    project.apply()
    tick = croniter("0 3 * * *", now + timedelta(minutes=1)).get_next(datetime)
    assert _pass(project, tick - timedelta(minutes=1))[0]["run"] is None
    assert _pass(project, tick)[0]["run_status"] == "succeeded"
    assert _pass(project, tick + timedelta(minutes=30))[0]["run"] is None
    # Three days without a controller: the missed ticks coalesce into one run.
    later = tick + timedelta(days=3, minutes=5)
    assert _pass(project, later)[0]["run_status"] == "succeeded"
    assert _pass(project, later)[0]["run"] is None
    events = trigger_events(project.db(), "churn")
    assert [e.evidence["tick"] for e in reversed(events)] == [
        f"{tick:%Y-%m-%dT%H:%MZ}",
        f"{tick + timedelta(days=3):%Y-%m-%dT%H:%MZ}",
    ]
    assert len(_runs(project)) == 2 and all(e.status == "done" for e in events)


def test_environment_change_fires_once(
    project: Project, folder: Path, write_config: Callable[[str], None], now: datetime
) -> None:
    (folder / "requirements.lock").write_text("scikit-learn==1.7.2\n")
    write_config("retraining:\n  triggers:\n    - environment: requirements.lock\n")
    project.apply()
    assert _pass(project, now)[0]["run"] is None  # the first look is the baseline
    (folder / "requirements.lock").write_text("scikit-learn==1.8.0\n")
    result = _pass(project, now)[0]
    assert result["run_status"] == "succeeded"
    event = trigger_events(project.db(), "churn")[0]
    assert event.kind == "environment" and event.evidence["previous"] != event.evidence["digest"]
    assert _pass(project, now)[0]["run"] is None


def test_an_open_alarm_fires_once_and_cooldown_defers(
    project: Project, folder: Path, write_config: Callable[[str], None], now: datetime
) -> None:
    write_config(
        "retraining:\n  triggers:\n    - alarm: drift\n    - new_data: true\n  cooldown: 1h\n"
    )
    project.apply()
    assert _pass(project, now)[0]["run_status"] == "succeeded"  # first data
    churn_rows(300, 9, shift=2.5).drop(columns=["churned"]).to_csv(folder / "s.csv", index=False)
    summary, _ = project.monitor("churn@production", folder / "s.csv")
    assert summary.dataset_drift
    deferred = _pass(project, now + timedelta(minutes=10))[0]
    notes = deferred["notes"]
    assert deferred["run"] is None and isinstance(notes, list)
    assert any("cooldown until" in n for n in notes)
    assert [e.kind for e in trigger_events(project.db(), "churn") if e.status == "pending"] == [
        "alarm"
    ]
    ran = _pass(project, now + timedelta(minutes=61))[0]
    assert ran["run_status"] == "succeeded"
    assert _runs(project)[-1].startswith("controller: alarm#")
    assert _pass(project, now + timedelta(minutes=200))[0]["run"] is None  # same alarm, no rerun
    actions = {e.action for e in list_events(project.db(), limit=500)}
    assert {"trigger.fire", "trigger.started", "trigger.done", "config.apply"} <= actions
