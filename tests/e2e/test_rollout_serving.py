"""Rollouts as the prediction server serves them (issue 16): a promotion to production starts a
rollout from the applied plan; the server serves stable and candidate side by side; shadow
requests are answered by the stable version only while the candidate's answers are captured;
canary traffic is split by a sticky hash of the client key, each client seeing one version;
an abort sends every client back to the stable version. Verdicts are recorded here the way
the controller records them."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import func, select

from shipline.project import Project
from shipline.registry.rollout import active_rollout, record_verdict
from shipline.scaffold import create_project
from shipline.server.rollout_traffic import CLIENT_KEY_HEADER, place
from shipline.store.tables import captures
from tests.served import shipline_env, start_server
from tests.team import shipline

PLAN = """
  rollout:
    production:
      shadow: {share: 1.0, duration: 30m}
      canary: {steps: [50, 100], bake: 15m}
      guardrails: {error_rate: {max: 0.01}}
"""
CLIENTS = [f"client-{index}" for index in range(32)]


@pytest.fixture(scope="module")
def rolling(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cancer:1 in production; cancer:2 rolling out (shadow phase) under the applied plan."""
    folder = tmp_path_factory.mktemp("rollout") / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    config.write_text(config.read_text().replace("production: manual}", "production: auto}") + PLAN)
    env = shipline_env()
    for step in (("apply",), ("run",), ("promote", "cancer", "1", "--to", "production")):
        done = shipline(*step, env=env, cwd=folder)
        assert done.returncode == 0, done.stderr
    config.write_text(config.read_text().replace("max_iter: 200", "max_iter: 150"))
    for step in (("apply",), ("run",), ("promote", "cancer", "2", "--to", "production")):
        done = shipline(*step, env=env, cwd=folder)
        assert done.returncode == 0, done.stderr
    assert "rollout 1 started: cancer:2 takes over cancer@production from v1" in done.stdout
    return folder


def _row(folder: Path) -> dict[str, object]:
    frame = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(columns=["benign"])
    return {"columns": list(frame.columns), "data": [frame.iloc[0].tolist()]}


def _ask(url: str, row: dict[str, object], client: str) -> httpx.Response:
    answer = httpx.post(f"{url}/invocations", json={"dataframe_split": row},
                        headers={CLIENT_KEY_HEADER: client}, timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer


def _captured(folder: Path, version: int) -> int:
    with Project.open(folder) as project, project.db().read() as conn:
        found = conn.execute(
            select(func.coalesce(func.sum(captures.c.rows), 0)).where(
                captures.c.model == "cancer", captures.c.version == version
            )
        ).scalar_one()
    return int(found)


def _verdict(folder: Path, outcome: str) -> None:
    with Project.open(folder) as project:
        db = project.db()
        with db.read() as conn:
            rollout = active_rollout(conn, "cancer", "production")
        assert rollout is not None
        with db.write("controller") as tx:
            record_verdict(tx, rollout, {"reason": "test"}, outcome)


def _wait_for(check: object, what: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)  # poll interval


def test_shadow_then_canary_then_abort(rolling: Path) -> None:
    row = _row(rolling)
    server = start_server(rolling, "cancer@production", env=shipline_env())
    try:
        # Shadow: the stable version answers every client; the candidate's answers are kept.
        for client in CLIENTS:
            answer = _ask(server.url, row, client)
            assert answer.headers["x-model-version"] == "cancer:1"
            assert answer.headers["x-model-role"] == "stable"
        metrics = httpx.get(f"{server.url}/metrics").text
        _wait_for(lambda: _shadow_ok(server.url) >= len(CLIENTS), "shadow answers counted")
        _wait_for(lambda: _captured(rolling, 2) >= len(CLIENTS), "shadow answers captured")
        assert (
            'shipline_rollout_requests_total{model="cancer",outcome="ok",role="stable"}' in metrics
        )

        # Canary at 50%: each client keeps one version; the split follows the sticky hash.
        _verdict(rolling, "advance")
        rollout_id = 1
        expected = {c: (2 if place(rollout_id, c) < 0.5 else 1) for c in CLIENTS}
        _wait_for(
            lambda: (
                _ask(server.url, row, next(c for c in CLIENTS if expected[c] == 2)).headers[
                    "x-model-role"
                ]
                == "canary"
            ),
            "the server follows the canary step",
        )
        seen: dict[str, set[str]] = {c: set() for c in CLIENTS}
        for _ in range(3):
            for client in CLIENTS:
                seen[client].add(_ask(server.url, row, client).headers["x-model-version"])
        assert all(len(versions) == 1 for versions in seen.values()), seen
        assert {c: int(next(iter(v)).split(":")[1]) for c, v in seen.items()} == expected
        assert 4 <= Counter(expected.values())[2] <= 28  # about half of 32 clients

        # Abort: every client is back on the stable version.
        done = shipline("rollout", "abort", "cancer@production", "--reason", "test",
                        env=shipline_env(), cwd=rolling)  # fmt: skip
        assert done.returncode == 0 and "rollout 1 cancer@production: aborted" in done.stdout
        canary = next(c for c in CLIENTS if expected[c] == 2)
        _wait_for(
            lambda: _ask(server.url, row, canary).headers["x-model-version"] == "cancer:1",
            "the server drops the candidate",
        )
    finally:
        assert server.stop() == 0
    status = shipline("rollout", "status", "cancer", "--json", env=shipline_env(), cwd=rolling)
    (shown,) = json.loads(status.stdout)
    assert shown["status"] == "aborted" and [s["outcome"] for s in shown["steps"]] == ["advance"]
    held = shipline("models", "show", "cancer@production", "--json", env=shipline_env(),
                    cwd=rolling)  # fmt: skip
    assert json.loads(held.stdout)["version"] == 1


def _shadow_ok(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.search(
        r'shipline_rollout_requests_total\{model="cancer",outcome="ok",role="shadow"\} ([\d.]+)',
        text,
    )
    return float(found.group(1)) if found else 0.0
