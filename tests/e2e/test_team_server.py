"""The team server over real HTTP on loopback, on SQLite and PostgreSQL: deny by default,
the permission matrix from the role table, tokens, hostile requests, the audit origin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blake3
import pytest

from shipline.identity.role import ROLE_PERMISSIONS, Permission, Role
from shipline.pipeline.run_record import start_run
from shipline.registry import register_version
from shipline.store import open_database
from shipline.store.blob_kinds import record_kinds
from tests.team import TeamServer, start_team_server

ROLES = [Role.VIEWER, Role.DATA_SCIENTIST, Role.ML_ENGINEER, Role.APPROVER, Role.ADMIN]
ROLES += [Role.PREDICTOR, Role.SERVING, Role.CONTROLLER]
ZERO = "0" * 64
X_DIGEST = blake3.blake3(b"x").hexdigest()
UPLOADED_DATASET = {
    "name": "churn",
    "version": 0,
    "digest": ZERO,
    "kind": "file",
    "format": "csv",
    "size": 1,
    "rows": 1,
    "columns": [{"name": "a", "dtype": "int64"}],
    "files": [{"path": "churn.csv", "digest": ZERO, "size": 1, "rows": 1}],
    "source": "churn.csv",
    "created_at": "2026-01-01T00:00:00.000000Z",
    "created_by": "someone",
}


def seed_versions(db_url: str, name: str, author: str, count: int) -> None:
    """Register ``count`` versions of ``name`` trained and registered by ``author``."""
    db = open_database(db_url)
    try:
        for index in range(count):
            run_id = start_run(db, author, name, "test", {}, "0" * 64, {}, {})
            with db.write(author) as tx:
                digest = f"{name}{index}".encode().hex().ljust(64, "0")[:64]
                record_kinds(tx.conn, {digest: "model"})
                register_version(tx, name, run_id, digest, digest, {"metrics": {"auc": 0.9}})
    finally:
        db.close()


@pytest.fixture
def team(db_url: str, tmp_path: Path) -> Iterator[TeamServer]:
    """A team server with an admin, on each database kind."""
    server = start_team_server(tmp_path / "server", db_url, str(tmp_path / "store"))
    yield server
    assert server.stop() == 0


def _operations(team: TeamServer) -> list[tuple[str, str, dict[str, Any]]]:
    with team.client(None) as anonymous:
        document = anonymous.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_the_openapi_document_validates_and_every_operation_needs_a_credential(
    team: TeamServer,
) -> None:
    from openapi_spec_validator import validate

    with team.client(None) as anonymous:
        document = anonymous.get("/openapi.json").json()
    validate(document)
    operations = _operations(team)
    assert len(operations) >= 25
    for method, path, _ in operations:
        filled = path.replace("{", "").replace("}", "")  # any value: refused before it is read
        for token in (None, "shp_forged", "not-a-token", "Bearer"):
            with team.client(token) as client:
                answer = client.request(method, filled.removeprefix("/api/v1"), json={})
            if path == "/api/v1/health":
                assert answer.status_code == 200
            else:
                assert answer.status_code == 401, (method, path, token, answer.text)
                assert answer.headers["www-authenticate"] == "Bearer"


def _samples(role: Role, own_token: int, approval: int) -> dict[tuple[str, str], Any]:
    """One concrete request per operation, as (path, params, json or bytes)."""
    return {
        ("GET", "/whoami"): ("/whoami", None, None),
        ("GET", "/versions"): ("/versions", {"model": "churn"}, None),
        ("GET", "/versions/{ref}"): ("/versions/churn@staging", None, None),
        ("GET", "/models/{name}/aliases/history"): ("/models/churn/aliases/history", None, None),
        ("GET", "/models/{name}/aliases/{alias}/periods"): (
            "/models/churn/aliases/production/periods",
            None,
            None,
        ),
        ("POST", "/models/{name}/versions/{version}/promote"): (
            "/models/churn/versions/2/promote",
            None,
            {"alias": "production", "reason": f"by {role}"},
        ),
        ("POST", "/models/{name}/aliases/{alias}/rollback"): (
            "/models/churn/aliases/staging/rollback",
            None,
            {"reason": "test"},
        ),
        ("GET", "/approvals"): ("/approvals", None, None),
        ("POST", "/approvals/{approval_id}/approve"): (
            f"/approvals/{approval}/approve",
            None,
            {"reason": "ok"},
        ),
        ("POST", "/approvals/{approval_id}/reject"): (
            f"/approvals/{approval}/reject",
            None,
            {"reason": "no"},
        ),
        ("GET", "/models/{name}/config"): ("/models/churn/config", None, None),
        ("POST", "/models/{name}/config/plan"): (
            "/models/churn/config/plan",
            None,
            {"source": "", "document": {}, "project_dir": "/tmp"},
        ),
        ("POST", "/models/{name}/config/apply"): (
            "/models/churn/config/apply",
            None,
            {"source": "", "document": {}, "project_dir": "/tmp"},
        ),
        ("GET", "/runs"): ("/runs", None, None),
        ("GET", "/runs/{run_id}"): ("/runs/1", None, None),
        ("GET", "/datasets"): ("/datasets", None, None),
        ("GET", "/monitor/reports"): ("/monitor/reports", None, None),
        ("GET", "/monitor/reports/{report_id}"): ("/monitor/reports/1", None, None),
        ("GET", "/alarms"): ("/alarms", None, None),
        ("GET", "/status"): ("/status", {"model": "churn"}, None),
        ("POST", "/labels"): ("/labels", {"allow_unknown": "true"}, b"request_id,label\nr1,1\n"),
        ("GET", "/audit"): ("/audit", None, None),
        ("GET", "/audit/verify"): ("/audit/verify", None, None),
        ("GET", "/audit/checkpoint"): ("/audit/checkpoint", None, None),
        ("GET", "/users"): ("/users", None, None),
        ("POST", "/users"): ("/users", None, {"name": f"new-{role}", "roles": []}),
        ("POST", "/users/{name}/roles"): ("/users/target/roles", None, {"role": "viewer"}),
        ("DELETE", "/users/{name}/roles/{role}"): ("/users/target/roles/viewer", None, None),
        ("GET", "/tokens"): ("/tokens", {"user": str(role)}, None),
        ("POST", "/tokens"): ("/tokens", None, {"name": "more"}),
        ("DELETE", "/tokens/{token_id}"): (f"/tokens/{own_token}", None, None),
        ("GET", "/versions/{ref}/blobs/{digest}"): (f"/versions/churn:1/blobs/{ZERO}", None, None),
        ("POST", "/captures"): ("/captures", {"model": "churn", "version": "1"}, b"not parquet"),
        ("POST", "/blobs/missing"): ("/blobs/missing", None, {"digests": [ZERO]}),
        ("PUT", "/blobs/{digest}"): (f"/blobs/{X_DIGEST}", None, b"x"),
        ("POST", "/runs/import"): (
            "/runs/import",
            None,
            {"config": {"name": "churn"}, "lineage": {}, "params": {}, "steps": []},
        ),
        ("GET", "/runs/{run_id}/outputs/{digest}"): (f"/runs/1/outputs/{ZERO}", None, None),
        ("GET", "/datasets/{ref}"): ("/datasets/churn@v1", None, None),
        ("POST", "/datasets/import"): ("/datasets/import", None, UPLOADED_DATASET),
        ("POST", "/datasets/{ref}/accept-schema"): (
            "/datasets/churn@v1/accept-schema",
            None,
            {"reason": "new column"},
        ),
        ("POST", "/monitor"): ("/monitor", None, {"ref": "churn@staging", "window": "1h"}),
        ("GET", "/monitor/reports/{report_id}/html"): ("/monitor/reports/1/html", None, None),
        ("GET", "/controller/configs"): ("/controller/configs", None, None),
        ("GET", "/controller/{model}/watch/{name}"): ("/controller/churn/watch/source", None, None),
        ("PUT", "/controller/{model}/watch/{name}"): (
            "/controller/churn/watch/x",
            None,
            {"value": 1},
        ),
        ("POST", "/controller/{model}/events"): (
            "/controller/churn/events",
            None,
            {"kind": "cron", "key": f"tick-{role}", "evidence": {}},
        ),
        ("GET", "/controller/{model}/events"): ("/controller/churn/events", None, None),
        ("POST", "/controller/events/status"): (
            "/controller/events/status",
            None,
            {"ids": [], "status": "done"},
        ),
        ("POST", "/controller/leases/{name}"): (
            "/controller/leases/model:churn",
            None,
            {"holder": f"holder-{role}", "ttl_s": 1},
        ),
        ("DELETE", "/controller/leases/{name}"): (
            "/controller/leases/model:churn",
            {"holder": f"holder-{role}"},
            None,
        ),
        ("POST", "/controller/{model}/problem"): (
            "/controller/churn/problem",
            None,
            {"problem": "x"},
        ),
        ("POST", "/controller/runs/{run_id}/fail"): (
            "/controller/runs/1/fail",
            None,
            {"problem": "x"},
        ),
        ("GET", "/models/{name}/aliases/{alias}/rollout"): (
            "/models/churn/aliases/production/rollout",
            None,
            None,
        ),
        ("GET", "/models/{name}/rollouts"): ("/models/churn/rollouts", None, None),
        ("POST", "/models/{name}/aliases/{alias}/rollout/{action}"): (
            "/models/churn/aliases/production/rollout/pause",
            None,
            {"reason": "x"},
        ),
        ("POST", "/rollouts/observations"): (
            "/rollouts/observations",
            None,
            [{"rollout_id": 1, "role": "stable", "requests": 1, "errors": 0, "latency": [1]}],
        ),
        ("GET", "/controller/{model}/rollouts"): ("/controller/churn/rollouts", None, None),
        ("GET", "/controller/rollouts/{rollout_id}/evidence"): (
            "/controller/rollouts/1/evidence",
            None,
            None,
        ),
        ("POST", "/controller/rollouts/{rollout_id}/verdicts"): (
            "/controller/rollouts/1/verdicts",
            None,
            {"phase": "canary", "step": 0, "outcome": "hold", "verdict": {}},
        ),
        ("POST", "/auth/check"): (
            "/auth/check",
            None,
            {"credential": "shp_x", "model": "churn"},
        ),
    }


def _allowed(role: Role, permission: str, sample_json: Any) -> bool:
    if permission == "authenticated":
        return True
    if permission == "promote-<alias>":
        alias = sample_json["alias"]
        permission = "promote-production" if alias == "production" else "promote-staging"
    return Permission(permission) in ROLE_PERMISSIONS[role]


def test_every_role_may_do_exactly_what_the_role_table_grants(
    team: TeamServer, db_url: str
) -> None:
    seed_versions(db_url, "churn", "alice", 2)
    with team.client(team.admin_token) as admin:
        staged = admin.post("/models/churn/versions/1/promote", json={"alias": "staging"})
        assert staged.json()["moved"], staged.text
        opened = admin.post("/models/churn/versions/1/promote", json={"alias": "production"})
        approval = opened.json()["approval"]["id"]
    team.add_user("target", "viewer")
    operations = _operations(team)
    covered = set()
    for role in ROLES:
        team.add_user(str(role), str(role))
        with team.client(team.tokens[str(role)]) as client:
            spare = client.post("/tokens", json={"name": "spare"}).json()["token"]["id"]
            samples = _samples(role, spare, approval)
            for method, path, operation in operations:
                if path == "/api/v1/health":
                    continue
                key = (method, path.removeprefix("/api/v1"))
                assert key in samples, f"no sample request for {key}: add one"
                url, params, body = samples[key]
                content = body if isinstance(body, bytes) else None
                answer = client.request(
                    method,
                    url,
                    params=params,
                    json=None if content is not None else body,
                    content=content,
                )
                permission = operation["x-permission"]
                expected = _allowed(role, permission, body)
                refused_by_role = (
                    answer.status_code == 403 and "no role of theirs grants it" in answer.text
                )
                assert answer.status_code != 401, (role, key, answer.text)
                assert refused_by_role != expected, (role, key, answer.status_code, answer.text)
                if not expected:
                    assert answer.status_code == 403
                covered.add(key)
    assert len(covered) == len(operations) - 1


def test_a_grant_on_one_model_reaches_that_model_only(team: TeamServer, db_url: str) -> None:
    seed_versions(db_url, "churn", "alice", 1)
    seed_versions(db_url, "fraud", "alice", 1)
    token = team.add_user("fran", "ml-engineer:fraud")
    with team.client(token) as client:
        assert client.get("/versions", params={"model": "fraud"}).status_code == 200
        assert client.get("/versions/fraud:1").status_code == 200
        assert client.get("/versions/churn:1").status_code == 403
        assert client.get("/versions").status_code == 403  # every model: a global grant only
        promoted = client.post("/models/fraud/versions/1/promote", json={"alias": "staging"})
        assert promoted.status_code == 200 and promoted.json()["moved"]
        refused = client.post("/models/churn/versions/1/promote", json={"alias": "staging"})
        assert refused.status_code == 403
    with team.client(team.admin_token) as admin:
        holders = admin.get("/versions", params={"model": "churn"}).json()
        assert holders[0]["aliases"] == []  # nothing moved by the refused call


def test_a_revoked_token_is_refused_on_the_next_request(team: TeamServer) -> None:
    token = team.add_user("vic", "viewer")
    with team.client(token) as client:
        me = client.get("/whoami").json()
        assert me["name"] == "vic" and me["via"].startswith("token ")
        token_id = me["token_id"]
        assert client.get("/approvals").status_code == 200
        with team.client(team.admin_token) as admin:
            listed = admin.get("/tokens", params={"user": "vic"}).json()
            assert [t["id"] for t in listed] == [token_id]
            assert listed[0]["last_used_at"] is not None
            assert "secret" not in listed[0] and "token_hash" not in listed[0]
            assert admin.delete(f"/tokens/{token_id}").json()["revoked_at"] is not None
        assert client.get("/approvals").status_code == 401


def test_an_expired_token_is_refused(team: TeamServer, db_url: str) -> None:
    from shipline.store.tables import api_tokens

    token = team.add_user("eve", "viewer")
    with team.client(token) as client:
        assert client.get("/whoami").status_code == 200
        token_id = client.get("/whoami").json()["token_id"]
        db = open_database(db_url)
        try:
            with db.write("test") as tx:
                tx.conn.execute(
                    api_tokens.update()
                    .where(api_tokens.c.id == token_id)
                    .values(expires_at="2020-01-01T00:00:00.000000Z")
                )
        finally:
            db.close()
        assert client.get("/whoami").status_code == 401


def test_a_role_taken_away_is_gone_on_the_next_request(team: TeamServer) -> None:
    token = team.add_user("dora", "data-scientist", "approver")
    with team.client(token) as client, team.client(team.admin_token) as admin:
        assert client.get("/audit").status_code == 200  # approvers read the audit log
        assert admin.delete("/users/dora/roles/approver").status_code == 200
        assert client.get("/audit").status_code == 403


def test_hostile_requests_get_clear_refusals(team: TeamServer) -> None:
    with team.client(team.admin_token) as admin:
        for body in (b"{", b"[]", b'{"name": "../etc", "roles": []}', b"\xff\xfe"):
            answer = admin.post(
                "/users", content=body, headers={"content-type": "application/json"}
            )
            assert answer.status_code == 422, (body, answer.text)
        unknown_field = admin.post("/users", json={"name": "x", "roles": [], "admin": True})
        assert unknown_field.status_code == 422
        bad_role = admin.post("/users", json={"name": "x", "roles": [{"role": "root"}]})
        assert bad_role.status_code == 400 and "unknown role 'root'" in bad_role.text
        assert admin.get("/users").status_code == 200
        assert [u["name"] for u in admin.get("/users").json()] == ["root"]  # nothing written
    with team.client(None) as anonymous:
        huge = anonymous.get("/whoami", headers={"authorization": "Bearer shp_" + "a" * 9000})
        assert huge.status_code == 401
        basic = anonymous.get("/whoami", headers={"authorization": f"Basic {team.admin_token}"})
        assert basic.status_code == 401
    with team.client(team.admin_token) as admin:
        oversized = b'{"name": "big", "roles": [], "x": "' + b"a" * (33 * 1024 * 1024) + b'"}'
        answer = admin.post(
            "/users", content=oversized, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
            yield b'{"name": "big", "roles": [], "x": "'
            for _ in range(40):
                yield b"a" * (1024 * 1024)
            yield b'"}'

        streamed = admin.post(
            "/users", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert [u["name"] for u in admin.get("/users").json()] == ["root"]
    # Bytes no HTTP client library would send: a NUL after a valid token, a header smuggled
    # into the credential, a request line far over any limit.
    for raw in (
        f"Authorization: Bearer {team.admin_token}\x00",
        f"Authorization: Bearer shp_x\r\nAuthorization: Bearer {team.admin_token}",
        f"Authorization: Bearer {team.admin_token}\r\nContent-Length: 5\r\nContent-Length: 9",
    ):
        status = _raw_status(team, f"GET /api/v1/users HTTP/1.1\r\nHost: x\r\n{raw}\r\n\r\n")
        assert status in (400, 401), (raw, status)
    assert _raw_status(team, "GET /api/v1/users?" + "a" * 70_000 + " HTTP/1.1\r\n\r\n") in (
        400,
        401,
        414,
        431,
        None,  # the server closed the connection on the over-long line
    )


def _raw_status(team: TeamServer, request: str) -> int | None:
    """Send bytes as they are; the status of the answer (None if the server hung up)."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(team.url)
    answer = b""
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        # No half-close: a server may drop the answer to a client that hung up its side.
        wire = request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n", 1)
        try:
            sock.sendall(wire.encode("latin-1"))
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server refused the bytes by closing the connection
    if not answer:
        return None
    return int(answer.split(b" ", 2)[1])


def test_audit_events_name_the_principal_how_and_from_where(team: TeamServer) -> None:
    with team.client(team.admin_token) as admin:
        me = admin.get("/whoami").json()
        forged = {"x-forwarded-for": "203.0.113.9"}  # no trusted proxy: ignored
        assert admin.post("/users", json={"name": "gus", "roles": []}, headers=forged).status_code
        events = admin.get("/audit", params={"target": "user:gus"}).json()
        added = next(e for e in events if e["action"] == "user.add")
        assert added["actor"] == "root"
        assert added["via"] == f"token {me['token_id']}"
        assert added["client"] == "127.0.0.1"
        assert admin.get("/audit/verify").json()["broken_seq"] is None


def test_uploads_are_rehashed_and_runs_must_point_at_uploaded_outputs(
    team: TeamServer, db_url: str
) -> None:
    token = team.add_user("dana", "data-scientist:cancer")
    with team.client(token) as client:
        forged = client.put(f"/blobs/{X_DIGEST}", content=b"not x")
        assert forged.status_code == 422 and forged.json()["error"] == "digest_mismatch"
        assert client.put("/blobs/../../etc", content=b"x").status_code in (400, 404)
        assert client.put(f"/blobs/{X_DIGEST.upper()}", content=b"x").status_code == 400
        assert client.put(f"/blobs/{X_DIGEST}", content=b"x").status_code == 201
        missing = client.post("/blobs/missing", json={"digests": [X_DIGEST, ZERO]}).json()
        assert missing == {"missing": [ZERO]}
        config = _cancer_config()
        step = {
            "step": "ingest",
            "position": 0,
            "status": "succeeded",
            "cache_key": "k",
            "key_parts": {},
            "outputs": {"dataset": ZERO},
            "cached_from": None,
            "started_at": "2026-01-01T00:00:00.000000Z",
            "seconds": 0.1,
            "error": None,
        }
        body = {"config": config, "lineage": {}, "params": {}, "steps": [step]}
        not_uploaded = client.post("/runs/import", json=body)
        assert not_uploaded.status_code == 404 and "not uploaded" in not_uploaded.text
        wrong_order = client.post(
            "/runs/import", json={**body, "steps": [{**step, "step": "train"}]}
        )
        assert wrong_order.status_code == 400 and "expected ingest" in wrong_order.text
        other = client.post("/runs/import", json={**body, "config": {**config, "name": "fraud"}})
        assert other.status_code == 403  # the grant is on cancer only
        bad_config = client.post("/runs/import", json={**body, "config": {"name": "cancer"}})
        assert bad_config.status_code == 422 and "data" in bad_config.text
    with team.client(team.admin_token) as admin:
        assert admin.get("/runs").json() == []  # nothing recorded by any refused upload


def _cancer_config() -> dict[str, Any]:
    import tempfile

    from shipline.config import load_config
    from shipline.scaffold import create_project

    with tempfile.TemporaryDirectory() as folder:
        create_project(Path(folder) / "cancer", "classification")
        return load_config(Path(folder) / "cancer" / "shipline.yaml").model_dump(mode="json")
