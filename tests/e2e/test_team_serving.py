"""A prediction server in remote mode: it loads models and sends captures through the team
server with a serving token (no database or store settings), hot-swaps when the alias moves,
and with --auth admits only callers whose token may predict with the model."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from shipline.scaffold import create_project
from shipline.store import open_database
from shipline.store.tables import captures
from tests.served import start_server
from tests.services import free_port
from tests.team import TeamServer, clean_env, shipline, start_team_server


@pytest.fixture
def team(tmp_path: Path) -> Iterator[TeamServer]:
    """A team server on the laptop defaults."""
    db = f"sqlite:///{tmp_path / 'meta.db'}"
    server = start_team_server(tmp_path / "server", db, str(tmp_path / "store"))
    yield server
    assert server.stop() == 0


def test_remote_serving_with_caller_tokens(team: TeamServer, tmp_path: Path) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    local = {**team.server_env, "SHIPLINE_USER": "alice"}  # training still needs the database
    assert shipline("run", env=local, cwd=folder).returncode == 0
    config = folder / "shipline.yaml"
    config.write_text(config.read_text().replace("learning_rate: 0.1", "learning_rate: 0.2"))
    assert shipline("run", env=local, cwd=folder).returncode == 0
    service = team.remote_env(team.add_user("svc", "serving"), SHIPLINE_METRICS_TOKEN="scrape")
    engineer = team.remote_env(team.add_user("erin", "ml-engineer"))
    caller = team.add_user("carl", "predictor:cancer")
    stranger = team.add_user("stan", "predictor:fraud")
    assert not any(k in service for k in ("SHIPLINE_DB", "SHIPLINE_STORE"))
    assert (
        shipline("promote", "cancer", "1", "--to", "live", env=engineer, cwd=folder).returncode == 0
    )
    grpc_port = free_port()
    server = start_server(
        folder, "cancer@live", extra=("--auth", "--grpc-port", str(grpc_port)), env=service
    )
    url = server.url
    try:
        rows = pd.read_csv(folder / "data" / "breast_cancer.csv").head(3)
        body = {"instances": rows.drop(columns=["benign", "sample_id"]).values.tolist()}

        def predict(token: str | None) -> httpx.Response:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            return httpx.post(f"{url}/invocations", json=body, headers=headers, timeout=30)

        assert httpx.get(f"{url}/ping").status_code == 200  # probes stay open
        assert predict(None).status_code == 401
        assert predict("shp_" + "x" * 43).status_code == 401
        assert predict(stranger).status_code == 403
        answered = predict(caller)
        assert answered.status_code == 200, answered.text
        assert answered.headers["x-model-version"] == "cancer:1"
        assert len(answered.json()["predictions"]) == 3
        v2 = httpx.get(f"{url}/v2/models/cancer", headers={"authorization": f"Bearer {stranger}"})
        assert v2.status_code == 403
        _grpc_callers(f"127.0.0.1:{grpc_port}", rows, caller, stranger)
        assert httpx.get(f"{url}/metrics").status_code == 401
        scraped = httpx.get(f"{url}/metrics", headers={"authorization": "Bearer scrape"})
        assert scraped.status_code == 200 and "shipline_requests_total" in scraped.text
        # The alias moves through the API: the server swaps to version 2.
        moved = shipline("promote", "cancer", "2", "--to", "live", env=engineer, cwd=folder)
        assert moved.returncode == 0, moved.stderr
        deadline = time.monotonic() + 120
        while predict(caller).headers.get("x-model-version") != "cancer:2":
            assert time.monotonic() < deadline, "the server never swapped to cancer:2"
            time.sleep(0.2)  # poll interval
        # Captures reach the team server's database through the API.
        db = open_database(team.server_env["SHIPLINE_DB"])
        try:
            deadline = time.monotonic() + 120
            while True:
                with db.read() as conn:
                    written = conn.execute(captures.select()).fetchall()
                if written:
                    break
                assert time.monotonic() < deadline, "no captures reached the team server"
                time.sleep(0.3)  # poll interval
        finally:
            db.close()
        assert {row.model for row in written} == {"cancer"}
        # Monitoring runs on the team server, over the traffic it holds, as the caller.
        checked = shipline(
            "monitor",
            "cancer@live",
            "--window",
            "1h",
            "--json",
            "--html",
            "report.html",
            env=engineer,
            cwd=folder,
        )
        assert checked.returncode in (0, 1) and checked.stdout, checked.stderr  # 1: a rule broke
        report = json.loads(checked.stdout)
        assert report["rows"] >= 3 and report["model"] == "cancer" and report["version"] in (1, 2)
        assert (folder / "report.html").read_text().startswith("<!doctype html>")
        with team.client(team.admin_token) as admin:
            stored = admin.get("/audit", params={"action": "monitor.report"}).json()
            assert stored and stored[-1]["actor"] == "erin"
        # Batch scoring in remote mode loads the version through the API too.
        scored = shipline(
            "predict",
            "cancer@live",
            "-i",
            "data/breast_cancer.csv",
            "-o",
            "scored.csv",
            env=engineer,
            cwd=folder,
        )
        assert scored.returncode == 0 and "scored 569 rows with cancer:2" in scored.stdout
        viewer = team.remote_env(team.add_user("val", "viewer"))
        refused = shipline("monitor", "cancer@live", env=viewer, cwd=folder)
        assert refused.returncode == 1 and "may not monitor" in refused.stderr
        # Revoking the caller's token shuts it out within the check's memory (seconds).
        with team.client(caller) as own:
            token_id = own.get("/whoami").json()["token_id"]
        with team.client(team.admin_token) as admin:
            assert admin.delete(f"/tokens/{token_id}").status_code == 200
        deadline = time.monotonic() + 60
        while predict(caller).status_code != 401:
            assert time.monotonic() < deadline, "a revoked token kept predicting"
            time.sleep(0.2)  # poll interval
    finally:
        assert server.stop() == 0


def _grpc_callers(address: str, rows: pd.DataFrame, caller: str, stranger: str) -> None:
    """gRPC callers are held to the same tokens as REST's; the health calls stay open."""
    import grpc

    from shipline.server.proto import open_inference_pb2 as pb

    x = rows.drop(columns=["benign", "sample_id"]).to_numpy(dtype=float)
    request = pb.ModelInferRequest(model_name="cancer")
    request.inputs.add(
        name="x", datatype="FP64", shape=list(x.shape)
    ).contents.fp64_contents.extend(x.ravel().tolist())
    with grpc.insecure_channel(address) as channel:
        infer = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )
        live = channel.unary_unary(
            "/inference.GRPCInferenceService/ServerLive",
            request_serializer=pb.ServerLiveRequest.SerializeToString,
            response_deserializer=pb.ServerLiveResponse.FromString,
        )
        assert live(pb.ServerLiveRequest(), timeout=30).live is True
        for token, code in (
            (None, grpc.StatusCode.UNAUTHENTICATED),
            ("shp_" + "x" * 43, grpc.StatusCode.UNAUTHENTICATED),
            (stranger, grpc.StatusCode.PERMISSION_DENIED),
        ):
            metadata = [("authorization", f"Bearer {token}")] if token else []
            with pytest.raises(grpc.RpcError) as refused:
                infer(request, metadata=metadata, timeout=30)
            assert refused.value.code() == code, (token, refused.value)
        answer = infer(request, metadata=[("authorization", f"Bearer {caller}")], timeout=30)
        assert answer.model_name == "cancer" and list(answer.outputs[0].shape) == [3]


def test_serve_auth_needs_a_team_server(tmp_path: Path) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    refused = shipline("serve", "cancer@staging", "--auth", env=local_env(), cwd=folder)
    assert (
        refused.returncode == 2 and "--auth checks callers with the team server" in refused.stderr
    )


def local_env() -> dict[str, str]:
    """An environment in local mode, acting as alice."""
    return clean_env(SHIPLINE_USER="alice")


def test_login_keeps_the_token_in_a_private_file(team: TeamServer, tmp_path: Path) -> None:
    token = team.add_user("lou", "viewer")
    home = tmp_path / "home"
    env = {**local_env(), "XDG_CONFIG_HOME": str(home)}
    bad = shipline("login", team.url, env=env, cwd=tmp_path, stdin="shp_wrong\n")
    assert bad.returncode == 1 and not (home / "shipline" / "credentials.json").exists()
    good = shipline("login", team.url, env=env, cwd=tmp_path, stdin=token + "\n")
    assert good.returncode == 0 and "as lou" in good.stdout, good.stderr
    saved = home / "shipline" / "credentials.json"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert json.loads(saved.read_text())["token"] == token
    me = shipline("whoami", "--json", env={**env, "SHIPLINE_USER": "root"}, cwd=tmp_path)
    assert json.loads(me.stdout)["name"] == "lou"  # the token decides, not SHIPLINE_USER
    assert shipline("logout", env=env, cwd=tmp_path).returncode == 0
    local = json.loads(shipline("whoami", "--json", env=env, cwd=tmp_path).stdout)
    assert local == {"name": "alice", "via": "local", "grants": []}


def test_remote_data_versions_are_uploaded_and_recorded_by_the_server(
    team: TeamServer, tmp_path: Path
) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    dana = team.remote_env(team.add_user("dana", "data-scientist"))
    added = shipline("data", "add", "data", "--name", "tumours", "--json", env=dana, cwd=folder)
    assert added.returncode == 0, added.stderr
    first = json.loads(added.stdout)
    assert first["created"] and first["ref"] == "tumours@v1" and first["created_by"] == "dana"
    again = json.loads(
        shipline("data", "add", "data", "--name", "tumours", "--json", env=dana, cwd=folder).stdout
    )
    assert not again["created"] and again["digest"] == first["digest"]
    shown = shipline("data", "show", "tumours@v1", "--json", env=dana, cwd=folder)
    assert json.loads(shown.stdout)["rows"] == 569
    with team.client(team.admin_token) as admin:
        events = admin.get("/audit", params={"action": "dataset.version.add"}).json()
        assert [(e["actor"], e["target"]) for e in events] == [("dana", "dataset:tumours@v1")]
