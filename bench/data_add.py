"""``shipline data add`` against ``dvc add`` of the same 1 GiB CSV, and against ``cat``.

Same machine, same run, page cache warm for every contender (each reads a file that was just
read), each into a fresh store / cache so every run hashes and copies the whole file.
Targets: shipline at least 3x faster than dvc, and within 2x of ``cat file > /dev/null``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROW = b"123456,0.123456789,some categorical text,987654,1.5e-3,another_value\n"


def _make_file(path: Path, size: int) -> None:
    block = ROW * (8 * 1024 * 1024 // len(ROW))
    with path.open("wb") as handle:
        handle.write(b"id,score,label,count,rate,category\n")
        written = 0
        while written < size:
            handle.write(block)
            written += len(block)


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True
    )
    return time.perf_counter() - start


def _warm(path: Path) -> None:
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)


def main() -> None:
    """Time each contender ROUNDS times on fresh copies and print medians and ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    shipline, dvc = str(bindir / "shipline"), str(bindir / "dvc")
    if not Path(dvc).exists():
        sys.exit("dvc is not installed: run bench/setup.sh and use .venv-bench/bin/python")
    work = Path(tempfile.mkdtemp(prefix="shipline-bench-", dir=os.environ.get("BENCH_DIR")))
    try:
        source = work / "source.csv"
        _make_file(source, args.size_mib * 1024 * 1024)
        size_gib = source.stat().st_size / 1024**3
        times: dict[str, list[float]] = {"cat": [], "shipline": [], "dvc": []}
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
        for round_ in range(args.rounds):
            ours, theirs = work / f"s{round_}", work / f"d{round_}"
            for folder in (ours, theirs):
                folder.mkdir()
                shutil.copyfile(source, folder / "data.csv")
            subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=theirs, check=True)
            subprocess.run([dvc, "config", "core.analytics", "false"], cwd=theirs, check=True)
            _warm(ours / "data.csv")
            times["cat"].append(_run(["sh", "-c", "cat data.csv > /dev/null"], ours))
            times["shipline"].append(_run([shipline, "data", "add", "data.csv"], ours, env))
            _warm(theirs / "data.csv")
            times["dvc"].append(_run([dvc, "add", "-q", "data.csv"], theirs))
            shutil.rmtree(ours)
            shutil.rmtree(theirs)
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"file: {size_gib:.2f} GiB CSV, {args.rounds} rounds, page cache warm")
        for name, value in medians.items():
            print(f"  {name:<9} median {value:6.2f} s  ({size_gib / value:5.2f} GiB/s)")
        speedup = medians["dvc"] / medians["shipline"]
        overhead = medians["shipline"] / medians["cat"]
        print(
            f"dvc/shipline: {speedup:.1f}x  (target >= 3x: {'met' if speedup >= 3 else 'MISSED'})"
        )
        print(
            f"shipline/cat: {overhead:.1f}x  (target <= 2x: {'met' if overhead <= 2 else 'MISSED'})"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
