"""SIGKILL in the middle of partitioned batch scoring: every output partition there is whole,
no manifest claims a finished job, and the rerun replaces what the killed one left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from pyarrow import parquet

from tests.conftest import Cli

PARTITIONS, ROWS = 60, 40_000


def test_a_killed_scoring_job_leaves_only_whole_partitions(local_cli: Cli, project: Path) -> None:
    local_cli("init", "cancer", check=True)
    folder = project / "cancer"
    env = {**local_cli.env, "SHIPLINE_USER": "alice", "SHIPLINE_DASK": "local"}
    subprocess.run([sys.executable, "-m", "shipline", "run"], cwd=folder, env=env, check=True,
                   capture_output=True)  # fmt: skip
    frame = pd.read_csv(folder / "data" / "breast_cancer.csv")
    inputs = project / "inputs"
    inputs.mkdir()
    many = pd.concat([frame] * (ROWS // len(frame) + 1)).iloc[:ROWS]
    for index in range(PARTITIONS):
        many.to_parquet(inputs / f"p{index:02d}.parquet", index=False)
    out = project / "scored"
    command = [sys.executable, "-m", "shipline", "predict", "cancer:1", "--input", str(inputs),
               "--output", str(out)]  # fmt: skip
    job = subprocess.Popen(command, cwd=folder, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    # Kill once output has begun to appear: mid-write or between two partitions.
    while not (out.is_dir() and any(out.iterdir())):
        assert job.poll() is None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "no output ever appeared"
        time.sleep(0.01)  # poll interval
    os.kill(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    assert not (out / "_manifest.json").exists()
    finished = sorted(out.glob("part-*.parquet"))
    assert len(finished) < PARTITIONS
    for part in finished:
        assert parquet.ParquetFile(part).metadata.num_rows == ROWS  # whole, readable
    # The rerun clears the killed job's leftovers and completes.
    rerun = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True,
                           check=False)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["_manifest.json", *(f"part-{i:05d}.parquet" for i in range(PARTITIONS))]
