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
from typing import Any

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


def _row(folder: Path) -> dict[str, Any]:
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


FAST_PLAN = """
  rollout:
    production:
      shadow: {share: 1.0, duration: 2s}
      canary: {steps: [50, 100], bake: 2s}
      guardrails:
        error_rate: {max: 0.01}
        agreement: {min: 0.95}
        prediction_drift: {max_share: 0.0}
        min_requests: 30
"""


# Canary steps held 10 s: long beside the seconds between the first verdict and the kill.
KILL_PLAN = FAST_PLAN.replace("bake: 2s", "bake: 10s")


def _project(
    root: Path,
    shuffled: bool,
    plan: str = FAST_PLAN,
    candidate: str = "",
    params: str = "{max_iter: 5000}",
    lean: bool = False,
) -> Path:
    """cancer:1 in production, cancer:2 rolling out under FAST_PLAN; with ``shuffled`` the
    candidate learnt from shuffled labels (its gates removed, so it registers); ``candidate``
    names another estimator for it; ``lean`` trains it without the permutation importance and
    the ONNX form (for a candidate only served natively: 3,000 trees spent 20 s on them)."""
    folder = root / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    config.write_text(config.read_text().replace("production: manual}", "production: auto}") + plan)
    env = shipline_env()
    for step in (("apply",), ("run",), ("promote", "cancer", "1", "--to", "production")):
        assert shipline(*step, env=env, cwd=folder).returncode == 0
    if shuffled:
        data = folder / "data" / "breast_cancer.csv"
        frame = pd.read_csv(data)
        frame["benign"] = frame["benign"].sample(frac=1.0, random_state=3).to_numpy()
        frame.to_csv(folder / "data" / "shuffled.csv", index=False)
        text = config.read_text().replace("data/breast_cancer.csv", "data/shuffled.csv")
        text = re.sub(r"  gates:\n(    - .*\n)+", "", text)
        config.write_text(text)
    elif candidate:
        text = config.read_text().replace("sklearn.ensemble.HistGradientBoostingClassifier",
                                          candidate)  # fmt: skip
        text = text.replace("{max_iter: 200, learning_rate: 0.1}", params)
        if lean:
            text = text.replace("  explain: {method: permutation, top: 10}\n", "")
            text += "serving:\n  onnx: false\n"
        config.write_text(text)
    else:
        config.write_text(config.read_text().replace("max_iter: 200", "max_iter: 150"))
    for step in (("apply",), ("run",), ("promote", "cancer", "2", "--to", "production")):
        done = shipline(*step, env=env, cwd=folder)
        assert done.returncode == 0, done.stderr
    assert "rollout 1 started" in done.stdout, done.stdout
    return folder


class _Clients:
    """Threads sending requests as CLIENTS until stopped; every answer remembered."""

    def __init__(self, url: str, row: dict[str, object]) -> None:
        import threading

        self.url, self.row = url, row
        self.seen: list[tuple[str, int, str]] = []  # client, status, version
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(CLIENTS[i::8],), daemon=True) for i in range(8)
        ]
        for thread in self.threads:
            thread.start()

    def _run(self, clients: list[str]) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                for client in clients:
                    answer = http.post(f"{self.url}/invocations",
                                       json={"dataframe_split": self.row},
                                       headers={CLIENT_KEY_HEADER: client})  # fmt: skip
                    version = answer.headers.get("x-model-version", "")
                    self.seen.append((client, answer.status_code, version))

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def _drive_until(folder: Path, done: object, what: str, deadline_s: float = 240) -> dict:  # type: ignore[type-arg]
    """Run controller passes until the rollout's status satisfies ``done``."""
    deadline = time.monotonic() + deadline_s
    while True:
        passed = shipline("controller", "--once", env=shipline_env("controller-bot"), cwd=folder)
        assert passed.returncode == 0, passed.stderr
        shown = _status(folder)
        if done(shown):  # type: ignore[operator]
            return shown
        assert time.monotonic() < deadline, f"{what}: {shown}"
        time.sleep(0.5)  # poll interval


def _finish_under_load(folder: Path) -> tuple[dict, _Clients]:  # type: ignore[type-arg]
    """Serve, load and drive the rollout until it ends; its status and what clients saw."""
    server = start_server(folder, "cancer@production", env=shipline_env())
    clients = _Clients(server.url, _row(folder))
    try:
        shown = _drive_until(folder, lambda s: s["status"] != "running", "a final verdict")
    finally:
        clients.finish()
        assert server.stop() == 0
    return shown, clients


def test_a_good_candidate_is_promoted_step_by_step_under_load(tmp_path: Path) -> None:
    shown, clients = _finish_under_load(folder := _project(tmp_path, shuffled=False))
    assert shown["status"] == "promoted", shown
    assert [(s["phase"], s["outcome"]) for s in shown["steps"]] == [
        ("shadow", "advance"), ("canary", "advance"), ("canary", "advance")
    ]  # fmt: skip
    assert all(s["evidence"]["traffic"] for s in shown["steps"])
    assert [status for _, status, _ in clients.seen].count(200) == len(clients.seen) > 100
    for client in CLIENTS:  # the share only grows: once on the candidate, always on it
        versions = [v for c, _, v in clients.seen if c == client]
        first_new = versions.index("cancer:2") if "cancer:2" in versions else len(versions)
        assert set(versions[first_new:]) <= {"cancer:2"}, (client, versions)
    held = shipline("models", "show", "cancer@production", "--json", env=shipline_env(),
                    cwd=folder)  # fmt: skip
    assert json.loads(held.stdout)["version"] == 2
    audit = shipline("audit", "log", "--json", env=shipline_env(), cwd=folder)
    actions = [e["action"] for e in json.loads(audit.stdout) if e["action"].startswith("rollout.")]
    assert actions == ["rollout.start", "rollout.advance", "rollout.advance", "rollout.advance",
                       "rollout.promoted"]  # fmt: skip


def test_a_disagreeing_candidate_is_caught_in_shadow_and_never_answers(tmp_path: Path) -> None:
    shown, clients = _finish_under_load(folder := _project(tmp_path, shuffled=True))
    assert shown["status"] == "rolled_back", shown
    (verdict,) = shown["steps"]
    assert verdict["phase"] == "shadow" and "agreement" in verdict["reason"], verdict
    assert {version for _, _, version in clients.seen} == {"cancer:1"}  # no user got its answer
    alarms = shipline("alarms", "--json", env=shipline_env(), cwd=folder)
    assert [a["kind"] for a in json.loads(alarms.stdout)] == ["rollout"]


def test_a_controller_killed_mid_rollout_is_replaced_and_the_rollout_goes_on(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import sys

    folder = _project(tmp_path, shuffled=False, plan=KILL_PLAN)
    server = start_server(folder, "cancer@production", env=shipline_env())
    clients = _Clients(server.url, _row(folder))
    command = [sys.executable, "-m", "shipline", "controller", "--interval", "0.5", "--lease", "5"]
    controllers = []
    try:
        first = subprocess.Popen(command, cwd=folder, env=shipline_env("controller-one"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        controllers.append(first)
        _wait_for(lambda: len(_status(folder)["steps"]) >= 1, "the first step judged", 240)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        at_kill = _status(folder)
        assert at_kill["status"] == "running" and at_kill["phase"] == "canary", at_kill
        assert len(at_kill["steps"]) == 1  # the replacement has steps left to judge
        second = subprocess.Popen(command, cwd=folder, env=shipline_env("controller-two"),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        controllers.append(second)
        _wait_for(lambda: _status(folder)["status"] != "running", "the rollout finished", 240)
    finally:
        for process in controllers:
            process.kill()
            process.wait(timeout=60)
        clients.finish()
        assert server.stop() == 0
    shown = _status(folder)
    assert shown["status"] == "promoted", shown
    assert [s["phase"] for s in shown["steps"]] == ["shadow", "canary", "canary"]
    # Judged by the first controller, then by its replacement from the recorded step on.
    audit = json.loads(shipline("audit", "log", "--json", env=shipline_env(), cwd=folder).stdout)
    judges = [e["actor"] for e in audit if e["action"] == "rollout.advance"]
    assert judges[0] == "controller-one" and judges[-1] == "controller-two", judges
    assert [status for _, status, _ in clients.seen].count(200) == len(clients.seen)


def _status(folder: Path) -> dict:  # type: ignore[type-arg]
    shown = shipline("rollout", "status", "cancer", "--json", env=shipline_env(), cwd=folder)
    found: dict = json.loads(shown.stdout)[0]  # type: ignore[type-arg]
    return found


ERROR_PLAN = """
  rollout:
    production:
      canary: {steps: [20, 100], bake: 10m}
      guardrails: {error_rate: {max: 0.01}, min_requests: 30}
"""


def test_a_candidate_that_fails_on_some_rows_is_rolled_back_at_its_first_step(
    tmp_path: Path,
) -> None:
    # Logistic regression's scaler overflows on 1e308 (finite, so it passes validation);
    # the stable gradient-boosted trees answer it.
    folder = _project(tmp_path, shuffled=False, plan=ERROR_PLAN,
                      candidate="sklearn.linear_model.LogisticRegression")  # fmt: skip
    row = _row(folder)
    extreme = {"columns": row["columns"], "data": [[1e308] * len(row["columns"])]}
    # Native forms: the scaler's overflow is an error there (ONNX computes in float32).
    server = start_server(folder, "cancer@production", env=shipline_env(), extra=("--native",))
    outcomes: list[tuple[str, int]] = []
    deadline = time.monotonic() + 240
    try:
        _wait_for(lambda: _candidate_answers(server.url, row), "the canary serves", 60)
        for round_ in range(1_000_000):
            shown = _status(folder)
            if shown["status"] != "running":
                break
            assert time.monotonic() < deadline, f"no verdict: {shown} {_problems(folder)}"
            for client in CLIENTS:
                body = extreme if round_ % 10 == 0 else row
                answer = httpx.post(f"{server.url}/invocations", json={"dataframe_split": body},
                                    headers={CLIENT_KEY_HEADER: client}, timeout=30)  # fmt: skip
                outcomes.append((client, answer.status_code))
            passed = shipline("controller", "--once", env=shipline_env("bot"), cwd=folder)
            assert passed.returncode == 0, passed.stderr
    finally:
        assert server.stop() == 0
    shown = _status(folder)
    assert shown["status"] == "rolled_back", shown
    (verdict,) = shown["steps"]
    assert (verdict["phase"], verdict["step"]) == ("canary", 0)
    assert verdict["reason"].startswith("error_rate"), verdict
    failed = [client for client, status in outcomes if status != 200]
    assert failed, "the candidate never failed"
    canary = {c for c in CLIENTS if place(1, c) < 0.2}
    assert set(failed) <= canary  # only clients the candidate answered ever saw a failure
    assert len(failed) <= 0.2 * len(outcomes)
    held = shipline("models", "show", "cancer@production", "--json", env=shipline_env(),
                    cwd=folder)  # fmt: skip
    assert json.loads(held.stdout)["version"] == 1


def _problems(folder: Path) -> list[object]:
    """What the controller reported as problems (why a pass could not judge)."""
    audit = shipline("audit", "log", "--json", env=shipline_env(), cwd=folder)
    return [e["after"] for e in json.loads(audit.stdout) if e["action"] == "controller.problem"]


def _candidate_answers(url: str, row: dict[str, object]) -> bool:
    for client in CLIENTS:
        answer = _ask(url, row, client)
        if answer.headers["x-model-role"] == "canary":
            return True
    return False


SLOW_PLAN = """
  rollout:
    production:
      canary: {steps: [50, 100], bake: 10m}
      guardrails: {latency_p99: {max_ratio: 1.5}, min_requests: 30}
"""
QUALITY_PLAN = """
  rollout:
    production:
      shadow: {share: 1.0, duration: 10m}
      guardrails: {quality: {metric: accuracy, max_drop: 0.02}, min_requests: 30}
"""


def test_a_slow_candidate_breaks_the_latency_guardrail(tmp_path: Path) -> None:
    # 3,000 trees predicted natively, one row at a time: far slower than the stable model.
    folder = _project(tmp_path, shuffled=False, plan=SLOW_PLAN,
                      candidate="sklearn.ensemble.RandomForestClassifier",
                      params="{n_estimators: 3000, n_jobs: 1, random_state: 0}",
                      lean=True)  # fmt: skip
    row = _row(folder)
    server = start_server(folder, "cancer@production", env=shipline_env(), extra=("--native",))
    deadline = time.monotonic() + 240
    try:
        while _status(folder)["status"] == "running":
            assert time.monotonic() < deadline, f"no verdict: {_problems(folder)}"
            for client in CLIENTS:
                _ask(server.url, row, client)
            passed = shipline("controller", "--once", env=shipline_env("bot"), cwd=folder)
            assert passed.returncode == 0, passed.stderr
    finally:
        assert server.stop() == 0
    shown = _status(folder)
    assert shown["status"] == "rolled_back", shown
    (verdict,) = shown["steps"]
    assert verdict["reason"].startswith("latency_p99"), verdict
    traffic = verdict["evidence"]["traffic"]
    assert traffic["canary"]["p99_ms"] > 1.5 * traffic["stable"]["p99_ms"]


def test_a_quality_drop_is_caught_once_labels_arrive(tmp_path: Path) -> None:
    folder = _project(tmp_path, shuffled=True, plan=QUALITY_PLAN)
    frame = pd.read_csv(folder / "data" / "breast_cancer.csv").head(80)
    server = start_server(folder, "cancer@production", env=shipline_env())
    try:
        for index, record in frame.iterrows():
            row = {"columns": [c for c in frame.columns if c != "benign"],
                   "data": [record.drop("benign").tolist()]}  # fmt: skip
            answer = httpx.post(f"{server.url}/invocations", json={"dataframe_split": row},
                                headers={"x-request-id": f"q-{index}"}, timeout=30)  # fmt: skip
            assert answer.status_code == 200 and answer.headers["x-model-version"] == "cancer:1"
        _wait_for(lambda: _captured(folder, 2) >= len(frame), "the shadow's answers captured")
        _wait_for(lambda: _captured(folder, 1) >= len(frame), "the stable answers captured")
        passed = shipline("controller", "--once", env=shipline_env("bot"), cwd=folder)
        assert passed.returncode == 0 and _status(folder)["status"] == "running"  # no labels
        labels = folder / "labels.csv"
        pd.DataFrame({"request_id": [f"q-{i}" for i in frame.index],
                      "label": frame["benign"]}).to_csv(labels, index=False)  # fmt: skip
        added = shipline("labels", "add", str(labels), env=shipline_env(), cwd=folder)
        assert added.returncode == 0, added.stderr
        passed = shipline("controller", "--once", env=shipline_env("bot"), cwd=folder)
        assert passed.returncode == 0, passed.stderr
    finally:
        assert server.stop() == 0
    shown = _status(folder)
    assert shown["status"] == "rolled_back", (shown, _problems(folder))
    (verdict,) = shown["steps"]
    assert verdict["phase"] == "shadow" and verdict["reason"].startswith("quality: accuracy")
    quality = verdict["evidence"]["quality"]
    assert quality["stable"]["labelled"] == quality["candidate"]["labelled"] == len(frame)
    assert quality["stable"]["value"] - quality["candidate"]["value"] > 0.02
