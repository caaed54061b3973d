"""Several processes adding data at once, on both backend pairs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import Backend, Cli
from tests.e2e.invariants import assert_store_consistent


def test_concurrent_data_add(cli: Cli, project: Path, backend: Backend, tmp_path: Path) -> None:
    for index in range(4):
        (project / f"part{index}.csv").write_text(f"a,b\n{index},{index * 2}\n" * (index + 1))
    shutil.copy(project / "part0.csv", project / "copy0.csv")
    files = ["part0.csv", "part1.csv", "part2.csv", "part3.csv", "copy0.csv", "part0.csv"]
    env = {**cli.env, "SHIPLINE_USER": "racer"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "shipline", "data", "add", name, "--name", "shared", "--json"],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in files
    ]
    finished = [proc.communicate(timeout=120) for proc in procs]  # every pipe drained first
    for proc, (_, err) in zip(procs, finished, strict=True):
        assert proc.returncode == 0, err
    outputs = [json.loads(out) for out, _ in finished]
    refs = {o["ref"] for o in outputs}
    assert refs == {"shared@v1", "shared@v2", "shared@v3", "shared@v4"}
    same_bytes = {
        o["ref"]
        for o, name in zip(outputs, files, strict=True)
        if name in ("part0.csv", "copy0.csv")
    }
    assert len(same_bytes) == 1, "the same bytes got two versions"
    assert sum(o["created"] for o in outputs) == 4
    assert assert_store_consistent(backend.db_url, backend.store_url, tmp_path / "cache") == 4
