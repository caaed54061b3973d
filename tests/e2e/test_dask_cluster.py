"""shipline on a real Dask cluster: `dask scheduler` and two `dask worker` processes on
loopback, metadata on PostgreSQL and the content store on SeaweedFS S3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipline.config.compute import parse_bytes
from shipline.scaffold import create_project
from tests.conftest import s3_environment
from tests.dask_cluster import DaskCluster, start_dask_cluster, worker_env
from tests.services import Postgres, SeaweedS3
from tests.team import shipline

MEMORY_LIMIT = "700MiB"


@pytest.fixture(scope="module")
def cluster(
    s3_server: SeaweedS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaskCluster]:
    """Two one-thread workers that can reach the S3 server."""
    env = worker_env(**s3_environment(s3_server))
    started = start_dask_cluster(env, tmp_path_factory.mktemp("dask-logs"), 2, MEMORY_LIMIT)
    yield started
    started.stop()


def _env(cluster: DaskCluster, postgres: Postgres, s3: SeaweedS3, **extra: str) -> dict[str, str]:
    """A user's environment: PostgreSQL, a fresh S3 prefix, the cluster."""
    return worker_env(
        **s3_environment(s3),
        SHIPLINE_DB=postgres.create_database(f"t_{uuid.uuid4().hex[:12]}"),
        SHIPLINE_STORE=f"s3://{s3.bucket}/{uuid.uuid4().hex[:12]}",
        SHIPLINE_USER="alice",
        SHIPLINE_DASK=cluster.address,
        **extra,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return str(result.stdout)


def _run_json(folder: Path, env: dict[str, str], run: int) -> dict[str, object]:
    return dict(json.loads(_ok(shipline("runs", "show", str(run), "--json", env=env, cwd=folder))))


def test_the_demo_pipeline_on_the_cluster_gives_the_local_version(
    cluster: DaskCluster, postgres_server: Postgres, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    env = _env(cluster, postgres_server, s3_server)
    local = {**env, "SHIPLINE_DASK": "local"}
    assert "registered cancer:1" in _ok(shipline("run", env=local, cwd=folder))
    # The same steps on the workers: the same metrics and the same bundle, so the same version.
    remote = _ok(shipline("run", "--force", "train", "evaluate", env=env, cwd=folder))
    assert "registered cancer:1" in remote
    here, there = _run_json(folder, env, 1), _run_json(folder, env, 2)
    assert here["metrics"] == there["metrics"]
    ran_on = {s["step"]: s["key_parts"].get("ran_on") for s in there["steps"]}  # type: ignore[attr-defined]
    assert ran_on["train"] == ran_on["evaluate"] == json.dumps(f"dask {cluster.address}")
    assert ran_on["gate"] is None and ran_on["register"] is None  # those need the database
    assert all("ran_on" not in s["key_parts"] for s in here["steps"])  # type: ignore[attr-defined]
    status = json.loads(_ok(shipline("compute", "status", "--json", env=env, cwd=folder)))
    assert status["where"] == f"dask {cluster.address}" and status["chosen_by"] == "SHIPLINE_DASK"
    assert [w["memory_limit"] for w in status["workers"]] == [parse_bytes(MEMORY_LIMIT)] * 2

    # A grid search whose trials run on both workers; every trial is on the run.
    config = folder / "shipline.yaml"
    config.write_text(
        config.read_text().replace(
            "  params: {max_iter: 200, learning_rate: 0.1}\n",
            "  params: {max_iter: 100}\n  search:\n    method: grid\n"
            "    params: {learning_rate: [0.05, 0.1], max_depth: [2, 3]}\n"
            "    cv: 3\n    metric: roc_auc\n",
        )
    )
    searched = _ok(shipline("run", env=env, cwd=folder))
    assert "registered cancer:2" in searched
    shown = _ok(shipline("runs", "show", "3", env=env, cwd=folder))
    assert "search: grid, 4 trials, 3-fold, by roc_auc" in shown
    assert shown.count("learning_rate=") >= 4
    _ok(shipline("audit", "verify", env=env, cwd=folder))


SLOW_TRAIN = """
import os
import time
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

GATE = Path({gate!r})


def train(frame):
    (GATE / f"started-{{os.getpid()}}").write_text("")
    deadline = time.monotonic() + 600
    while not (GATE / "release").exists():
        assert time.monotonic() < deadline, "the test never released training"
        time.sleep(0.05)  # poll interval
    x = frame.drop(columns=["benign", "sample_id"])
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(x, frame["benign"])
"""


def test_a_worker_killed_mid_training_the_run_finishes_on_the_other(
    cluster: DaskCluster, postgres_server: Postgres, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    folder, gate = tmp_path / "cancer", tmp_path / "gate"
    create_project(folder, "classification")
    gate.mkdir()
    (folder / "train.py").write_text(SLOW_TRAIN.format(gate=str(gate)))
    config = folder / "shipline.yaml"
    text = config.read_text()
    start = text.index("  estimator:")
    end = text.index("\n", text.index("  params:", start)) + 1
    config.write_text(text[:start] + "  entrypoint: train.py:train\n" + text[end:])
    env = _env(cluster, postgres_server, s3_server)
    run = subprocess.Popen(
        [sys.executable, "-m", "shipline", "run"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = _wait_for(lambda: sorted(gate.glob("started-*")), run)
        os.kill(int(started[0].name.split("-")[1]), signal.SIGKILL)  # the worker process
        (gate / "release").write_text("")
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, out + err
    assert "registered cancer:1" in out
    runs = json.loads(_ok(shipline("runs", "list", "--json", env=env, cwd=folder)))
    assert [r["status"] for r in runs] == ["succeeded"]
    versions = json.loads(_ok(shipline("models", "list", "--json", env=env, cwd=folder)))
    assert len(versions) == 1
    _ok(shipline("audit", "verify", env=env, cwd=folder))
    cluster.wait_for_workers(2)  # the nanny restarted the killed worker


def _wait_for(found: object, process: subprocess.Popen[str]) -> list[Path]:
    deadline = time.monotonic() + 240
    while not (result := found()):  # type: ignore[operator]
        if process.poll() is not None:
            pytest.fail(f"exited before training started: {process.communicate()}")
        if time.monotonic() > deadline:
            pytest.fail("training never started on a worker")
        time.sleep(0.1)  # poll interval
    return list(result)


BIG_CONFIG = """name: big
data: {source: data/train.parquet, target: y}
training: {task: regression, estimator: sklearn.linear_model.Ridge}
"""
FEATURES = [f"x{i}" for i in range(8)]


def test_scoring_more_data_than_a_worker_holds(
    cluster: DaskCluster, postgres_server: Postgres, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    folder = tmp_path / "big"
    (folder / "data").mkdir(parents=True)
    generator = np.random.default_rng(3)
    weights = generator.normal(size=len(FEATURES))
    train = pd.DataFrame(generator.normal(size=(3000, len(FEATURES))), columns=FEATURES)
    train["y"] = train[FEATURES].to_numpy() @ weights + generator.normal(0, 0.1, len(train))
    train.to_parquet(folder / "data" / "train.parquet", index=False)
    (folder / "shipline.yaml").write_text(BIG_CONFIG)
    env = _env(cluster, postgres_server, s3_server)
    _ok(shipline("run", env=env, cwd=folder))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rows_per_file, files = 800_000, 16
    for index in range(files):
        frame = pd.DataFrame(
            generator.normal(size=(rows_per_file, len(FEATURES))), columns=FEATURES
        )
        frame.to_parquet(inputs / f"day-{index:02d}.parquet", index=False, row_group_size=100_000)
    in_memory = rows_per_file * files * len(FEATURES) * 8
    limit = parse_bytes(MEMORY_LIMIT)
    assert in_memory > limit  # the data does not fit in one worker
    shown = _ok(
        shipline("predict", "big:1", "--input", str(inputs), "--output", str(tmp_path / "dask"),
                 env=env, cwd=folder)
    )  # fmt: skip
    assert f"scored {rows_per_file * files} rows in {files} partitions" in shown
    assert f"on dask {cluster.address}" in shown
    peaks = cluster.peak_memory()
    assert max(peaks.values()) < limit, peaks
    # Done, the workers give the memory back: none is left paused near its limit.
    assert set(cluster.statuses().values()) == {"running"}, cluster.statuses()
    local = {**env, "SHIPLINE_DASK": "local"}
    _ok(
        shipline("predict", "big:1", "--input", str(inputs), "--output", str(tmp_path / "one"),
                 env=local, cwd=folder)
    )  # fmt: skip
    for index in range(files):
        name = f"part-{index:05d}.parquet"
        mine = pd.read_parquet(tmp_path / "dask" / name, columns=["x0", "prediction"])
        single = pd.read_parquet(tmp_path / "one" / name, columns=["x0", "prediction"])
        assert mine["x0"].equals(single["x0"])
        assert np.array_equal(mine["prediction"].to_numpy(), single["prediction"].to_numpy())


def test_drift_over_a_partitioned_window_decides_as_one_machine_does(
    cluster: DaskCluster, postgres_server: Postgres, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    import s3fs

    generator = np.random.default_rng(11)
    reference = pd.DataFrame(
        {
            "age": generator.normal(40, 10, 20_000),
            "plan": generator.choice(["a", "b", "c"], 20_000),
            "visits": generator.integers(0, 100, 20_000),
        }
    )
    current = reference.sample(frac=1.0, random_state=1).reset_index(drop=True)
    current["age"] = current["age"] + 3
    (tmp_path / "reference").mkdir()
    for index in range(4):
        reference.iloc[index::4].to_parquet(tmp_path / "reference" / f"r{index}.parquet")
    prefix = f"{s3_server.bucket}/{uuid.uuid4().hex[:12]}/window"
    s3 = s3fs.S3FileSystem(
        key="shipline", secret="shipline", client_kwargs={"endpoint_url": s3_server.endpoint}
    )
    for index in range(5):
        s3.pipe(f"{prefix}/c{index}.csv", current.iloc[index::5].to_csv(index=False).encode())
    pd.concat(reference.iloc[i::4] for i in range(4)).to_parquet(tmp_path / "ref.parquet")
    pd.concat(current.iloc[i::5] for i in range(5)).to_csv(tmp_path / "cur.csv", index=False)
    env = _env(cluster, postgres_server, s3_server)
    on_cluster = shipline("drift", str(tmp_path / "reference"), f"s3://{prefix}/", "--json",
                          env=env, cwd=tmp_path)  # fmt: skip
    single = shipline("drift", str(tmp_path / "ref.parquet"), str(tmp_path / "cur.csv"),
                      "--json", env=env, cwd=tmp_path)  # fmt: skip
    assert on_cluster.returncode == single.returncode, on_cluster.stderr
    mine, theirs = json.loads(on_cluster.stdout), json.loads(single.stdout)
    assert mine["dataset_drift"] == theirs["dataset_drift"]
    for a, b in zip(mine["columns"], theirs["columns"], strict=True):
        assert (a["column"], a["method"], a["drifted"]) == (b["column"], b["method"], b["drifted"])
        assert a["statistic"] == pytest.approx(b["statistic"], rel=1e-9)
    assert [c["column"] for c in mine["columns"] if c["drifted"]] == ["age"]


def test_a_local_store_the_workers_cannot_see_is_refused(
    cluster: DaskCluster, tmp_path: Path
) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    hidden = folder / ".shipline"
    hidden.mkdir()
    env = worker_env(SHIPLINE_USER="alice", SHIPLINE_DASK=cluster.address)
    # The project's state on a tmpfs only this process's mount namespace sees: the workers
    # run outside it, as workers on other machines would.
    script = f'mount -t tmpfs none "{hidden}" && exec "{sys.executable}" -m shipline run'
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "cannot read it" in result.stderr and "it is a local folder" in result.stderr
    assert "SHIPLINE_STORE=s3://" in result.stderr


def test_the_controller_trains_on_the_cluster_of_the_applied_config(
    cluster: DaskCluster, postgres_server: Postgres, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    with config.open("a") as appended:
        appended.write(f"compute:\n  dask: {{address: '{cluster.address}'}}\n")
        appended.write("retraining:\n  triggers:\n    - new_data: true\n")
    env = {**_env(cluster, postgres_server, s3_server)}
    del env["SHIPLINE_DASK"]  # where to train comes from the applied config
    _ok(shipline("apply", env=env, cwd=folder))
    bot = {**env, "SHIPLINE_USER": "controller-bot"}
    _ok(shipline("controller", "--once", "--json", env=bot, cwd=folder))
    runs = json.loads(_ok(shipline("runs", "list", "--json", env=env, cwd=folder)))
    assert len(runs) == 1 and runs[0]["status"] == "succeeded", runs
    shown = _run_json(folder, env, runs[0]["id"])
    train = next(s for s in shown["steps"] if s["step"] == "train")  # type: ignore[attr-defined]
    assert train["key_parts"]["ran_on"] == json.dumps(f"dask {cluster.address}")


def test_a_captured_window_is_monitored_on_the_cluster_as_on_one_machine(
    cluster: DaskCluster,
    postgres_server: Postgres,
    s3_server: SeaweedS3,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import UTC, datetime

    from shipline.project import Project
    from tests.captures import capture_partition

    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    env = _env(cluster, postgres_server, s3_server)
    local = {**env, "SHIPLINE_DASK": "local"}
    _ok(shipline("run", env=local, cwd=folder))
    started = datetime.now(UTC).isoformat()
    data = pd.read_csv(folder / "data" / "breast_cancer.csv")
    shifted = data.copy()
    shifted["mean radius"] = shifted["mean radius"] * 1.4
    for key, value in local.items():
        monkeypatch.setenv(key, value)
    with Project.open(folder) as project:  # traffic captured into PostgreSQL + S3
        capture_partition(project, "cancer@staging", data, "a", "benign", 2)
        capture_partition(project, "cancer@staging", shifted, "b", "benign", 3)
    reports = []
    for where in (env, local):
        done = shipline("monitor", "cancer@staging", "--since", started, "--json", env=where,
                        cwd=folder)  # fmt: skip
        assert done.returncode in (0, 1), done.stderr
        reports.append(json.loads(done.stdout))
    on_cluster, single = reports
    assert on_cluster.pop("computed_on") == f"dask {cluster.address}"
    assert "computed_on" not in single
    assert on_cluster["rows"] == single["rows"] == 2 * len(data)
    for a, b in zip(on_cluster["features"]["columns"], single["features"]["columns"], strict=True):
        assert (a["column"], a["method"], a["drifted"]) == (b["column"], b["method"], b["drifted"])
        assert a["statistic"] == pytest.approx(b["statistic"], rel=1e-9)
    assert on_cluster["features"]["dataset_drift"] == single["features"]["dataset_drift"]
    assert on_cluster["prediction"] == single["prediction"]
    quality, expected = on_cluster["quality"], single["quality"]
    assert quality["labelled_rows"] == expected["labelled_rows"] > 0
    assert quality["metrics"] == pytest.approx(expected["metrics"], rel=1e-9)
    estimated = on_cluster["estimated_quality"]["estimated"]
    assert estimated == pytest.approx(single["estimated_quality"]["estimated"], rel=1e-9)


def test_one_lightgbm_model_trained_across_both_workers(
    cluster: DaskCluster, postgres_server: Postgres, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    folder = tmp_path / "cancer"
    create_project(folder, "classification")
    config = folder / "shipline.yaml"
    text = config.read_text()
    start = text.index("  estimator:")
    end = text.index("\n", text.index("  params:", start)) + 1
    estimator = "  estimator: lightgbm.LGBMClassifier\n  params: {n_estimators: 50, verbose: -1}\n"
    config.write_text(
        text[:start] + estimator + text[end:] + "compute: {distributed_training: true}\n"
    )
    env = _env(cluster, postgres_server, s3_server)
    # Without a cluster the step says what it needs, and nothing is registered.
    alone = shipline("run", env={**env, "SHIPLINE_DASK": "local"}, cwd=folder)
    assert alone.returncode != 0
    assert "set compute.dask or SHIPLINE_DASK to a cluster" in alone.stdout + alone.stderr
    assert "registered cancer:1" in _ok(shipline("run", env=env, cwd=folder))
    shown = _run_json(folder, env, 2)
    train = next(s for s in shown["steps"] if s["step"] == "train")  # type: ignore[attr-defined]
    assert train["key_parts"]["ran_on"] == json.dumps(f"dask {cluster.address}")
    assert shown["metrics"]["accuracy"] > 0.9  # type: ignore[index]
    scored = tmp_path / "scored.csv"
    data = str(folder / "data" / "breast_cancer.csv")
    _ok(shipline("predict", "cancer@staging", "--input", data, "--output", str(scored),
                 env=env, cwd=folder))  # fmt: skip
    assert len(pd.read_csv(scored)) == 569
    _ok(shipline("audit", "verify", env=env, cwd=folder))
