"""The closed loop on a real served model, as both seed write-ups describe it, end to end.

serve @production → drifted traffic → a controller pass runs monitoring → drift alarm →
retraining run on the new data version → gates pass → staging → approval by a second user →
production moves → the running server switches versions with no failed request; every step is
in the audit chain and the chain verifies.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

from shipline.scaffold import create_project
from tests.served import Server, captured_rows, shipline_env, start_server

LOOP_CONFIG = """\
monitoring:
  schedule: "* * * * *"
  window: 1h
retraining:
  triggers:
    - alarm: drift
"""


def _shipline(folder: Path, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shipline", *args],
        cwd=folder,
        env=shipline_env(user),
        capture_output=True,
        text=True,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class _Traffic:
    """Clients sending drifted rows until stopped; every answer's status and version kept."""

    def __init__(self, server: Server, rows: pd.DataFrame) -> None:
        self.server, self.rows = server, rows
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.versions: list[str] = []
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(2)]

    def _client(self, index: int) -> None:
        with httpx.Client(timeout=30) as session:
            offset = index * 7
            while not self.stop.is_set():
                batch = self.rows.iloc[offset % len(self.rows) :][:10]
                offset += 10
                body = {
                    "dataframe_split": {
                        "columns": list(batch.columns),
                        "data": batch.values.tolist(),
                    }
                }
                try:
                    answer = session.post(f"{self.server.url}/invocations", json=body)
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                    continue
                if answer.status_code != 200:
                    self.failures.append(f"{answer.status_code} {answer.text[:200]}")
                self.versions.append(answer.headers.get("x-model-version", "?"))

    def __enter__(self) -> _Traffic:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)


def test_drift_to_retrained_production_without_a_failed_request(tmp_path: Path) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    config.write_text(config.read_text() + LOOP_CONFIG)
    _ok(_shipline(folder, "alice", "run"))
    _ok(_shipline(folder, "alice", "promote", "cancer", "1", "--to", "production"))
    first = json.loads(_ok(_shipline(folder, "alice", "approvals", "--json")))[0]
    _ok(_shipline(folder, "bob", "approve", str(first["id"])))
    _ok(_shipline(folder, "alice", "apply"))
    server = start_server(folder, "cancer@production")
    try:
        data = pd.read_csv(folder / "data" / "breast_cancer.csv")
        drifted = data.copy()
        numeric = drifted.columns.drop(["benign", "sample_id"])
        drifted[numeric] = drifted[numeric] * 1.6
        features = drifted.drop(columns=["benign", "sample_id"])
        with _Traffic(server, features) as traffic:
            before = captured_rows(server)
            deadline = time.monotonic() + 120
            while captured_rows(server) < before + 300:
                assert time.monotonic() < deadline, "captures were not written"
                time.sleep(0.3)  # poll interval
            # The new data version: the drifted population, labelled, joins the source.
            drifted["sample_id"] = "D" + drifted["sample_id"].str[1:]
            pd.concat([data, drifted]).to_csv(folder / "data" / "breast_cancer.csv", index=False)
            passed = json.loads(
                _ok(_shipline(folder, "controller-bot", "controller", "--once", "--json"))
            )
            loop = passed[0]
            assert loop["monitor_report"] is not None and loop["run_status"] == "succeeded", loop
            status = json.loads(_ok(_shipline(folder, "alice", "status", "cancer", "--json")))[0]
            assert status["aliases"] == {"production": 1, "staging": 2}
            assert status["last_run"]["trigger"].startswith("controller: alarm#")
            assert status["last_run"]["events"][0]["evidence"]["kind"] == "drift"
            pending = status["pending_approvals"]
            assert [(a["version"], a["alias"]) for a in pending] == [(2, "production")]
            refused = _shipline(folder, "controller-bot", "approve", str(pending[0]["id"]))
            assert refused.returncode != 0  # four eyes: the run's owner may not approve
            _ok(_shipline(folder, "bob", "approve", str(pending[0]["id"])))
            deadline = time.monotonic() + 120
            while not traffic.versions or traffic.versions[-1] != "cancer:2":
                assert time.monotonic() < deadline, "the server did not switch to version 2"
                time.sleep(0.2)  # poll interval
            switched = len(traffic.versions)
            while len(traffic.versions) < switched + 20:  # more traffic served by version 2
                assert time.monotonic() < deadline + 60, "traffic stopped after the switch"
                time.sleep(0.05)  # poll interval
        assert traffic.failures == []
        assert "cancer:1" in traffic.versions and traffic.versions[-1] == "cancer:2"
    finally:
        assert server.stop() == 0
    ingest = json.loads(_ok(_shipline(folder, "alice", "runs", "show", "2", "--json")))
    assert ingest["lineage"]["config_digest"] and ingest["model_version"] == 2
    audit = json.loads(_ok(_shipline(folder, "alice", "audit", "log", "--limit", "500", "--json")))
    actions = [e["action"] for e in audit]
    for step in (
        "config.apply",
        "monitor.report",
        "alarm.open",
        "trigger.fire",
        "trigger.started",
        "trigger.done",
        "approval.request",
        "approval.approve",
    ):
        assert step in actions, step
    _ok(_shipline(folder, "alice", "audit", "verify"))
