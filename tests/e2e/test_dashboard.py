"""The dashboard in a real browser (Playwright driving Debian's Chromium) against a live team
server: a data scientist finds their run, an approver approves from the comparison page,
production moves and the history and audit pages show it; viewers get no buttons and forged
or CSRF-less posts are refused; hostile text renders as text; nothing leaves the origin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from shipline.scaffold import create_project
from tests.team import TeamServer, shipline, start_team_server

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


@pytest.fixture
def team(tmp_path: Path) -> Iterator[TeamServer]:
    """A team server on the laptop defaults."""
    db = f"sqlite:///{tmp_path / 'meta.db'}"
    server = start_team_server(tmp_path / "server", db, str(tmp_path / "store"))
    yield server
    assert server.stop() == 0


def _screenshot(visitor: _Visitor, name: str, folder: Path) -> None:
    """A full-page screenshot: into SHIPLINE_SCREENSHOTS (the README's images) when set."""
    import os

    target = Path(os.environ.get("SHIPLINE_SCREENSHOTS") or folder)
    target.mkdir(parents=True, exist_ok=True)
    visitor.page.set_viewport_size({"width": 1280, "height": 800})
    visitor.page.screenshot(path=str(target / f"{name}.png"), full_page=True)
    assert (target / f"{name}.png").stat().st_size > 10_000


class _Visitor:
    """One person's browser context, recording every request and dialog."""

    def __init__(self, browser: Any, team: TeamServer) -> None:
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", self._dialog)
        self.base = team.url

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_in(self, token: str, then: str = "/") -> None:
        self.page.goto(f"{self.base}/sign-in?next={then}")
        self.page.fill("#token", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.base}{then}")

    def text(self) -> str:
        return str(self.page.inner_text("main"))


def test_the_review_journey_in_a_browser(team: TeamServer, tmp_path: Path, browser: Any) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    config.write_text(
        config.read_text()
        .replace("description: Predicts", f"description: '{HOSTILE} Predicts", 1)
        .replace("measurements.\n", "measurements.'\n", 1)
    )
    dana_token = team.add_user("dana", "data-scientist")
    erin = team.remote_env(team.add_user("erin", "ml-engineer"))
    bob_token = team.add_user("bob", "approver")
    vera_token = team.add_user("vera", "viewer")
    ran = shipline("run", env=team.remote_env(dana_token), cwd=folder)
    assert ran.returncode == 0, ran.stderr
    asked = shipline(
        "promote", "cancer", "1", "--to", "production", "--reason", HOSTILE, env=erin, cwd=folder
    )
    assert "approval 1 opened" in asked.stdout, asked.stderr

    dana = _Visitor(browser, team)
    dana.page.goto(f"{team.url}/runs")
    assert dana.page.url.startswith(f"{team.url}/sign-in")  # not signed in: the sign-in page
    dana.sign_in(dana_token, "/runs")
    assert "dana" in dana.text() and "succeeded" in dana.text()
    dana.page.click("a[href='/runs/1']")
    assert "Run 1 of cancer" in dana.text() and "register" in dana.text()
    cookie = next(c for c in dana.context.cookies() if c["name"] == "shipline_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    bob = _Visitor(browser, team)
    bob.sign_in(bob_token, "/approvals/1")
    page = bob.text()
    assert "Candidate against nothing" in page and "roc_auc" in page
    assert HOSTILE in page  # the requester's reason, shown as text
    missing_csrf = bob.context.request.post(f"{team.url}/approvals/1/approve", form={"reason": "x"})
    assert missing_csrf.status == 403
    _screenshot(bob, "approval", tmp_path / "screenshots")
    bob.page.fill("#approve-reason", "looks good")
    bob.page.click("button.approve")
    bob.page.wait_for_url(f"{team.url}/approvals/1")
    assert "approved" in bob.text() and "bob: approve" in bob.text()
    bob.page.goto(f"{team.url}/models/cancer")
    history = bob.page.inner_text("table.history")
    assert "approval" in history and "bob" in history and "erin" in history  # asked, approved
    assert "dana" in bob.page.inner_text("table.history-staging")  # her run staged it
    assert HOSTILE in bob.text()  # the model's description, as text
    _screenshot(bob, "model", tmp_path / "screenshots")
    bob.page.goto(f"{team.url}/")
    _screenshot(bob, "models", tmp_path / "screenshots")
    bob.page.goto(f"{team.url}/runs")
    _screenshot(bob, "runs", tmp_path / "screenshots")

    vera = _Visitor(browser, team)
    vera.sign_in(vera_token, "/approvals/1")
    assert vera.page.locator("button.approve").count() == 0
    csrf = vera.page.locator("input[name=csrf]").first.get_attribute("value")
    forged = vera.context.request.post(
        f"{team.url}/approvals/1/reject", form={"csrf": csrf, "reason": "mine now"}
    )
    assert forged.status == 403 and "may not approve" in forged.text()
    vera.page.goto(f"{team.url}/audit")
    assert "Not allowed" in vera.text()  # viewers do not read the audit log

    bob.page.goto(f"{team.url}/audit")
    assert "Chain intact" in bob.text() and "approval.approve" in bob.text()
    for visitor in (dana, bob, vera):
        assert visitor.dialogs == []  # no injected script ran
        origins = {urlsplit(u).netloc for u in visitor.requests}
        assert origins == {urlsplit(team.url).netloc}, origins
    with team.client(team.admin_token) as admin:
        moved = admin.get("/models/cancer/aliases/production/periods").json()
        assert [(p["version"], p["approved_by"]) for p in moved] == [(1, ["bob"])]


def test_signing_out_and_revoking_the_token_end_the_session(team: TeamServer, browser: Any) -> None:
    token = team.add_user("vic", "viewer")
    vic = _Visitor(browser, team)
    vic.sign_in(token)
    assert "No models yet" in vic.text()
    vic.page.click("header button[type=submit]")  # sign out
    vic.page.wait_for_url(f"{team.url}/sign-in")
    vic.page.goto(f"{team.url}/")
    assert vic.page.url.startswith(f"{team.url}/sign-in")
    vic.sign_in(token)
    with team.client(token) as own:
        token_id = own.get("/whoami").json()["token_id"]
    with team.client(team.admin_token) as admin:
        assert admin.delete(f"/tokens/{token_id}").status_code == 200
    vic.page.goto(f"{team.url}/")
    assert vic.page.url.startswith(f"{team.url}/sign-in")  # the session stood on that token
    wrong = _Visitor(browser, team)
    wrong.page.goto(f"{team.url}/sign-in?next=//evil.example/")
    wrong.page.fill("#token", "shp_wrong")
    wrong.page.click("button[type=submit]")
    assert "invalid, expired or revoked token" in wrong.text()
    assert wrong.page.url.startswith(team.url)


def test_every_page_needs_a_session_and_errors_are_pages(team: TeamServer) -> None:
    import httpx

    for path in ("/", "/models/x", "/approvals", "/approvals/1", "/runs", "/runs/1", "/audit"):
        answer = httpx.get(f"{team.url}{path}", cookies={"shipline_session": "forged"})
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/sign-in?next=")
    for path in ("/approvals/1/approve", "/sign-out"):
        assert httpx.post(f"{team.url}{path}", data={"csrf": "x"}).status_code == 303
    missing = httpx.get(f"{team.url}/no/such/page")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text
    assert httpx.get(f"{team.url}/api/v1/no/such").json() == {"detail": "Not Found"}
    page = httpx.get(f"{team.url}/sign-in")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_admins_manage_users_and_tokens_from_the_admin_page(team: TeamServer, browser: Any) -> None:
    root = _Visitor(browser, team)
    root.sign_in(team.admin_token, "/admin")
    root.page.fill("#new-name", "newbie")
    root.page.select_option("#new-role", "viewer")
    root.page.click("text=Add user and issue a token")
    secret = root.page.inner_text("pre.secret").strip()
    assert secret.startswith("shp_")
    with team.client(secret) as newbie:
        assert newbie.get("/whoami").json()["name"] == "newbie"
    root.page.goto(f"{team.url}/admin")
    assert "shp_" not in root.text()  # shown once, never again
    row = root.page.locator("tr", has_text="newbie").filter(has=root.page.locator("button"))
    row.locator("button.reject").click()
    root.page.wait_for_url(f"{team.url}/admin")
    with team.client(secret) as newbie:
        assert newbie.get("/whoami").status_code == 401
    viewer = _Visitor(browser, team)
    viewer.sign_in(team.add_user("val", "viewer"))
    viewer.page.goto(f"{team.url}/admin")
    assert "Not allowed" in viewer.text()
    viewer.page.goto(f"{team.url}/")
    assert viewer.page.locator("a[href='/admin']").count() == 0
    csrf = viewer.page.locator("input[name=csrf]").first.get_attribute("value")
    forged = viewer.context.request.post(
        f"{team.url}/admin/users", form={"csrf": csrf, "name": "mallory", "role": "admin"}
    )
    assert forged.status == 403
    with team.client(team.admin_token) as admin:
        assert "mallory" not in [u["name"] for u in admin.get("/users").json()]


def test_runs_are_compared_side_by_side(team: TeamServer, tmp_path: Path, browser: Any) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    token = team.add_user("dana", "data-scientist")
    env = team.remote_env(token)
    assert shipline("run", env=env, cwd=folder).returncode == 0
    config = folder / "shipline.yaml"
    config.write_text(config.read_text().replace("learning_rate: 0.1", "learning_rate: 0.3"))
    assert shipline("run", env=env, cwd=folder).returncode == 0
    dana = _Visitor(browser, team)
    dana.sign_in(token, "/runs")
    dana.page.check("input[aria-label='compare run 1']")
    dana.page.check("input[aria-label='compare run 2']")
    dana.page.click("text=Compare the selected runs")
    dana.page.wait_for_url(f"{team.url}/runs/compare?ids=2&ids=1")
    differing = dana.page.locator("tr.differs").all_inner_texts()
    assert any(text.startswith("param learning_rate") for text in differing), differing
    assert not any(text.startswith("param seed") for text in differing)
    # The model page: the primary metric across versions, lineage, and tables that sort.
    dana.page.goto(f"{team.url}/models/cancer")
    chart = dana.page.locator("svg[aria-label='roc_auc per version']")
    assert chart.locator("circle").count() == 2
    versions = dana.page.locator("table.sortable").first
    assert "cancer@v1" in versions.inner_text()  # the dataset each version was trained on

    def first_cells() -> list[str]:
        return list(versions.locator("tbody tr td:first-child").all_inner_texts())

    assert first_cells() == ["2", "1"]
    versions.locator("thead th").first.click()
    assert first_cells() == ["1", "2"]
    versions.locator("thead th").first.press("Enter")
    assert first_cells() == ["2", "1"]
    dana.page.fill("input.table-filter", "staging")
    visible = versions.locator("tbody tr:visible td:first-child").all_inner_texts()
    assert len(visible) == 1
    assert "Nothing scheduled" in dana.text() and "No monitoring reports yet" in dana.text()


class _LoginProvider:
    """An OpenID provider on loopback for browser sign-in: discovery, an authorization
    endpoint that signs the configured person in at once, a token endpoint that checks the
    PKCE verifier, and the JWKS."""

    def __init__(self, person: str, groups: list[str]) -> None:
        import threading
        from http.server import ThreadingHTTPServer

        from tests.e2e.test_team_sso import SigningKeys

        self.keys = SigningKeys()
        self.keys.new_key("k1")
        self.person, self.groups = person, groups
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.issuer = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> Any:
        import base64
        import hashlib
        import json
        import secrets
        from http.server import BaseHTTPRequestHandler
        from urllib.parse import parse_qs, urlencode

        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: Any, location: str | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                if location:
                    self.send_header("location", location)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                asked = {k: v[0] for k, v in parse_qs(query).items()}
                if path == "/.well-known/openid-configuration":
                    self._send(200, {
                        "issuer": provider.issuer,
                        "authorization_endpoint": f"{provider.issuer}/authorize",
                        "token_endpoint": f"{provider.issuer}/token",
                        "jwks_uri": f"{provider.issuer}/jwks.json",
                    })  # fmt: skip
                elif path == "/jwks.json":
                    self._send(200, provider.keys.jwks())
                elif path == "/authorize":
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = asked
                    back = urlencode({"code": code, "state": asked["state"]})
                    self._send(302, {}, f"{asked['redirect_uri']}?{back}")
                else:
                    self._send(404, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests.append(form)
                asked = provider.codes.pop(form.get("code", ""), None)
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
                if asked is None or challenge != asked["code_challenge"]:
                    self._send(400, {"error": "invalid_grant"})
                    return
                token = provider.keys.token(
                    iss=provider.issuer,
                    aud=asked["client_id"],
                    nonce=asked["nonce"],
                    preferred_username=provider.person,
                    sub=f"sub-{provider.person}",
                    groups=provider.groups,
                )
                self._send(200, {"id_token": token, "token_type": "Bearer"})

            def log_message(self, *_: Any) -> None:
                return None

        return Handler

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def test_single_sign_on_in_the_browser(tmp_path: Path, browser: Any) -> None:
    provider = _LoginProvider("olga", ["approvers"])
    settings = {
        "SHIPLINE_OIDC_ISSUER": provider.issuer,
        "SHIPLINE_OIDC_AUDIENCE": "shipline-api",
        "SHIPLINE_OIDC_JWKS_URL": f"{provider.issuer}/jwks.json",
        "SHIPLINE_OIDC_ROLES": "approvers=approver",
        "SHIPLINE_OIDC_CLIENT_ID": "shipline-dashboard",
    }
    db = f"sqlite:///{tmp_path / 'meta.db'}"
    team = start_team_server(tmp_path / "server", db, str(tmp_path / "store"), settings)
    try:
        olga = _Visitor(browser, team)
        olga.page.goto(f"{team.url}/sign-in?next=/approvals")
        olga.page.click("a.sso")
        olga.page.wait_for_url(f"{team.url}/approvals")
        assert "olga" in olga.page.inner_text("header")
        assert "No approvals yet" in olga.text()
        exchange = provider.token_requests[-1]
        assert exchange["client_id"] == "shipline-dashboard" and exchange["code_verifier"]
        with team.client(team.admin_token) as admin:
            opened = admin.get("/audit", params={"action": "session.open"}).json()
            assert opened[-1]["actor"] == "olga" and opened[-1]["after"].find("oidc sub-olga") > 0
        # A replayed callback (the same state and code) is refused.
        replay = olga.context.request.get(
            f"{team.url}/sign-in/oidc/callback?state=used&code=stolen", max_redirects=0
        )
        assert replay.status == 401
    finally:
        provider.stop()
        assert team.stop() == 0


def test_an_approval_shows_how_the_training_data_moved(
    team: TeamServer, tmp_path: Path, browser: Any
) -> None:
    import pandas as pd

    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    dana = team.remote_env(team.add_user("dana", "data-scientist"))
    erin = team.remote_env(team.add_user("erin", "ml-engineer"))
    bob_token = team.add_user("bob", "approver")
    assert shipline("run", env=dana, cwd=folder).returncode == 0
    shipline("promote", "cancer", "1", "--to", "production", env=erin, cwd=folder)
    with team.client(bob_token) as bob_api:
        assert bob_api.post("/approvals/1/approve", json={}).json()["status"] == "approved"
    data = folder / "data" / "breast_cancer.csv"
    frame = pd.read_csv(data)
    numeric = frame.columns.drop(["benign", "sample_id"])
    frame[numeric] = frame[numeric] * 1.6
    frame.to_csv(data, index=False)
    config = folder / "shipline.yaml"
    config.write_text(config.read_text().replace("max_drop: 0.01", "max_drop: 1.0"))
    ran = shipline("run", env=dana, cwd=folder)
    assert "registered cancer:2" in ran.stdout, ran.stdout + ran.stderr
    shipline("promote", "cancer", "2", "--to", "production", env=erin, cwd=folder)
    bob = _Visitor(browser, team)
    bob.sign_in(bob_token, "/approvals/2")
    assert "Training data: cancer:2 against cancer:1" in bob.text()
    assert "DATASET DRIFT" in bob.text()
    assert bob.page.locator("table.drift tbody tr").count() == len(numeric)
    # A monitoring report (the drifted file against production) opens whole under the CSP.
    ops = {**team.server_env, "SHIPLINE_USER": "ops"}
    monitored = shipline(
        "monitor", "cancer@production", "--current", str(data), env=ops, cwd=folder
    )
    assert monitored.returncode == 1 and "DRIFTED" in monitored.stdout  # drift: exit 1
    refused: list[str] = []
    bob.page.on("console", lambda message: refused.append(message.text))
    bob.page.goto(f"{team.url}/models/cancer")
    bob.page.click("a[href='/monitoring/reports/1']")
    assert "DATASET DRIFT" in bob.page.inner_text("body")
    assert bob.page.locator("svg[aria-label='drift score per column'] rect.score").count() > 0
    assert [m for m in refused if "Content Security Policy" in m] == []


def test_filters_cards_and_idle_sessions(team: TeamServer, tmp_path: Path, browser: Any) -> None:
    from shipline.store import open_database
    from shipline.store.tables import ui_sessions

    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    token = team.add_user("dana", "data-scientist", "approver")
    assert shipline("run", env=team.remote_env(token), cwd=folder).returncode == 0
    dana = _Visitor(browser, team)
    dana.sign_in(token, "/runs?trigger=controller")
    assert "No runs match" in dana.text()
    dana.page.goto(f"{team.url}/runs?trigger=manual")
    assert dana.page.locator("a[href='/runs/1']").count() == 1
    dana.page.goto(f"{team.url}/runs/1")
    why = dana.page.locator("td.why").all_inner_texts()
    assert why[0].startswith("ran because no earlier run of this model reached this step")
    dana.page.goto(f"{team.url}/models/cancer")
    dana.page.click("a[aria-label='model card of version 1']")
    assert "cancer" in dana.page.inner_text("pre.card-text")
    dana.page.goto(f"{team.url}/audit?action=model.version.register")
    rows = dana.page.locator("table.sortable tbody tr").all_inner_texts()
    assert len(rows) == 1 and "dana" in rows[0]
    # Eight idle hours later the session is over.
    db = open_database(team.server_env["SHIPLINE_DB"])
    try:
        with db.write("test") as tx:
            tx.conn.execute(ui_sessions.update().values(last_seen_at="2020-01-01T00:00:00.000000Z"))
    finally:
        db.close()
    dana.page.goto(f"{team.url}/runs")
    assert dana.page.url.startswith(f"{team.url}/sign-in")


def test_run_pages_say_why_and_approvals_show_bias(team: TeamServer, browser: Any) -> None:
    from shipline.pipeline.run_record import start_run
    from shipline.registry import promote, register_version
    from shipline.store import open_database
    from shipline.store.blob_kinds import record_kinds

    db = open_database(team.server_env["SHIPLINE_DB"])
    try:
        run_id = start_run(db, "alice", "loans", "manual", {}, "0" * 64, {}, {"note": HOSTILE})
        bias = {
            "positive_class": 1,
            "columns": {
                "region": {"metric": "demographic_parity_difference", "value": 0.31, "max": 0.1,
                           "passed": False, "selection_rate": {}, "true_positive_rate": {}},
            },
        }  # fmt: skip
        with db.write("alice") as tx:
            record_kinds(tx.conn, {"a" * 64: "model"})
            details = {"metrics": {"auc": 0.8}, "bias": bias}
            register_version(tx, "loans", run_id, "a" * 64, "a" * 64, details)
        promote(db, "loans", 1, "production", "erin")
    finally:
        db.close()
    token = team.add_user("bob", "approver")
    bob = _Visitor(browser, team)
    bob.sign_in(token, "/approvals/1")
    verdicts = bob.page.inner_text("table.bias")
    assert "region" in verdicts and "0.3100" in verdicts and "FAILED" in verdicts
    bob.page.goto(f"{team.url}/runs/{run_id}")
    assert HOSTILE in bob.text() and bob.dialogs == []  # a hostile run parameter, as text
