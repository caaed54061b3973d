"""Serving images: size and cold start, `shipline build` vs MLflow's serving image, one run.

The same fitted forest (101 trees, 20 features) goes into two images built by buildah here on
the same Debian bookworm base (made by mmdebstrap: no image registry is reachable, so neither
`python:3.11-slim` nor `mlflow models build-docker`'s Docker engine is available):
  1. `shipline build forest@staging --base BASE --builder buildah`;
  2. the Dockerfile `mlflow models generate-dockerfile` writes for the model (the one
     `build-docker` builds), its `FROM python:3.11.7-slim` replaced by the same base, which has
     Debian's pip and `python` as the slim image does.
Size: the image's size as buildah reports it. Cold start: from starting the container's own
command (`buildah run`, host network, port 8080 for both) to the first 200 answer to a 1-row
POST /invocations; median of ROUNDS starts. Run as root (buildah) after `bench/setup.sh`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
BIN = Path(sys.executable).parent
BASE = "localhost/shipline-bench-python:bookworm"
PORT = 8080
CONFIG = """\
name: forest
data:
  source: data/forest.csv
  target: y
  split: {test_size: 0.2, seed: 0}
training:
  task: classification
  estimator: sklearn.ensemble.RandomForestClassifier
  params: {n_estimators: 101, random_state: 0, n_jobs: 1}
"""
ENV = {**os.environ, "BUILDAH_ISOLATION": "chroot"}


def _run(*command: str, cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


def _base() -> None:
    """A python:3.11-slim stand-in: bookworm, Python 3.11, pip, `python`."""
    known = subprocess.run(["buildah", "inspect", "--type", "image", BASE], capture_output=True,
                           check=False)  # fmt: skip
    if known.returncode == 0:
        return
    with tempfile.TemporaryDirectory() as scratch:
        tarball = Path(scratch) / "base.tar"
        _run("mmdebstrap", "--variant=minbase",
             "--include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates",
             "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/man/*",
             "--dpkgopt=path-exclude=/usr/share/locale/*", "bookworm", str(tarball))  # fmt: skip
        container = _run("buildah", "from", "scratch").strip()
        _run("buildah", "add", container, str(tarball), "/")
        # MLflow's Dockerfile installs from PyPI during the build; this machine reaches it through
        # a TLS proxy whose CA only the host's bundle holds (shipline's build needs no network).
        _run("buildah", "copy", container, "/etc/ssl/certs/ca-certificates.crt",
             "/etc/ssl/certs/ca-certificates.crt")  # fmt: skip
        # Debian marks its Python as externally managed; the slim image's pip installs freely.
        _run("buildah", "config", "--env", "PIP_BREAK_SYSTEM_PACKAGES=1",
             "--env", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
             "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", container)  # fmt: skip
        _run("buildah", "commit", "--quiet", container, BASE)
        _run("buildah", "rm", container)


def _size(tag: str) -> int:
    """Bytes of the image's layers, as its manifest records them (what `buildah images` rounds)."""
    found = json.loads(_run("buildah", "inspect", "--type", "image", tag))
    return sum(int(layer["size"]) for layer in json.loads(found["Manifest"])["layers"])


def _config(tag: str) -> dict[str, list[str]]:
    found = json.loads(_run("buildah", "inspect", "--type", "image", tag))["Docker"]["config"]
    return {"Entrypoint": found.get("Entrypoint") or [], "Cmd": found.get("Cmd") or []}


def _cold_start(tag: str, body: bytes) -> float:
    """Seconds from starting the container's command to the first 200 on /invocations."""
    config = _config(tag)
    name = _run("buildah", "from", tag).strip()
    before = _foreign()
    try:
        started = time.perf_counter()
        process = subprocess.Popen(
            ["buildah", "run", name, "--", *config["Entrypoint"], *config["Cmd"]],
            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        request = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/invocations", data=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        deadline = started + 300
        while time.perf_counter() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if answer.status == 200:
                        elapsed = time.perf_counter() - started
                        break
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        else:
            raise RuntimeError(f"{tag} never answered")
        process.terminate()
        process.wait(timeout=60)
        _kill_new(before)
        # Wait for the port to be free again before the next start.
        while subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{PORT}"],
                             capture_output=True, check=False).returncode == 0:  # fmt: skip
            time.sleep(0.1)
        return elapsed
    finally:
        subprocess.run(["buildah", "rm", name], env=ENV, capture_output=True, check=False)


def _foreign() -> set[int]:
    """Processes in another mount namespace than this one (a container's, for instance)."""
    ours = os.readlink("/proc/self/ns/mnt")
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "mnt") != ours:
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def _kill_new(before: set[int]) -> None:
    """Kill what the container started and left behind (MLflow's nginx and uvicorn daemonize
    and outlive the container's command)."""
    import signal

    for pid in _foreign() - before:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue


def main() -> None:
    """Build both images, then measure sizes and cold starts and print the ratios."""
    from sklearn.datasets import make_classification

    _base()
    work = Path(tempfile.mkdtemp(prefix="shipline-image-bench-"))
    env = {k: v for k, v in ENV.items() if not k.startswith("SHIPLINE_")}
    try:
        x, y = make_classification(5000, 20, n_informative=10, random_state=0)
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).assign(y=y)
        project = work / "forest"
        (project / "data").mkdir(parents=True)
        frame.to_csv(project / "data" / "forest.csv", index=False)
        (project / "shipline.yaml").write_text(CONFIG)
        subprocess.run([str(BIN / "shipline"), "run"], cwd=project, env=env, check=True,
                       capture_output=True)  # fmt: skip
        built: dict[str, float] = {}
        started = time.perf_counter()
        subprocess.run([str(BIN / "shipline"), "build", "forest@staging", "--base", BASE,
                        "--builder", "buildah", "-t", "localhost/bench-shipline:forest"],
                       cwd=project, env=env, check=True, capture_output=True)  # fmt: skip
        built["shipline"] = time.perf_counter() - started
        print(f"shipline image built in {built['shipline']:.0f} s", flush=True)

        from shipline.project import Project

        with Project.open(project) as opened:
            bundle = opened.load_model("forest:1")
        import mlflow.sklearn

        model = work / "mlflow-model"
        mlflow.sklearn.save_model(bundle.model, str(model),
                                  input_example=frame.drop(columns="y").head(2),
                                  skops_trusted_types=["numpy.dtype", "sklearn.tree._tree.Tree"])  # fmt: skip
        generated = work / "mlflow-image"
        _run(str(BIN / "mlflow"), "models", "generate-dockerfile", "-m", str(model),
             "--output-directory", str(generated))  # fmt: skip
        dockerfile = generated / "Dockerfile"
        text = dockerfile.read_text()
        slim = next(line for line in text.splitlines() if line.startswith("FROM "))
        dockerfile.write_text(text.replace(slim, f"FROM {BASE}", 1))
        started = time.perf_counter()
        _run(
            "buildah",
            "bud",
            "--format",
            "docker",
            "-t",
            "localhost/bench-mlflow:forest",
            str(generated),
        )
        built["mlflow"] = time.perf_counter() - started
        print(f"MLflow image built in {built['mlflow']:.0f} s", flush=True)

        body = json.dumps({"dataframe_split": {"columns": list(bundle.features),
                                               "data": [np.round(x[0], 6).tolist()]}}).encode()  # fmt: skip
        sizes = {"shipline": _size("localhost/bench-shipline:forest"),
                 "mlflow": _size("localhost/bench-mlflow:forest")}  # fmt: skip
        starts: dict[str, list[float]] = {"shipline": [], "mlflow": []}
        for _ in range(ROUNDS):  # interleaved, so both see the same machine
            for label, measured in starts.items():
                measured.append(_cold_start(f"localhost/bench-{label}:forest", body))
        _report(sizes, starts, built, _size(BASE))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _report(sizes: dict[str, int], starts: dict[str, list[float]], built: dict[str, float],
            base: int) -> None:  # fmt: skip
    print(f"base image (Debian bookworm, Python 3.11, pip): {base / 1e6:.0f} MB")
    for label in ("shipline", "mlflow"):
        runs = ", ".join(f"{s:.2f}" for s in starts[label])
        print(f"{label:9s} image {sizes[label] / 1e6:7.0f} MB ({(sizes[label] - base) / 1e6:.0f} MB "
              f"over the base), built in {built[label]:.0f} s; cold start to first 200 on "
              f"/invocations: median {statistics.median(starts[label]):.2f} s ({runs})")  # fmt: skip
    size_ratio = sizes["mlflow"] / sizes["shipline"]
    start_ratio = statistics.median(starts["mlflow"]) / statistics.median(starts["shipline"])
    print(
        f"size: MLflow's image is {size_ratio:.2f}x shipline's; "
        f"cold start: MLflow takes {start_ratio:.2f}x shipline's time"
    )


if __name__ == "__main__":
    main()
