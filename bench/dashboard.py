"""Dashboard pages at scale: with 10,000 runs and a model with 1,000 versions (the data of
`bench/api.py`), how long the runs and model pages take to answer, one request at a time over
loopback, the server alone on CPU 0. Target: under 300 ms each.
Run after bench/api.py with the same folder: BENCH_WORK=<its folder> python bench/dashboard.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from serving import _port, _stop, _wait

BIN = Path(sys.executable).parent
ROUNDS = 30
PAGES = ("/runs", "/runs?model=churn&status=succeeded", "/models/churn", "/", "/approvals")


def main() -> None:
    """Sign in once, then time each page ROUNDS times."""
    import httpx

    work = Path(os.environ["BENCH_WORK"])
    seeded = json.loads((work / "seeded.json").read_text())
    port = _port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPLINE_")}
    server = subprocess.Popen(
        ["taskset", "-c", "0", str(BIN / "shipline"), "server", "--port", str(port)],
        cwd=work,
        env={**env, "SHIPLINE_DB": seeded["ours"], "SHIPLINE_STORE": str(work / "store")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{base}/api/v1/health")
        with httpx.Client(base_url=base, timeout=60) as client:
            client.post("/sign-in", data={"token": seeded["token"], "next": "/"})
            print("| page | median | p95 | max | size | target < 300 ms |")
            print("| --- | --- | --- | --- | --- | --- |")
            for path in PAGES:
                client.get(path)
                times = []
                for _ in range(ROUNDS):
                    start = time.perf_counter()
                    answer = client.get(path)
                    times.append((time.perf_counter() - start) * 1000)
                    assert answer.status_code == 200, (path, answer.status_code)
                times.sort()
                p95 = times[int(len(times) * 0.95) - 1]
                verdict = "met" if p95 < 300 else "MISSED"
                print(
                    f"| `{path}` | {statistics.median(times):.0f} ms | {p95:.0f} ms | "
                    f"{times[-1]:.0f} ms | {len(answer.content) // 1024} KiB | {verdict} |"
                )
    finally:
        _stop(server)


if __name__ == "__main__":
    main()
