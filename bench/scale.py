"""Scale-out on Dask: batch scoring, a grid search and drift on 2 local workers, each against
what a user would run instead, in one run.

1. Batch scoring of 20M rows x 20 columns (20 Parquet partitions) with a random forest:
   `shipline predict` on 2 Dask workers vs the same command in one process vs `mlflow models
   predict` (its per-row rate from 1M and 3M rows, start-up excluded, extrapolated: it reads
   the whole input into one pandas frame). Also the forest's own predict rate, the floor under
   both tools. Targets: >= 1.6x one process, >= 10x MLflow, every worker's peak memory under
   its limit.
2. A grid search of 16 configurations (3-fold): shipline's train step on 2 workers vs
   scikit-learn's GridSearchCV(n_jobs=1) on the same data. Target: >= 1.7x.
3. Drift between 10M rows a side (25 columns, 10 partitions a side) on 2 workers with a 2 GiB
   limit each: completes; time beside Evidently's, measured at 1M rows and extrapolated.

    .venv-bench/bin/python bench/scale.py            # BENCH_WORK=DIR keeps the data between runs
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# BENCH_SCALE=0.01 runs everything at 1% of the sizes (a smoke test of the script).
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
ROWS, PARTITIONS, FEATURES = int(20_000_000 * SCALE), 20, [f"x{i:02d}" for i in range(20)]
DRIFT_ROWS = int(10_000_000 * SCALE)
# MLflow's rate comes from the difference between two input sizes; each must hold seconds of
# work beside its ~6 s start-up (100k vs 300k rows once gave a rate 4x too low, from noise).
MLFLOW_ROWS = min(3_000_000, ROWS)
WORKER_LIMIT = 2 * 2**30

SCORING_CONFIG = """name: scorer
data: {source: data/train.parquet, target: y}
evaluation: {explain: null}
training:
  task: classification
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 51, max_depth: 8, n_jobs: 1}
"""
SEARCH_CONFIG = """name: searched
data: {source: data/train.parquet, target: y}
evaluation: {explain: null}
training:
  task: classification
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 60}
  search:
    method: grid
    params: {max_depth: [4, 8, 12, 16], min_samples_leaf: [1, 2, 5, 10]}
    cv: 3
    metric: accuracy
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    return {**env, "SHIPLINE_USER": "bench", **extra}


def _shipline(folder: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "shipline"), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"shipline {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def _labelled(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    signal = frame["x00"] + 0.5 * frame["x01"] - frame["x02"] * frame["x03"]
    frame["y"] = (signal + rng.normal(0, 0.5, rows) > 0).astype(int)
    return frame


def _project(folder: Path, config: str, rows: int) -> None:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    _labelled(rows, 1).to_parquet(folder / "data" / "train.parquet", index=False)
    (folder / "shipline.yaml").write_text(config)


def _inputs(folder: Path) -> Path:
    inputs = folder / "inputs"
    if len(list(inputs.glob("*.parquet"))) == PARTITIONS:
        return inputs
    inputs.mkdir(parents=True, exist_ok=True)
    per = ROWS // PARTITIONS
    for index in range(PARTITIONS):
        rng = np.random.default_rng(100 + index)
        frame = pd.DataFrame(rng.normal(size=(per, len(FEATURES))), columns=FEATURES)
        frame.to_parquet(inputs / f"part-{index:02d}.parquet", index=False, row_group_size=250_000)
    return inputs


def _cluster(limit: int) -> tuple[object, object]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, memory_limit=limit, dashboard_address=None,
        host="127.0.0.1",
    )  # fmt: skip
    return cluster, Client(cluster)


def _peaks(client: object) -> list[float]:
    def peak() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    return [v / 2**30 for v in client.run(peak).values()]  # type: ignore[attr-defined]


def bench_scoring(work: Path, address: str, client: object) -> list[tuple[str, float, float]]:
    folder = work / "scoring"
    if not (folder / ".shipline").exists():
        _project(folder, SCORING_CONFIG, 50_000)
        _shipline(folder, _env(SHIPLINE_DASK="local"), "run")
    inputs = _inputs(work)
    one_s, _ = _shipline(
        folder, _env(SHIPLINE_DASK="local"), "predict", "scorer:1", "--input", str(inputs),
        "--output", str(work / "out-one"),
    )  # fmt: skip
    one_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    two_s, shown = _shipline(
        folder, _env(SHIPLINE_DASK=address), "predict", "scorer:1", "--input", str(inputs),
        "--output", str(work / "out-dask"),
    )  # fmt: skip
    peaks = _peaks(client)
    # MLflow writes predictions only: the like-for-like run leaves the input columns out too.
    thin_s, _ = _shipline(
        folder, _env(SHIPLINE_DASK=address), "predict", "scorer:1", "--input", str(inputs),
        "--output", str(work / "out-thin"), "--predictions-only",
    )  # fmt: skip
    small_s = _mlflow(folder, inputs, work, MLFLOW_ROWS // 3)
    mlflow_s = _mlflow(folder, inputs, work, MLFLOW_ROWS)
    # Per-row rate from the difference of two sizes: its start-up is not counted against it.
    mlflow_rate = (MLFLOW_ROWS - MLFLOW_ROWS // 3) / max(mlflow_s - small_s, 1e-9)
    print(f"batch scoring, {ROWS:,} rows x {len(FEATURES)} columns in {PARTITIONS} partitions:")
    print(
        f"  one process      {one_s:7.1f} s  {ROWS / one_s:12,.0f} rows/s  peak {one_peak:.2f} GiB"
    )
    print(
        f"  2 dask workers   {two_s:7.1f} s  {ROWS / two_s:12,.0f} rows/s  peak per worker "
        + ", ".join(f"{p:.2f}" for p in peaks)
        + f" GiB (limit {WORKER_LIMIT / 2**30:.0f})"
    )
    print(
        f"  2 workers, --predictions-only {thin_s:7.1f} s  {ROWS / thin_s:12,.0f} rows/s "
        f"(with the input columns: {(ROWS / two_s) / mlflow_rate:.2f}x mlflow)"
    )
    model_rate = _model_rate(folder, inputs)
    print(
        f"  the forest alone (scikit-learn predict, one process): {model_rate:,.0f} rows/s; "
        f"on 2 cores at most {2 * model_rate / mlflow_rate:.2f}x mlflow"
    )
    print(
        f"  mlflow predict   {small_s:7.1f} s for {MLFLOW_ROWS // 3:,} rows, {mlflow_s:.1f} s "
        f"for {MLFLOW_ROWS:,}: {mlflow_rate:,.0f} rows/s after start-up -> "
        f"{small_s + (ROWS - MLFLOW_ROWS // 3) / mlflow_rate:,.0f} s for {ROWS:,} (extrapolated)"
    )
    assert "on dask" in shown
    return [
        ("scoring: 2 workers / one process", one_s / two_s, 1.6),
        ("scoring: 2 workers, predictions only / mlflow", (ROWS / thin_s) / mlflow_rate, 10.0),
        ("scoring: peak per worker under limit (1 = yes)", float(max(peaks) < 2.0), 1.0),
    ]


def _model_rate(folder: Path, inputs: Path) -> float:
    """Rows per second of the forest's own predict on one partition: no reading or writing."""
    sys.path.insert(0, str(ROOT / "src"))
    from shipline.project import Project

    with Project.open(folder) as project:
        estimator = project.load_model("scorer:1").estimator
    frame = pd.read_parquet(next(iter(sorted(inputs.glob("*.parquet")))))
    start = time.perf_counter()
    estimator.predict(frame[FEATURES])
    return len(frame) / (time.perf_counter() - start)


def _mlflow(folder: Path, inputs: Path, work: Path, rows: int) -> float:
    import mlflow.sklearn

    sys.path.insert(0, str(ROOT / "src"))
    from shipline.project import Project

    model_dir = work / "mlflow-model"
    if not model_dir.exists():
        with Project.open(folder) as project:
            estimator = project.load_model("scorer:1").estimator
        # MLflow 3 stores sklearn models with skops and asks that tree types be trusted
        # explicitly; this model was trained just above.
        trusted = ["numpy.dtype", "sklearn.tree._tree.Tree"]
        mlflow.sklearn.save_model(estimator, str(model_dir), skops_trusted_types=trusted)
    sliced = work / f"mlflow-input-{rows}.csv"
    if not sliced.exists():
        parts = sorted(inputs.glob("*.parquet"))[: -(-rows // (ROWS // PARTITIONS))]
        frame = pd.concat(pd.read_parquet(part) for part in parts)
        frame.iloc[:rows].to_csv(sliced, index=False)
    start = time.perf_counter()
    subprocess.run(
        [str(BIN / "mlflow"), "models", "predict", "-m", str(model_dir), "-i", str(sliced),
         "-t", "csv", "-o", str(work / "mlflow-out.json"), "--env-manager", "local"],
        check=True, capture_output=True, env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )  # fmt: skip
    return time.perf_counter() - start


def bench_search(work: Path, address: str) -> list[tuple[str, float, float]]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    folder = work / "search"
    _project(folder, SEARCH_CONFIG, 20_000)
    _shipline(folder, _env(SHIPLINE_DASK=address), "run", "--force", "train")
    _, listed = _shipline(folder, _env(), "runs", "list", "--json")
    _, shown = _shipline(folder, _env(), "runs", "show", str(json.loads(listed)[0]["id"]), "--json")
    steps = {s["step"]: s for s in json.loads(shown)["steps"]}
    ours = steps["train"]["seconds"]
    frame = _labelled(20_000, 1)
    # shipline's split holds out 20%: scikit-learn searches the same number of rows.
    frame = frame.sample(frac=0.8, random_state=42)
    start = time.perf_counter()
    GridSearchCV(
        RandomForestClassifier(n_estimators=60, random_state=42),
        {"max_depth": [4, 8, 12, 16], "min_samples_leaf": [1, 2, 5, 10]},
        cv=StratifiedKFold(3, shuffle=True, random_state=42),
        scoring="accuracy",
        n_jobs=1,
    ).fit(frame[FEATURES], frame["y"])
    theirs = time.perf_counter() - start
    print("grid search, 16 configurations x 3 folds + refit, 16,000 rows:")
    print(
        f"  shipline train step on 2 workers {ours:7.1f} s (ran on "
        f"{steps['train']['key_parts'].get('ran_on', 'here')})"
    )
    print(f"  GridSearchCV(n_jobs=1)           {theirs:7.1f} s")
    return [("search: GridSearchCV(n_jobs=1) / shipline on 2 workers", theirs / ours, 1.7)]


def _drift_side(folder: Path, drifted: bool, rows: int, parts: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.parquet"))) == parts:
        return
    per = rows // parts
    for index in range(parts):
        rng = np.random.default_rng((2 if drifted else 1) * 1000 + index)
        data = {}
        for i in range(20):
            shift = [0.0, 0.25, 0.5, 1.0, 0.05][i] if drifted and i < 5 else 0.0
            values = rng.normal(shift, 1.5 if drifted and i == 5 else 1.0, per)
            if i == 6:
                values[rng.random(per) < 0.05] = np.nan
            data[f"num_{i:02d}"] = values
        for i in range(5):
            probabilities = [0.1, 0.2, 0.3, 0.4] if drifted and i == 0 else [0.4, 0.3, 0.2, 0.1]
            data[f"cat_{i:02d}"] = rng.choice(["a", "b", "c", "d"], per, p=probabilities)
        pd.DataFrame(data).to_parquet(folder / f"p{index:02d}.parquet", index=False)


def bench_drift(work: Path, address: str, client: object) -> list[tuple[str, float, float]]:
    rows = DRIFT_ROWS
    _drift_side(work / "drift" / "reference", False, rows, 10)
    _drift_side(work / "drift" / "current", True, rows, 10)
    seconds, out = _shipline(
        work, _env(SHIPLINE_DASK=address), "drift", str(work / "drift" / "reference"),
        str(work / "drift" / "current"), "--json",
    )  # fmt: skip
    report = json.loads(out)
    peaks = _peaks(client)
    evidently = _evidently_1m()
    print(
        f"drift, {rows:,} rows a side x 25 columns, 10 partitions a side, 2 workers "
        f"(2 GiB limit each): {seconds:.1f} s, {report['drifted']} of {report['compared']} "
        "columns drifted; peak per worker " + ", ".join(f"{p:.2f}" for p in peaks) + " GiB"
    )
    if evidently is None:
        print("  Evidently: not measured (run bench/setup-drift.sh for its environment)")
        return [("drift 10M: completed under the limit (1 = yes)", float(max(peaks) < 2.0), 1.0)]
    print(
        f"  Evidently at 1M rows a side: {evidently:.1f} s -> {evidently * 10:.0f} s at 10M "
        f"(extrapolated linearly; its memory at 10M would exceed 2 GiB anyway)"
    )
    return [
        ("drift 10M: completed under the limit (1 = yes)", float(max(peaks) < 2.0), 1.0),
        (
            "drift 10M: Evidently (extrapolated) / shipline on 2 workers",
            evidently * 10 / seconds,
            1.0,
        ),
    ]


def _evidently_1m() -> float | None:
    python = ROOT / ".venv-drift" / "bin" / "python"
    if not python.exists():
        return None
    with tempfile.TemporaryDirectory() as folder:
        generate = (
            "import sys; sys.path.insert(0, 'bench'); import drift; from pathlib import Path; "
            f"drift._generate(1_000_000, Path({folder!r}))"
        )
        subprocess.run([sys.executable, "-c", generate], cwd=ROOT, check=True)
        done = subprocess.run(
            [str(python), "bench/drift.py", "--tool", "evidently", "--folder", folder],
            cwd=ROOT, check=True, capture_output=True, text=True,
        )  # fmt: skip
    return float(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    """Run the three comparisons on one 2-worker cluster and print the verdicts."""
    work = Path(os.environ.get("BENCH_WORK") or tempfile.mkdtemp(prefix="shipline-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    cluster, client = _cluster(WORKER_LIMIT)
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    try:
        # BENCH_ONLY=scoring,search runs those comparisons only.
        chosen = set(os.environ.get("BENCH_ONLY", "scoring,search,drift").split(","))
        verdicts = bench_scoring(work, address, client) if "scoring" in chosen else []
        verdicts += bench_search(work, address) if "search" in chosen else []
        verdicts += bench_drift(work, address, client) if "drift" in chosen else []
    finally:
        client.close()  # type: ignore[attr-defined]
        cluster.close()  # type: ignore[attr-defined]
    print("\nverdicts:")
    for name, ratio, target in verdicts:
        print(
            f"  {name}: {ratio:.2f} (target >= {target}: {'met' if ratio >= target else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
