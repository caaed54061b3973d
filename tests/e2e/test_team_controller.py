"""`shipline controller` in remote mode: a controller token, no database or store settings;
triggers, leases and events through the team server, the pipeline trained on the controller's
machine and uploaded, the server gating, registering and asking for production."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shipline.scaffold import create_project
from tests.team import TeamServer, shipline, start_team_server

TRIGGERS = """\
retraining:
  triggers:
    - new_data: true
"""


@pytest.fixture
def team(db_url: str, tmp_path: Path) -> Iterator[TeamServer]:
    """A team server with an admin, on each database kind."""
    server = start_team_server(tmp_path / "server", db_url, str(tmp_path / "store"))
    yield server
    assert server.stop() == 0


def test_a_remote_controller_retrains_on_new_data(team: TeamServer, tmp_path: Path) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    config.write_text(config.read_text() + TRIGGERS)
    dana = team.remote_env(team.add_user("dana", "data-scientist"))
    erin = team.remote_env(team.add_user("erin", "ml-engineer"))
    robot = team.remote_env(team.add_user("robot", "controller"))
    viewer = team.remote_env(team.add_user("val", "viewer"))

    def run(env: dict[str, str], *args: str) -> str:
        done = shipline(*args, env=env, cwd=folder)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return str(done.stdout)

    assert "registered cancer:1" in run(dana, "run")
    run(erin, "apply")
    first = json.loads(run(robot, "controller", "--once", "--json"))
    assert first[0]["model"] == "cancer" and first[0]["run"] is None  # the data it was trained on
    data = folder / "data" / "breast_cancer.csv"
    rows = pd.read_csv(data)
    extra = rows.head(40).assign(sample_id=lambda f: "N" + f["sample_id"].astype(str))
    pd.concat([rows, extra]).to_csv(data, index=False)
    second = json.loads(run(robot, "controller", "--once", "--json"))[0]
    assert second["new_events"] and second["run_status"] == "succeeded", second
    assert any("approval" in note and "pending" in note for note in second["notes"]), second
    status = json.loads(run(erin, "status", "cancer", "--json"))[0]
    assert status["aliases"]["staging"] == 2 and "production" not in status["aliases"]
    assert [(a["version"], a["alias"]) for a in status["pending_approvals"]] == [(2, "production")]
    last = status["last_run"]
    assert last["trigger"].startswith("controller: new_data#")
    assert last["events"][0]["status"] == "done"
    run_record = json.loads(run(erin, "runs", "show", str(last["id"]), "--json"))
    assert run_record["actor"] == "robot"
    third = json.loads(run(robot, "controller", "--once", "--json"))[0]
    assert third["run"] is None and not third["new_events"]  # nothing new: nothing to do
    refused = shipline("controller", "--once", env=viewer, cwd=folder)
    assert refused.returncode == 1 and "'val' may not control" in refused.stderr
    with team.client(team.admin_token) as admin:
        fired = admin.get("/audit", params={"action": "trigger.fire"}).json()
        assert fired and all(e["actor"] == "robot" and e["via"] for e in fired)
        assert admin.get("/audit/verify").json()["broken_seq"] is None
