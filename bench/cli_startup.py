"""Cold start of the CLI: ``shipline --help`` against ``mlflow --help``, same machine, one run.

Each sample is a new process (a fresh interpreter, as a user typing the command gets). Prints
the median and best of each, and the ratio. Target: shipline under 0.3 s, more than 10x faster.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from compiled_modules import compile_shipline

ROUNDS = 15


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    """Run both commands ROUNDS times, alternating, and print the comparison."""
    compile_shipline()
    bindir = Path(sys.executable).parent
    shipline = str(bindir / "shipline")
    mlflow = str(bindir / "mlflow") if (bindir / "mlflow").exists() else shutil.which("mlflow")
    if mlflow is None:
        sys.exit("mlflow is not installed: run bench/setup.sh and use .venv-bench/bin/python")
    _time([shipline, "--help"])  # warm the page cache for both, so disk is not measured
    _time([mlflow, "--help"])
    ours, theirs = [], []
    for _ in range(ROUNDS):
        ours.append(_time([shipline, "--help"]))
        theirs.append(_time([mlflow, "--help"]))
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"shipline --help  median {ours_median:.3f} s  best {min(ours):.3f} s  ({ROUNDS} runs)")
    print(
        f"mlflow --help    median {theirs_median:.3f} s  best {min(theirs):.3f} s  ({ROUNDS} runs)"
    )
    print(f"ratio mlflow/shipline: {theirs_median / ours_median:.1f}x  (target > 10x)")
    verdict = "met" if ours_median < 0.3 and theirs_median / ours_median > 10 else "MISSED"
    print(f"target shipline < 0.300 s and > 10x: {verdict}")


if __name__ == "__main__":
    main()
