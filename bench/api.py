"""Registry reads over HTTP: shipline's team server against the MLflow tracking server.

Both hold the same data on SQLite: one model with 1,000 versions, 10,000 runs with 20 metrics
each. Each server runs one worker pinned to CPU 0; `wrk` (2 threads, 16 connections) on CPU 1
sends, for BENCH_DURATION each:
  1. get one version          (shipline GET /api/v1/versions/churn:500,
                               MLflow GET /api/2.0/mlflow/model-versions/get),
  2. list the model's versions (all 1,000; MLflow model-versions/search, max_results 1000),
  3. search runs by a metric   (metrics.m3 > 0.5, the newest 100; MLflow runs/search).
shipline's requests carry an API token (checked on every request); MLflow's server has no
authentication. Targets: >= 10x MLflow's requests per second on each, p99 below MLflow's.
Run with the bench environment: bench/setup.sh, then .venv-bench/bin/python bench/api.py.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from serving import _port, _stop, _wait

DURATION = os.environ.get("BENCH_DURATION", "10s")
CONNECTIONS = 16
VERSIONS, RUNS, METRICS = 1_000, 10_000, 20
BIN = Path(sys.executable).parent


def _seed_shipline(work: Path) -> tuple[str, str]:
    """The data in shipline's tables; returns the database URL and an admin token."""
    from shipline.identity.api_token import issue_token
    from shipline.identity.principal import Grant
    from shipline.identity.role import Role
    from shipline.identity.user import add_user
    from shipline.registry import register_version
    from shipline.store import open_database, utc_now
    from shipline.store.blob_kinds import record_kinds
    from shipline.store.tables import runs

    url = f"sqlite:///{work / 'shipline.db'}"
    db = open_database(url)
    chooser = random.Random(0)
    rows = [
        {
            "model": "churn",
            "status": "succeeded",
            "trigger": "bench",
            "actor": "bench",
            "started_at": utc_now(),
            "finished_at": utc_now(),
            "config_digest": "0" * 64,
            "config": "{}",
            "lineage": "{}",
            "params": json.dumps({"alpha": chooser.random()}),
            "metrics": json.dumps({f"m{k}": chooser.random() for k in range(METRICS)}),
            "resumed_from": None,
            "model_version": None,
        }
        for _ in range(RUNS)
    ]
    with db.write("bench") as tx:
        tx.conn.execute(runs.insert(), rows)
    with db.write("bench") as tx:
        for number in range(1, VERSIONS + 1):
            digest = f"{number:064x}"
            record_kinds(tx.conn, {digest: "model"})
            metrics = {f"m{k}": chooser.random() for k in range(METRICS)}
            register_version(tx, "churn", number, digest, digest, {"metrics": metrics})
    add_user(db, "bench", (Grant(Role.ADMIN),), "bench")
    token = issue_token(db, "bench", "bench", None, "bench").secret
    db.close()
    return url, token


def _seed_mlflow(work: Path) -> tuple[str, str]:
    """The same data in MLflow's tables (through its own store classes)."""
    from mlflow.entities import Metric
    from mlflow.store.model_registry.sqlalchemy_store import (
        SqlAlchemyStore as RegistryStore,
    )
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    url = f"sqlite:///{work / 'mlflow.db'}"
    tracking = SqlAlchemyStore(url, str(work / "artifacts"))
    experiment = tracking.create_experiment("bench")
    chooser = random.Random(0)
    run_ids = []
    now = int(time.time() * 1000)
    for index in range(RUNS):
        run = tracking.create_run(experiment, "bench", now, [], f"run-{index}")
        metrics = [Metric(f"m{k}", chooser.random(), now, 0) for k in range(METRICS)]
        tracking.log_batch(run.info.run_id, metrics, [], [])
        run_ids.append(run.info.run_id)
    registry = RegistryStore(url)
    registry.create_registered_model("churn")
    for number in range(VERSIONS):
        run_id = run_ids[number]
        registry.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    return url, experiment


def _seeded() -> tuple[Path, str, str, str, str]:
    """Both stores seeded in a new folder, or (BENCH_WORK=folder) those of an earlier run:
    MLflow's takes minutes to fill through its store API."""
    reuse = os.environ.get("BENCH_WORK")
    work = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="shipline-api-bench-"))
    saved = work / "seeded.json"
    if saved.is_file():
        found = json.loads(saved.read_text())
        return work, found["ours"], found["token"], found["theirs"], found["experiment"]
    started = time.perf_counter()
    ours_url, token = _seed_shipline(work)
    print(f"seeded shipline in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    theirs_url, experiment = _seed_mlflow(work)
    print(f"seeded mlflow in {time.perf_counter() - started:.1f} s (folder {work})", flush=True)
    record = {"ours": ours_url, "token": token, "theirs": theirs_url, "experiment": experiment}
    saved.write_text(json.dumps(record))
    return work, ours_url, token, theirs_url, experiment


def _wrk(url: str, method: str, headers: dict[str, str], body: str | None, work: Path) -> Any:
    script = work / "request.lua"
    lines = [f'wrk.method = "{method}"']
    lines += [f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in headers.items()]
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    script.write_text("\n".join(lines) + "\n")
    # A 60 s timeout: a slow answer is counted (with its latency), not dropped as a timeout.
    command = ["taskset", "-c", "1", "wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", DURATION]
    command += ["--timeout", "60s"]
    out = subprocess.run(
        [*command, "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    failed = (int(errors.group(1)) if errors else 0) + (int(timeouts.group(1)) if timeouts else 0)
    return {"rps": rate, "p99_ms": latency, "errors": failed}


def main() -> None:
    """Seed both, start both servers, measure each read on each, print the comparison."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "MLFLOW_"))}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    work, ours_url, token, theirs_url, experiment = _seeded()
    ours_port, theirs_port = _port(), _port()
    ours_base, theirs_base = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{theirs_port}"
    auth = {"Authorization": f"Bearer {token}"}
    json_body = {"Content-Type": "application/json"}
    search = {"experiment_ids": [experiment], "filter": "metrics.m3 > 0.5", "max_results": 100}
    cases = {
        "get a version": (
            (f"{ours_base}/api/v1/versions/churn:500", "GET", auth, None),
            (f"{theirs_base}/api/2.0/mlflow/model-versions/get?name=churn&version=500", "GET", {}, None),
        ),
        "list the model's 1,000 versions": (
            (f"{ours_base}/api/v1/versions?model=churn", "GET", auth, None),
            (
                f"{theirs_base}/api/2.0/mlflow/model-versions/search?filter=name%3D%27churn%27&max_results=1000",
                "GET", {}, None,
            ),
        ),
        "search runs: metrics.m3 > 0.5, newest 100": (
            (
                f"{ours_base}/api/v1/runs?model=churn&where=metrics.m3%20%3E%200.5&limit=100",
                "GET", auth, None,
            ),
            (f"{theirs_base}/api/2.0/mlflow/runs/search", "POST", json_body, json.dumps(search)),
        ),
    }  # fmt: skip
    # One server at a time on CPU 0, so neither shares its core with the other.
    ours = subprocess.Popen(
        ["taskset", "-c", "0", str(BIN / "shipline"), "server", "--port", str(ours_port)],
        cwd=work,
        env={**env, "SHIPLINE_DB": ours_url, "SHIPLINE_STORE": str(work / "store")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(f"{ours_base}/api/v1/health")
        mine = {name: _wrk(*requests[0], work) for name, requests in cases.items()}
    finally:
        _stop(ours)
    theirs = subprocess.Popen(
        [
            "taskset", "-c", "0", str(BIN / "mlflow"), "server",
            "--backend-store-uri", theirs_url,
            "--default-artifact-root", str(work / "artifacts"),
            "--host", "127.0.0.1", "--port", str(theirs_port), "--workers", "1",
        ],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(f"{theirs_base}/health")
        other = {name: _wrk(*requests[1], work) for name, requests in cases.items()}
    finally:
        _stop(theirs)
    print(f"\nwrk: {CONNECTIONS} connections, {DURATION} per case; each server alone on CPU 0\n")
    print("| read | shipline req/s | p99 | MLflow req/s | p99 | ratio | target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in cases:
        a, b = mine[name], other[name]
        ratio = a["rps"] / b["rps"]
        met = ratio >= 10 and a["p99_ms"] < b["p99_ms"]
        errors = f" ({a['errors']}/{b['errors']} errors)" if a["errors"] or b["errors"] else ""
        print(
            f"| {name} | {a['rps']:,.0f} | {a['p99_ms']:.1f} ms | {b['rps']:,.0f} | "
            f"{b['p99_ms']:.1f} ms | {ratio:.1f}x | {'met' if met else 'MISSED'}{errors} |"
        )


if __name__ == "__main__":
    main()
