"""Data drift: shipline against Evidently's DataDriftPreset on the same files, side by side.

25 columns (20 numerical, 5 categorical), N rows per side, with known drift (shifted means,
a scaled variance, swapped and unseen categories, NaNs). The driver writes both sides to
Parquet once; each tool then runs in its own process (Evidently needs pandas < 3: it runs from
the environment made by `bench/setup-drift.sh`), timing only the comparison and reporting its
peak memory. Decisions are compared column by column.

shipline runs twice: as `shipline monitor` compares (the current window in memory, read
before timing as Evidently's sides are; the reference stored sorted at registration, made
untimed in its own process first, and read a column at a time as it is compared, its reading
timed) and as `shipline drift A B` compares two plain files (each column read when it is
compared: reading and sorting both sides are timed). Text is read as Arrow dictionary codes
wherever shipline reads Parquet itself.

Target: at least 100x faster than Evidently at 1M rows per side, decisions identical, peak
memory under 1.5x the data itself.

    .venv-bench/bin/python bench/drift.py --rows 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EVIDENTLY_PYTHON = ROOT / ".venv-drift" / "bin" / "python"


def _generate(rows: int, folder: Path) -> int:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(42)

    def side(drifted: bool) -> pd.DataFrame:
        data = {}
        for i in range(20):
            shift = [0.0, 0.25, 0.5, 1.0, 0.05][i] if drifted and i < 5 else 0.0
            scale = 1.5 if drifted and i == 5 else 1.0
            values = rng.normal(shift, scale, rows)
            if i == 6:
                values[rng.random(rows) < 0.05] = np.nan
            data[f"num_{i:02d}"] = values
        for i in range(5):
            choices = ["a", "b", "c", "d"]
            probabilities = [0.4, 0.3, 0.2, 0.1]
            if drifted and i == 0:
                probabilities = [0.1, 0.2, 0.3, 0.4]  # swapped
            if drifted and i == 1:
                choices, probabilities = ["a", "b", "c", "e"], [0.4, 0.3, 0.2, 0.1]  # unseen "e"
            data[f"cat_{i:02d}"] = rng.choice(choices, rows, p=probabilities)
        return pd.DataFrame(data)

    reference, current = side(False), side(True)
    reference.to_parquet(folder / "reference.parquet", index=False)
    current.to_parquet(folder / "current.parquet", index=False)
    return int(reference.memory_usage(deep=False).sum() + current.memory_usage(deep=False).sum())


def sort_reference(folder: Path) -> None:
    """What training does once for a version: store each reference column sorted."""
    import pandas as pd

    from shipline.data.profile import sorted_columns

    frame = pd.read_parquet(folder / "reference.parquet")
    sorted_columns(frame).to_parquet(folder / "reference-sorted.parquet", index=False)


def run_shipline(folder: Path) -> dict[str, object]:
    """`shipline monitor`'s comparison: the current window in memory (as captured traffic is
    read, before timing, as Evidently's sides are), the reference stored sorted at registration
    and read a column at a time when it is compared (reading it is timed)."""
    from scipy import spatial, stats  # imported before timing, as Evidently's are

    from shipline.monitoring import compare_columns, read_columns
    from shipline.monitoring.drift_files import ParquetColumns

    del spatial, stats
    current = read_columns(folder / "current.parquet")
    start = time.perf_counter()
    reference = ParquetColumns(folder / "reference-sorted.parquet", coded_text=True)
    report = compare_columns(reference, current, reference_sorted=True)
    return _result(report, time.perf_counter() - start)


def run_shipline_files(folder: Path) -> dict[str, object]:
    """`shipline drift REFERENCE CURRENT` on the two plain files: each column read when it is
    compared, so the time includes reading and sorting both sides."""
    from scipy import spatial, stats

    from shipline.monitoring import compare_files

    del spatial, stats
    start = time.perf_counter()
    report = compare_files(folder / "reference.parquet", folder / "current.parquet")
    return _result(report, time.perf_counter() - start)


def _result(report: Any, seconds: float) -> dict[str, object]:
    return {
        "seconds": seconds,
        "decisions": {c.column: bool(c.drifted) for c in report.columns},
        "statistics": {c.column: c.statistic for c in report.columns},
        "peak_mb": _peak_mb(),
    }


def run_evidently(folder: Path) -> dict[str, object]:
    """Time Evidently 0.7's DataDriftPreset on the same data (reading excluded)."""
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference, current = (
        pd.read_parquet(folder / "reference.parquet"),
        pd.read_parquet(folder / "current.parquet"),
    )
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    seconds = time.perf_counter() - start
    decisions, statistics = {}, {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if not str(config.get("type", "")).endswith("ValueDrift"):
            continue
        column, method, threshold = (
            config["column"],
            str(config["method"]),
            float(config["threshold"]),
        )
        value = float(metric["value"])
        statistics[column] = value
        # Evidently's operators: KS p <= threshold, other p-values <, distances >=.
        if "p_value" in method:
            decisions[column] = (
                value <= threshold if method.startswith("K-S") else value < threshold
            )
        else:
            decisions[column] = value >= threshold
    return {
        "seconds": seconds,
        "decisions": decisions,
        "statistics": statistics,
        "peak_mb": _peak_mb(),
    }


def _peak_mb() -> float:
    """This process's peak resident memory (the kernel's VmHWM). Not getrusage's ru_maxrss:
    Linux carries that across fork and exec, so a tool started by this driver, which holds
    both generated sides (~700 MB at 1M rows), reported the driver's size as its own floor."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Generate, run both tools in their own processes, print ratios and agreement."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument(
        "--tool", choices=["shipline", "shipline-files", "sort-reference", "evidently"]
    )
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.tool == "sort-reference":
        sort_reference(args.folder)
        print(json.dumps({}))
        return
    if args.tool:
        tools = {
            "evidently": run_evidently,
            "shipline": run_shipline,
            "shipline-files": run_shipline_files,
        }
        result = tools[args.tool](args.folder)
        print(json.dumps(result))
        return
    if not EVIDENTLY_PYTHON.exists():
        sys.exit("Evidently's environment is missing: run bench/setup-drift.sh")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work)
            data_mb = _generate(rows, folder) / 1024**2
            _run(sys.executable, "sort-reference", folder)
            os.sync()  # no run pays for writing back the files just made
            ours = _run(sys.executable, "shipline", folder)
            files = _run(sys.executable, "shipline-files", folder)
            theirs = _run(str(EVIDENTLY_PYTHON), "evidently", folder)
        print(f"{rows:,} rows per side, 25 columns ({data_mb:.0f} MB of data in memory):")
        ratio = theirs["seconds"] / ours["seconds"]
        files_ratio = theirs["seconds"] / files["seconds"]
        print(f"  evidently {theirs['seconds']:8.2f} s  peak {theirs['peak_mb']:7.0f} MB")
        for label, result, speed in (
            ("monitor: current in memory, stored sorted reference read as compared", ours, ratio),
            ("drift A B: plain files, a column at a time, reading included", files, files_ratio),
        ):
            memory = result["peak_mb"] / max(data_mb, 1e-9)
            print(
                f"  shipline  {result['seconds']:8.3f} s  peak {result['peak_mb']:7.0f} MB"
                f"  ({label})"
                f"\n            {speed:.0f}x Evidently (target >= 100x: {_verdict(speed >= 100, rows)});"
                f" peak / data {memory:.2f}x (target <= 1.5x: {_verdict(memory <= 1.5, rows)})"
            )
        assert files["decisions"] == ours["decisions"], "a stored reference changed a decision"
        same = sum(ours["decisions"][c] == theirs["decisions"].get(c) for c in ours["decisions"])
        print(f"  decisions identical to Evidently's on {same}/{len(ours['decisions'])} columns")
        differing = [
            c for c in ours["decisions"] if ours["decisions"][c] != theirs["decisions"].get(c)
        ]
        if differing:
            print(f"  differing: {differing}")
        worst = max(
            abs(ours["statistics"][c] - theirs["statistics"][c])
            / max(abs(theirs["statistics"][c]), 1e-12)
            for c in ours["statistics"]
            if c in theirs["statistics"] and ours["statistics"][c] is not None
        )
        print(f"  largest relative difference of a statistic: {worst:.2e}")


def _verdict(met: bool, rows: int) -> str:
    if rows < 1_000_000:
        return "judged at 1M rows"
    return "met" if met else "MISSED"


def _run(python: str, tool: str, folder: Path) -> dict[str, object]:
    out = subprocess.run(
        [python, __file__, "--tool", tool, "--folder", str(folder)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
