"""Controllers as processes: two at once, one killed mid-run, SIGTERM, and bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from sqlalchemy import update

from shipline.audit import list_events, verify_chain
from shipline.controller.trigger_event import list_events as trigger_events
from shipline.pipeline import list_runs
from shipline.project import Project
from shipline.store.tables import applied_configs
from tests.served import shipline_env

SLOW_TRAIN = """\
import time
from pathlib import Path
from sklearn.linear_model import LogisticRegression

def train(frame, config):
    here = Path(__file__).parent
    (here / "training-started").write_text("")
    deadline = time.monotonic() + 600  # trains until the test releases it (or is killed)
    while not (here / "release").exists():
        assert time.monotonic() < deadline, "never released"
        time.sleep(0.05)  # poll interval
    return LogisticRegression().fit(frame.drop(columns=["churned"]), frame["churned"])
"""


def _controller(folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shipline", "controller", *args],
        cwd=folder,
        env=shipline_env("controller-bot"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _slow_project(folder: Path, write_config: Callable[[str], None]) -> None:
    (folder / "train.py").write_text(SLOW_TRAIN)
    write_config("retraining:\n  triggers:\n    - new_data: true\n")
    config = folder / "shipline.yaml"
    config.write_text(
        config.read_text().replace(
            "estimator: sklearn.linear_model.LogisticRegression", "entrypoint: train.py:train"
        )
    )


def test_two_controllers_at_once_start_the_run_once(
    project: Project, folder: Path, write_config: Callable[[str], None]
) -> None:
    _slow_project(folder, write_config)
    project.apply()
    first = _controller(folder, "--once", "--json")
    _wait_for_file(folder / "training-started", first)
    second = _controller(folder, "--once", "--json")  # while the first one's run is training
    second_output = second.communicate(timeout=300)
    (folder / "release").write_text("")
    outputs = [first.communicate(timeout=300), second_output]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    runs = project.runs(model="churn")
    assert len(runs) == 1 and runs[0].status == "succeeded"
    assert [e.status for e in trigger_events(project.db(), "churn")] == ["done"]


def test_a_controller_killed_mid_run_is_replaced_cleanly(
    project: Project, folder: Path, write_config: Callable[[str], None]
) -> None:
    _slow_project(folder, write_config)
    project.apply()
    doomed = _controller(folder, "--once", "--lease", "2")
    _wait_for_file(folder / "training-started", doomed)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    # Read without the orphan sweep of `runs` (which would close it as "process ended"), so
    # this test exercises the controller's own recovery through the expired lease.
    orphan = list_runs(project.db(), "churn")[0]
    assert orphan.status == "running"
    _wait_for_lease_expiry(project, "model:churn")
    (folder / "release").write_text("")
    replacement = _controller(folder, "--once", "--json", "--lease", "2")
    out, err = replacement.communicate(timeout=120)
    assert replacement.returncode == 0, err
    assert f"failed orphaned run {orphan.id}" in out
    failed = project.get_run(orphan.id)
    assert failed.status == "failed" and "lease expired" in (failed.error or "")
    event = trigger_events(project.db(), "churn")[0]
    assert event.status == "failed" and event.run_id == orphan.id
    assert len(project.runs(model="churn")) == 1  # the trigger is not run twice
    assert "run.failed" in err
    assert verify_chain(project.db()).ok


def _wait_for_file(path: Path, process: subprocess.Popen[str]) -> None:
    """Until ``path`` exists (the process got that far), with a generous deadline."""
    deadline = time.monotonic() + 300
    while not path.exists():
        assert time.monotonic() < deadline and process.poll() is None, f"{path.name} never came"
        time.sleep(0.05)  # poll interval


def _wait_for_lease_expiry(project: Project, name: str) -> None:
    """Until the dead controller's lease has expired (its expiry time has passed)."""
    from sqlalchemy import select

    from shipline.store import parse_stamp
    from shipline.store.tables import leases

    with project.db().read() as conn:
        expires = conn.execute(select(leases.c.expires_at).where(leases.c.name == name)).scalar()
    if expires is None:
        return
    deadline = time.monotonic() + 300
    while datetime.now(UTC) <= parse_stamp(expires):  # until the lease's own expiry passes
        assert time.monotonic() < deadline, f"lease {name} never expired"
        time.sleep(0.05)  # poll interval


def test_sigterm_stops_the_loop_cleanly(
    project: Project, write_config: Callable[[str], None]
) -> None:
    write_config("")
    project.apply()
    loop = _controller(project.settings.project_dir, "--interval", "0.2")
    assert loop.stdout is not None
    first = loop.stdout.readline()  # blocks until the loop has finished a pass
    assert "churn:" in first, first
    loop.send_signal(signal.SIGTERM)
    out, err = loop.communicate(timeout=30)
    assert loop.returncode == 0, err
    assert "churn:" in first + out


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    behaviour = "500"
    released = threading.Event()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(orjson.loads(body))
        if type(self).behaviour == "slow":  # answers only after the client's 1 s timeout
            type(self).released.wait(timeout=60)
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received = []
    _Hook.released.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    _Hook.released.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("behaviour", ["500", "slow"])
def test_bad_input_is_recorded_and_the_controller_keeps_going(
    project: Project,
    folder: Path,
    write_config: Callable[[str], None],
    webhook: str,
    behaviour: str,
) -> None:
    _Hook.behaviour = behaviour
    write_config(
        "retraining:\n  triggers:\n    - new_data: true\n"
        f"notifications:\n  webhook: {webhook}\n  timeout: 1s\n  allow_private: true\n"
    )
    (folder / "data" / "churn.csv").write_text("usage,price,churned\n1,2,1\n")  # too few rows
    project.apply()
    result = project.controller().run_pass()[0]
    assert result.run_status == "failed"
    event = trigger_events(project.db(), "churn")[0]
    expected = "answered 500" if behaviour == "500" else "unreachable"
    assert event.status == "failed" and expected in (event.detail or "")
    assert _Hook.received[0]["event"] == "run.failed"
    # The source disappears: recorded once as a problem, notified, and the pass goes on.
    (folder / "data" / "churn.csv").unlink()
    assert project.controller().run_pass()[0].run is None
    assert project.controller().run_pass()[0].run is None
    problems = list_events(project.db(), action="controller.problem")
    assert len(problems) == 1 and "no such file" in json.loads(problems[0].after)["problem"]
    assert "data/churn.csv" in project.status("churn")[0]["problem"]


def test_an_applied_config_that_no_longer_validates(
    project: Project, write_config: Callable[[str], None]
) -> None:
    write_config("")
    project.apply()
    with project.db().write("tamper") as tx:  # as if an upgrade tightened the schema
        document = {"name": "churn", "data": {"source": 3}}
        tx.conn.execute(update(applied_configs).values(document=orjson.dumps(document).decode()))
    result = project.controller().run_pass()[0]
    assert result.notes == ["applied config does not validate"]
    problem = project.status("churn")[0]["problem"]
    assert "applied config version 1 no longer validates" in problem and "data" in problem
