"""Shadow mirroring's cost on the stable path: the same server and load with and without a
shadow rollout running, one run, `wrk` on loopback.

The forest of `bench/serving.py` (ONNX form) is served by `shipline serve forest@production`
pinned to CPU 0, `wrk` on CPU 1, 1-row JSON requests, 16 connections. Run A: no rollout. Run
B: version 2 in the shadow phase of a rollout with `share: 1.0`, so every request is also
predicted by the candidate (off the request path) and captured. Target: at most 10% fewer
requests per second and a p99 within 1.2x of run A's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from serving import BIN, CONFIG, DURATION, _port, _serve, _stop, _wrk

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


def _measure(project: Path, env: dict[str, str], body: str, work: Path) -> dict[str, float]:
    port = _port()
    process = _serve(
        [str(BIN / "shipline"), "serve", "forest@production", "--port", str(port)],
        project,
        env,
        f"http://127.0.0.1:{port}/ping",
    )
    try:
        return _wrk(f"http://127.0.0.1:{port}/invocations", body, work)
    finally:
        _stop(process)


def main() -> None:
    """Measure without and with a shadow running, and print the ratios against the targets."""
    from sklearn.datasets import make_classification

    work = Path(tempfile.mkdtemp(prefix="shipline-shadow-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    try:
        x, y = make_classification(5000, 20, n_informative=10, random_state=0)
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)]).assign(y=y)
        project = work / "forest"
        (project / "data").mkdir(parents=True)
        frame.to_csv(project / "data" / "forest.csv", index=False)
        config = project / "shipline.yaml"
        config.write_text(CONFIG + PLAN)
        for step in (("apply",), ("run",), ("promote", "forest", "1", "--to", "production")):
            _shipline(project, env, *step)
        body = json.dumps({"instances": [np.round(x[0], 6).tolist()]})
        without = _measure(project, env, body, work)
        config.write_text(config.read_text().replace("random_state: 0", "random_state: 1"))
        for step in (("apply",), ("run",)):
            _shipline(project, env, *step)
        started = _shipline(project, env, "promote", "forest", "2", "--to", "production")
        assert "rollout 1 started" in started, started
        shadowed = _measure(project, env, body, work)
        _report(without, shadowed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _report(without: dict[str, float], shadowed: dict[str, float]) -> None:
    print(f"wrk {DURATION}, 16 connections, 1-row JSON, server on 1 core (ONNX form)")
    for label, r in (("no rollout", without), ("shadow share 1.0", shadowed)):
        print(f"{label:18s} {r['rps']:9.0f} req/s  p99 {r['p99_ms']:7.2f} ms  "
              f"non-2xx {r['non_2xx']:.0f}")  # fmt: skip
    loss = 1 - shadowed["rps"] / without["rps"]
    ratio = shadowed["p99_ms"] / without["p99_ms"]
    print(f"throughput loss {loss:.1%} (target <= 10%: {'met' if loss <= 0.10 else 'MISSED'}); "
          f"p99 {ratio:.2f}x (target <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'})")  # fmt: skip


if __name__ == "__main__":
    main()
