"""The demo loop in remote mode on PostgreSQL + SeaweedFS: no client process holds database
or S3 credentials; every change goes through the team server as an authenticated person."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx
import pandas as pd

from shipline.scaffold import create_project
from tests.conftest import s3_environment
from tests.served import start_server
from tests.services import Postgres, SeaweedS3
from tests.team import key_pair, shipline, start_team_server

SECRETS = ("SHIPLINE_DB", "SHIPLINE_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def test_the_demo_loop_in_remote_mode(
    postgres_server: Postgres, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    db_url = postgres_server.create_database(f"t_{uuid.uuid4().hex[:12]}")
    store_url = f"s3://{s3_server.bucket}/{uuid.uuid4().hex[:12]}"
    signing, verifying = key_pair(tmp_path / "keys")
    # The server signs the versions it registers; prediction servers accept only signed ones.
    server_env = {**s3_environment(s3_server), "SHIPLINE_SIGNING_KEY": str(signing)}
    team = start_team_server(tmp_path / "server", db_url, store_url, server_env)
    try:
        folder = tmp_path / "cancer"
        create_project(folder, "classification")
        dana = team.remote_env(team.add_user("dana", "data-scientist"))
        erin = team.remote_env(team.add_user("erin", "ml-engineer"))
        bob = team.remote_env(team.add_user("bob", "approver"))
        sam = team.remote_env(team.add_user("sam", "serving"))
        for env in (dana, erin, bob, sam):
            assert not any(key in env for key in SECRETS)

        def run(env: dict[str, str], *args: str) -> str:
            done = shipline(*args, env=env, cwd=folder)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
            return str(done.stdout)

        # The data scientist trains here; the server gates and registers (and stages).
        assert "registered cancer:1" in run(dana, "run")
        assert "cached" in run(dana, "run")  # the second run reuses this machine's cache
        assert "Applied config 1 of cancer" in run(erin, "apply")
        assert "approval 1 opened" in run(erin, "promote", "cancer", "1", "--to", "production")
        run(bob, "approve", "1")
        strict = {**sam, "SHIPLINE_REQUIRE_SIGNED": "1", "SHIPLINE_VERIFY_KEY": str(verifying)}
        assert "signature holds" in run(strict, "models", "verify", "cancer:1")
        server = start_server(folder, "cancer@production", env=strict)
        url = server.url
        try:
            rows = pd.read_csv(folder / "data" / "breast_cancer.csv").head(2)
            body = {"instances": rows.drop(columns=["benign", "sample_id"]).values.tolist()}

            def served() -> str:
                answer = httpx.post(f"{url}/invocations", json=body, timeout=30)
                assert answer.status_code == 200, answer.text
                return str(answer.headers["x-model-version"])

            assert served() == "cancer:1"
            config = folder / "shipline.yaml"
            config.write_text(
                config.read_text().replace("learning_rate: 0.1", "learning_rate: 0.2")
            )
            assert "registered cancer:2" in run(dana, "run")
            run(erin, "promote", "cancer", "2", "--to", "production")
            approvals = json.loads(run(bob, "approvals", "--status", "pending", "--json"))
            run(bob, "approve", str(approvals[0]["id"]))
            deadline = time.monotonic() + 120
            while served() != "cancer:2":  # the server follows the alias through the API
                assert time.monotonic() < deadline, "the server never swapped to cancer:2"
                time.sleep(0.2)  # poll interval
        finally:
            assert server.stop() == 0
        assert "audit chain intact" in run(bob, "audit", "verify")
        runs = json.loads(run(dana, "runs", "list", "--json"))
        assert {r["actor"] for r in runs} == {"dana"} and len(runs) == 3
        with team.client(team.admin_token) as admin:
            registered = admin.get("/audit", params={"action": "model.version.register"}).json()
            assert [e["actor"] for e in registered] == ["dana", "dana"]
            assert all(e["via"].startswith("token ") for e in registered)
            moves = admin.get("/models/cancer/aliases/history", params={"alias": "production"})
            assert [m["actor"] for m in moves.json()] == ["bob", "bob"]
            periods = admin.get("/models/cancer/aliases/production/periods").json()
            assert [(p["version"], p["approved_by"]) for p in periods] == [
                (1, ["bob"]),
                (2, ["bob"]),
            ]
            assert periods[0]["until"] == periods[1]["since"] and periods[1]["until"] is None
    finally:
        assert team.stop() == 0
