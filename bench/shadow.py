"""Shadow mirroring's cost on the stable path: the same server and load with and without a
shadow rollout running, one run, `wrk` on loopback.

The forest of `bench/serving.py` (ONNX form) is served by `shipline serve forest@production`
from two projects, both servers up and pinned to CPU 0, `wrk` on CPU 1, 1-row JSON requests,
16 connections. A: no rollout. B: version 2 in the shadow phase of a rollout with `share: 1.0`,
so every request is mirrored to the candidate (off the request path), which answers what its
time budget allows, captured. Rounds alternate A, B (BENCH_ROUNDS, 3); the medians are
compared. Target: at most 10% fewer requests per second and a p99 within 1.2x of A's. The
share of requests the shadow answered is printed beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from serving import BIN, CONFIG, DURATION, _port, _serve, _stop, _wrk

from shipline.server.shadow_mirror import SHADOW_TIME_SHARE

PLAN = """deployment:
  approval: {staging: auto, production: auto}
  rollout:
    production:
      shadow: {share: 1.0, duration: 1h}
      guardrails: {min_requests: 100}
"""


def _shipline(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(BIN / "shipline"), *args], cwd=project, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def _start(project: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = _port()
    command = [str(BIN / "shipline"), "serve", "forest@production", "--port", str(port)]
    return _serve(command, project, env, f"http://127.0.0.1:{port}/ping"), port


def _cpu_seconds(pid: int) -> float:
    """CPU time the process has used (every thread, user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(server: subprocess.Popen[bytes], port: int, body: str, work: Path) -> dict[str, float]:
    """One wrk round against the server on ``port``: its rate, its CPU time per request, and
    its shadow counters so far."""
    served_before = _served(port)
    cpu_before = _cpu_seconds(server.pid)
    result = _wrk(f"http://127.0.0.1:{port}/invocations", body, work)
    cpu = _cpu_seconds(server.pid) - cpu_before
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        metrics = answer.read().decode()
    served = _counter(metrics, "shipline_requests_total", 'status="200"')
    result["cpu_us_per_request"] = 1e6 * cpu / max(served - served_before, 1.0)
    rollout = "shipline_rollout_requests_total"
    result["shadow_ok"] = _counter(metrics, rollout, 'role="shadow"', 'outcome="ok"')
    result["shadow_dropped"] = _counter(metrics, rollout, 'role="shadow"', 'outcome="dropped"')
    result["served"] = _counter(metrics, "shipline_requests_total", 'status="200"')
    return result


def _served(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as answer:
        return _counter(answer.read().decode(), "shipline_requests_total", 'status="200"')


def _counter(metrics: str, name: str, *labels: str) -> float:
    """The sum of counter ``name`` over the series that carry every one of ``labels``."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") and all(label in line for label in labels)
    )


ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def _project(work: Path, name: str, frame: pd.DataFrame, env: dict[str, str]) -> Path:
    """A project whose forest@production is version 1."""
    project = work / name
    (project / "data").mkdir(parents=True)
    frame.to_csv(project / "data" / "forest.csv", index=False)
    (project / "shipline.yaml").write_text(CONFIG + PLAN)
    for step in (("apply",), ("run",), ("promote", "forest", "1", "--to", "production")):
        _shipline(project, env, *step)
    return project


def main() -> None:
    """Serve the same forest without and with a shadow (both servers up), alternate wrk
    rounds between them (this VM's speed drifts by 10-20% between minutes), and print the
    medians' ratios against the targets."""
    from sklearn.datasets import make_classification

    work = Path(tempfile.mkdtemp(prefix="shipline-shadow-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    processes = []
    try:
        x, y = make_classification(5000, 20, n_informative=10, random_state=0)
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).assign(y=y)
        plain = _project(work, "plain", frame, env)
        shadow = _project(work, "shadow", frame, env)
        config = shadow / "shipline.yaml"
        config.write_text(config.read_text().replace("random_state: 0", "random_state: 1"))
        for step in (("apply",), ("run",)):
            _shipline(shadow, env, *step)
        started = _shipline(shadow, env, "promote", "forest", "2", "--to", "production")
        assert "rollout 1 started" in started, started
        body = json.dumps({"instances": [np.round(x[0], 6).tolist()]})
        (plain_server, plain_port), (shadow_server, shadow_port) = (
            _start(plain, env),
            _start(shadow, env),
        )
        processes = [plain_server, shadow_server]
        rounds: list[tuple[dict[str, float], dict[str, float]]] = []
        for _ in range(ROUNDS):
            rounds.append(
                (
                    _measure(plain_server, plain_port, body, work),
                    _measure(shadow_server, shadow_port, body, work),
                )
            )
        _report(rounds)
    finally:
        for process in processes:
            _stop(process)
        shutil.rmtree(work, ignore_errors=True)


def _median(values: list[float]) -> float:
    return float(np.median(values))


def _report(rounds: list[tuple[dict[str, float], dict[str, float]]]) -> None:
    print(f"wrk {DURATION} x {len(rounds)} alternating rounds, 16 connections, 1-row JSON, "
          "each server on core 0 (ONNX form)")  # fmt: skip
    for index, (without, shadowed) in enumerate(rounds, 1):
        print(f"  round {index}: no rollout {without['rps']:6.0f} req/s p99 "
              f"{without['p99_ms']:6.2f} ms {without['cpu_us_per_request']:5.0f} us CPU/req | "
              f"shadow {shadowed['rps']:6.0f} req/s p99 {shadowed['p99_ms']:6.2f} ms "
              f"{shadowed['cpu_us_per_request']:5.0f} us CPU/req | "
              f"non-2xx {without['non_2xx'] + shadowed['non_2xx']:.0f}")  # fmt: skip
    rps, p99, cpu = (
        [_median([r[i][key] for r in rounds]) for i in (0, 1)]
        for key in ("rps", "p99_ms", "cpu_us_per_request")
    )
    last = rounds[-1][1]
    served = last["served"] or 1.0
    print(f"shadow answered {last['shadow_ok']:.0f} of {served:.0f} requests "
          f"({last['shadow_ok'] / served:.1%}), dropped {last['shadow_dropped']:.0f}: its time "
          f"budget is {SHADOW_TIME_SHARE:.0%} of the server's; a saturated server's other "
          "copies wait, then drop")  # fmt: skip
    loss = 1 - rps[1] / rps[0]
    cpu_loss = 1 - cpu[0] / cpu[1]
    ratio = p99[1] / p99[0]
    print(f"medians: {rps[0]:.0f} -> {rps[1]:.0f} req/s, throughput loss {loss:.1%} "
          f"(target <= 10%: {'met' if loss <= 0.10 else 'MISSED'}); p99 {p99[0]:.2f} -> "
          f"{p99[1]:.2f} ms, {ratio:.2f}x (target <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'})")  # fmt: skip
    print(
        f"CPU per request {cpu[0]:.0f} -> {cpu[1]:.0f} us: the capacity of a dedicated core "
        f"falls by {cpu_loss:.1%} (steady where this VM's req/s drifts between rounds)"
    )


if __name__ == "__main__":
    main()
