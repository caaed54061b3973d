"""SIGKILL in the middle of writes: the store is as before or as after, never half-written."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import Backend, Cli
from tests.e2e.invariants import assert_store_consistent

ROOT = Path(__file__).resolve().parents[2]


def _environment(backend: Backend) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    env.update(
        backend.env,
        SHIPLINE_DB=backend.db_url,
        SHIPLINE_STORE=backend.store_url,
        PYTHONPATH=str(ROOT),
    )
    return env


def test_kill_during_multi_row_writes(backend: Backend, tmp_path: Path) -> None:
    rng = random.Random(7)
    env = _environment(backend)
    visible = 0
    for round_ in range(6):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.e2e.crash_writer",
                backend.db_url,
                backend.store_url,
                str(tmp_path / "work"),
                str(round_ * 1000),
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        wanted = rng.randint(1, 4)
        for line in proc.stdout:  # blocks until the writer reports each commit
            if line.startswith("committed") and int(line.split()[1]) >= wanted:
                break
        assert proc.poll() is None, "the writer died on its own"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        now_visible = assert_store_consistent(backend.db_url, backend.store_url, tmp_path / "cache")
        assert now_visible >= visible
        visible = now_visible
    assert visible > 0, "the writer never committed anything; the test proved nothing"


def _wait_until_read(proc: subprocess.Popen[bytes], count: int) -> None:
    """Until the process has read ``count`` bytes (its /proc io counter) or has ended."""
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            io = Path(f"/proc/{proc.pid}/io").read_text()
        except OSError:
            return
        if int(io.split("rchar: ")[1].split()[0]) >= count:
            return
        time.sleep(0.01)  # poll interval


def test_kill_during_data_add_of_a_large_file(
    cli: Cli, project: Path, backend: Backend, tmp_path: Path
) -> None:
    big = project / "big.csv"
    row = b"12345,0.5,some text here,67890\n"
    with big.open("wb") as handle:
        handle.write(b"a,b,c,d\n")
        handle.write(row * (96 * 1024 * 1024 // len(row)))
    env = _environment(backend)
    rng = random.Random(11)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "shipline", "data", "add", "big.csv"],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Start-up (imports, the database) reads about 24 MiB before the file itself.
        _wait_until_read(proc, 30 * 2**20 + int(big.stat().st_size * rng.uniform(0.05, 0.6)))
        killed_mid_way = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        count = assert_store_consistent(backend.db_url, backend.store_url, tmp_path / "cache")
        assert count in (0, 1)
        if killed_mid_way and count == 0 and not backend.store_url.startswith("s3://"):
            objects = project / backend.store_url / "objects"
            assert not objects.exists() or not any(
                p.stat().st_size > 10_000_000 for p in objects.rglob("*")
            )
    result = cli("data", "add", "big.csv", "--json", check=True)
    assert '"rows": ' + str(96 * 1024 * 1024 // len(row)) in result.out
    assert assert_store_consistent(backend.db_url, backend.store_url, tmp_path / "cache") == 1
    if not backend.store_url.startswith("s3://"):
        leftovers = list((Path(backend.store_url) / "tmp").glob("*.part"))
        assert leftovers == [], "temp files of killed writers were not collected"


def test_a_killed_run_is_closed_by_the_next_command(local_cli: Cli, project: Path) -> None:
    local_cli("init", ".", check=True)
    (project / "train.py").write_text(
        "import threading\n"
        "from pathlib import Path\n\n"
        "def train(frame, config):\n"
        "    Path(__file__).with_name('training').write_text('started')\n"
        "    threading.Event().wait()  # trains forever, until killed\n"
    )
    config = project / "shipline.yaml"
    text = config.read_text()
    text = text.replace("  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n", "")
    text = text.replace("  params: {max_iter: 200, learning_rate: 0.1}\n", "")
    config.write_text(
        text.replace(
            "  task: classification\n", "  task: classification\n  entrypoint: train.py:train\n"
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipline", "run"],
        cwd=project,
        env=local_cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (project / "training").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "training never started"
        time.sleep(0.05)  # poll interval
    running = json.loads(local_cli("runs", "list", "--json", check=True).out)
    assert [r["status"] for r in running] == ["running"], "a live run was closed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    listed = json.loads(local_cli("runs", "list", "--json", check=True).out)
    assert [r["status"] for r in listed] == ["failed"]
    assert listed[0]["error"].startswith(f"process ended: pid {proc.pid} on ")
    events = json.loads(local_cli("audit", "log", "--action", "run.finish", "--json").out)
    assert events[0]["after"]["reason"] == "process ended"
    assert json.loads(local_cli("audit", "verify", "--json", check=True).out)["ok"]
