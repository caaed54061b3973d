"""Governance that holds against a determined author, through the CLI in remote mode and 20
concurrent API clients, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipline.scaffold import create_project
from tests.e2e.test_team_server import seed_versions
from tests.team import TeamServer, launch_server, shipline, start_team_server


@pytest.fixture
def team(db_url: str, tmp_path: Path) -> Iterator[TeamServer]:
    """A team server with an admin, on each database kind."""
    server = start_team_server(tmp_path / "server", db_url, str(tmp_path / "store"))
    yield server
    assert server.stop() == 0


def _state(team: TeamServer) -> Any:
    """What a bypass must not change: every version's aliases and every approval."""
    with team.client(team.admin_token) as admin:
        versions = [(v["version"], v["aliases"]) for v in admin.get("/versions").json()]
        approvals = [(a["id"], a["status"], a["decisions"]) for a in admin.get("/approvals").json()]
    return versions, approvals


def test_no_bypass_moves_production(team: TeamServer, db_url: str, tmp_path: Path) -> None:
    cancer, fraud = tmp_path / "cancer", tmp_path / "fraud"
    create_project(cancer, "classification")
    create_project(fraud, "classification")
    (fraud / "shipline.yaml").write_text(
        (fraud / "shipline.yaml")
        .read_text()
        .replace("name: cancer", "name: fraud")
        .replace("production: manual", "production: auto")
    )
    seed_versions(db_url, "cancer", "alice", 2)
    alice = team.remote_env(team.add_user("alice", "data-scientist", "approver"))
    erin = team.remote_env(team.add_user("erin", "ml-engineer"))
    bob = team.remote_env(team.add_user("bob", "approver"))
    vera = team.remote_env(team.add_user("vera", "viewer"))

    def run(env: dict[str, str], *args: str, folder: Path = cancer, **extra: str) -> Any:
        return shipline(*args, env={**env, **extra}, cwd=folder)

    assert run(alice, "promote", "cancer", "1", "--to", "staging").returncode == 0
    applied = run(erin, "apply")
    assert applied.returncode == 0 and "Applied config 1 of cancer" in applied.stdout
    # A local edit to production: auto, not applied: the applied policy decides.
    config = cancer / "shipline.yaml"
    config.write_text(config.read_text().replace("production: manual", "production: auto"))
    edited = run(erin, "promote", "cancer", "1", "--to", "production")
    assert edited.returncode == 0 and "approval 1 opened" in edited.stdout, edited.stdout
    # Promoting from another model's folder, whose file says auto: the same.
    elsewhere = run(erin, "promote", "cancer", "1", "--to", "production", folder=fraud)
    assert "approval 1" in elsewhere.stdout and "production ->" not in elsewhere.stdout
    before = _state(team)
    # The requester, pretending to be bob: remote mode ignores SHIPLINE_USER.
    own = run(erin, "approve", "1", SHIPLINE_USER="bob")
    assert own.returncode == 1 and "may not approve" in own.stderr
    # The author holds the approver role, and pretends to be bob: four-eyes still refuses.
    author = run(alice, "approve", "1", SHIPLINE_USER="bob")
    assert author.returncode == 1 and "four-eyes" in author.stderr, author.stderr
    # A viewer cannot promote, and a made-up token gets nowhere.
    viewer = run(vera, "promote", "cancer", "1", "--to", "staging")
    assert viewer.returncode == 1 and "may not promote-staging" in viewer.stderr
    forged = run({**vera, "SHIPLINE_TOKEN": "shp_" + "A" * 43}, "approve", "1")
    assert forged.returncode == 1 and "invalid, expired or revoked token" in forged.stderr
    assert _state(team) == before
    # A newer request supersedes the older one; approving the stale one is refused.
    newer = run(erin, "promote", "cancer", "2", "--to", "production")
    assert "approval 2 opened" in newer.stdout
    stale = run(bob, "approve", "1")
    assert stale.returncode == 1 and "superseded" in stale.stderr
    # A revoked token stops working on the next request.
    me = json.loads(run(bob, "whoami", "--json").stdout)
    with team.client(team.admin_token) as admin:
        assert admin.delete(f"/tokens/{me['token_id']}").status_code == 200
    revoked = run(bob, "approve", "2")
    assert revoked.returncode == 1 and "invalid, expired or revoked token" in revoked.stderr
    # The one legitimate path: another approver, with a valid token.
    carol = team.remote_env(team.add_user("carol", "approver"))
    assert run(carol, "approve", "2").returncode == 0
    shown = json.loads(run(vera, "models", "show", "cancer@production", "--json").stdout)
    assert shown["version"] == 2
    verified = run(carol, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    with team.client(team.admin_token) as admin:
        moves = admin.get("/models/cancer/aliases/history", params={"alias": "production"}).json()
        assert [(m["to_version"], m["actor"]) for m in moves] == [(2, "carol")]
        periods = admin.get("/models/cancer/aliases/production/periods").json()
        assert [(p["version"], p["how"], p["approved_by"], p["until"]) for p in periods] == [
            (2, "approval", ["carol"], None)
        ]
        decided = admin.get("/audit", params={"action": "approval.approve"}).json()
        assert decided[-1]["actor"] == "carol" and decided[-1]["via"].startswith("token ")


def test_twenty_clients_promote_and_approve_at_once(team: TeamServer, db_url: str) -> None:
    """Through two server processes on one database: they share no state but the database."""
    seed_versions(db_url, "churn", "alice", 5)
    second, second_url = launch_server(team.folder, team.server_env)
    urls = [team.url, second_url]
    engineers = [team.add_user(f"eng{i}", "ml-engineer") for i in range(10)]
    approvers = [team.add_user(f"appr{i}", "approver") for i in range(10)]
    statuses: list[int] = []
    done = threading.Event()
    lock = threading.Lock()

    def client_of(token: str, index: int) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"}
        return httpx.Client(base_url=f"{urls[index % 2]}/api/v1", headers=headers, timeout=60)

    def engineer(token: str, seed: int) -> None:
        chooser = random.Random(seed)
        with client_of(token, seed) as client:
            for _ in range(4):
                for alias in ("staging", "production"):
                    version = chooser.randint(1, 5)
                    answer = client.post(
                        f"/models/churn/versions/{version}/promote", json={"alias": alias}
                    )
                    with lock:
                        statuses.append(answer.status_code)

    def approver(token: str, index: int) -> None:
        with client_of(token, index) as client:
            while True:
                finished = done.is_set()
                pending = client.get("/approvals", params={"status": "pending"}).json()
                for approval in pending:
                    answer = client.post(f"/approvals/{approval['id']}/approve", json={})
                    with lock:
                        statuses.append(answer.status_code)
                if finished and not pending:
                    return

    workers = [threading.Thread(target=engineer, args=(t, i)) for i, t in enumerate(engineers)]
    checkers = [threading.Thread(target=approver, args=(t, i)) for i, t in enumerate(approvers)]
    for thread in workers + checkers:
        thread.start()
    for thread in workers:
        thread.join(timeout=600)
    done.set()
    for thread in checkers:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in workers + checkers)
    assert set(statuses) <= {200, 409}, sorted(set(statuses))
    with team.client(team.admin_token) as admin:
        approvals = admin.get("/approvals").json()
        assert approvals and all(a["status"] in ("approved", "superseded") for a in approvals)
        for approval in approvals:
            approved = [d for d in approval["decisions"] if d["decision"] == "approve"]
            assert len(approved) == (1 if approval["status"] == "approved" else 0)  # one winner
        history = admin.get("/models/churn/aliases/history").json()
        for alias in ("staging", "production"):
            moves = [m for m in history if m["alias"] == alias]
            for earlier, later in itertools.pairwise(moves):
                assert later["from_version"] == earlier["to_version"]  # no lost move
        production = [m for m in history if m["alias"] == "production"]
        assert len(production) == sum(a["status"] == "approved" for a in approvals)
        verified = admin.get("/audit/verify").json()
        assert verified["broken_seq"] is None and verified["state_problems"] == []
    second.terminate()
    assert second.wait(timeout=60) == 0
