"""Alarms open when a monitoring rule breaks, close when it holds, and notify a webhook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from shipline.audit import list_events
from shipline.monitoring.alarm import list_alarms
from shipline.monitoring.notification import WebhookRefusedError, webhook_address
from shipline.project import Project
from shipline.scaffold import create_project
from tests.services import free_port


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(_Hook.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.received, _Hook.status = [], 200
    server = HTTPServer(("127.0.0.1", free_port()), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SHIPLINE_USER", "monitor-bot")
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    with Project.open(folder) as opened:
        assert opened.run().status == "succeeded"
        frame = pd.read_csv(folder / "data" / "breast_cancer.csv").drop(
            columns=["benign", "sample_id"]
        )
        frame.to_csv(folder / "same.csv", index=False)
        (frame * 1.6).to_csv(folder / "shifted.csv", index=False)
        yield opened


def _configure(project: Project, extra: str) -> None:
    config = project.settings.config_path
    config.write_text(config.read_text().split("# test settings")[0] + "# test settings\n" + extra)


def test_drift_opens_one_alarm_and_clean_traffic_closes_it(project: Project, hook: str) -> None:
    _configure(project, f"notifications: {{webhook: '{hook}', allow_private: true}}\n")
    folder = project.settings.project_dir
    _, first = project.monitor("cancer@staging", folder / "shifted.csv")
    latest, second = project.monitor("cancer@staging", folder / "shifted.csv")
    opened = list_alarms(project.db())
    assert [(a.kind, a.status) for a in opened] == [("drift", "open")]
    assert (
        first["alarms"]["opened"] == [opened[0].id] and second["alarms"]["opened"] == []
    )  # no duplicate
    assert opened[0].evidence["report"] == latest.id  # evidence follows the latest report
    _, clean = project.monitor("cancer@staging", folder / "same.csv")
    assert clean["alarms"]["closed"] == [opened[0].id]
    assert list_alarms(project.db()) == []
    closed = list_alarms(project.db(), include_closed=True)[0]
    assert closed.status == "closed" and closed.closed_at is not None
    assert [h["event"] for h in _Hook.received] == ["alarm.open", "alarm.close"]
    assert _Hook.received[0]["kind"] == "drift" and _Hook.received[0]["model"] == "cancer"
    actions = [e.action for e in list_events(project.db(), limit=1000)]
    assert actions.count("alarm.open") == 1 and actions.count("alarm.close") == 1


def test_a_failing_webhook_is_recorded_and_monitoring_goes_on(project: Project, hook: str) -> None:
    _Hook.status = 500
    _configure(project, f"notifications: {{webhook: '{hook}', allow_private: true}}\n")
    _, report = project.monitor("cancer@staging", project.settings.project_dir / "shifted.csv")
    assert report["notification_problems"] == ["webhook answered 500"]
    assert [a.kind for a in list_alarms(project.db())] == ["drift"]
    _configure(
        project,
        f"notifications: {{webhook: 'http://127.0.0.1:{free_port()}/down', timeout: 2s, "
        "allow_private: true}\n",
    )
    _, clean = project.monitor("cancer@staging", project.settings.project_dir / "same.csv")
    assert clean["notification_problems"][0].startswith("webhook unreachable")
    assert list_alarms(project.db()) == []


def test_webhooks_to_non_public_addresses_are_refused_unless_allowed(
    project: Project, hook: str
) -> None:
    _Hook.received.clear()
    _configure(project, f"notifications: {{webhook: '{hook}'}}\n")
    _, report = project.monitor("cancer@staging", project.settings.project_dir / "shifted.csv")
    assert report["notification_problems"] == [
        "webhook host '127.0.0.1' resolves to 127.0.0.1, not a public address; "
        "set notifications.allow_private: true to allow it"
    ]
    assert _Hook.received == [], "a refused webhook was called anyway"
    for url in ("http://10.0.0.1/h", "http://169.254.169.254/latest", "http://[::1]:9/x"):
        with pytest.raises(WebhookRefusedError, match="not a public address"):
            webhook_address(url, allow_private=False)
    assert webhook_address("http://127.0.0.1:9/x", allow_private=True) == "127.0.0.1"
    assert webhook_address("http://8.8.8.8/x", allow_private=False) == "8.8.8.8"


def test_alarms_cli(project: Project) -> None:
    project.monitor("cancer@staging", project.settings.project_dir / "shifted.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    listed = subprocess.run(
        [sys.executable, "-m", "shipline", "alarms", "--json"],
        cwd=project.settings.project_dir,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    alarms = json.loads(listed.stdout)
    assert [(a["kind"], a["status"], a["model"]) for a in alarms] == [("drift", "open", "cancer")]
