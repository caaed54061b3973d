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


def _settle(cold: bool) -> None:
    """Flush dirty pages (so no run pays for the previous one's writes); drop caches if cold."""
    subprocess.run(["sync"], check=True)
    if cold:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


def _can_drop_caches() -> bool:
    try:
        _settle(cold=True)
    except OSError:
        return False
    return True


def _round(
    work: Path, source: Path, index: int, cold: bool, env: dict[str, str], tools: dict[str, str]
) -> dict[str, float]:
    ours, theirs = work / f"s{index}", work / f"d{index}"
    for folder in (ours, theirs):
        folder.mkdir()
        shutil.copyfile(source, folder / "data.csv")
    subprocess.run([tools["dvc"], "init", "--no-scm", "-q"], cwd=theirs, check=True)
    subprocess.run([tools["dvc"], "config", "core.analytics", "false"], cwd=theirs, check=True)
    # The counterpart of `dvc init` (untimed): create the metadata database.
    subprocess.run(
        [tools["shipline"], "data", "list"], cwd=ours, env=env, check=True, capture_output=True
    )
    timings = {}
    for name, folder, command in (
        ("cat", ours, ["sh", "-c", "cat data.csv > /dev/null"]),
        ("shipline", ours, [tools["shipline"], "data", "add", "data.csv"]),
        ("dvc", theirs, [tools["dvc"], "add", "-q", "data.csv"]),
    ):
        if not cold:
            subprocess.run(["cat", str(folder / "data.csv")], stdout=subprocess.DEVNULL, check=True)
        _settle(cold)
        timings[name] = _run(command, folder, env)
    shutil.rmtree(ours)
    shutil.rmtree(theirs)
    return timings


def _report(label: str, size_gib: float, rounds: list[dict[str, float]]) -> None:
    medians = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"{label}: {len(rounds)} rounds")
    for name, value in medians.items():
        spread = sorted(r[name] for r in rounds)
        print(
            f"  {name:<9} median {value:6.2f} s  ({size_gib / value:5.2f} GiB/s)  "
            f"min {spread[0]:.2f}  max {spread[-1]:.2f}"
        )
    speedup = medians["dvc"] / medians["shipline"]
    overhead = medians["shipline"] / medians["cat"]
    print(f"  dvc/shipline: {speedup:.1f}x  (target >= 3x: {'met' if speedup >= 3 else 'MISSED'})")
    print(
        f"  shipline/cat: {overhead:.1f}x  (target <= 2x: {'met' if overhead <= 2 else 'MISSED'})"
    )


def main() -> None:
    """Time each contender on fresh copies, page cache warm and cold, and print ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bindir = Path(sys.executable).parent
    tools = {"shipline": str(bindir / "shipline"), "dvc": str(bindir / "dvc")}
    if not Path(tools["dvc"]).exists():
        sys.exit("dvc is not installed: run bench/setup.sh and use .venv-bench/bin/python")
    work = Path(tempfile.mkdtemp(prefix="shipline-bench-", dir=os.environ.get("BENCH_DIR")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    try:
        source = work / "source.csv"
        _make_file(source, args.size_mib * 1024 * 1024)
        size_gib = source.stat().st_size / 1024**3
        print(f"file: {size_gib:.2f} GiB CSV; each run into a fresh store/cache, after sync")
        modes = [False, True] if _can_drop_caches() else [False]
        for cold in modes:
            rounds = [_round(work, source, i, cold, env, tools) for i in range(args.rounds)]
            _report("page cache cold" if cold else "page cache warm", size_gib, rounds)
        if len(modes) == 1:
            print("(cold runs skipped: cannot write /proc/sys/vm/drop_caches)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
