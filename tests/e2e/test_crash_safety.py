"""SIGKILL in the middle of writes: the store is as before or as after, never half-written."""

from __future__ import annotations

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
        )
        time.sleep(rng.uniform(1.0, 2.5))
        assert proc.poll() is None, "the writer died on its own"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now_visible = assert_store_consistent(backend.db_url, backend.store_url, tmp_path / "cache")
        assert now_visible >= visible
        visible = now_visible
    assert visible > 0, "the writer never committed anything; the test proved nothing"


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
        time.sleep(rng.uniform(0.4, 1.2))
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
