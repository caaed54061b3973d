"""A real Dask cluster for tests: `dask scheduler` and `dask worker` processes on loopback,
started with the environment the workers need (the S3 endpoint and keys), stopped after."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.services import free_port

_DASK = str(Path(sys.executable).parent / "dask")
STARTUP_DEADLINE_S = 180


@dataclass
class DaskCluster:
    """A scheduler, its workers, and where their logs go."""

    address: str
    env: dict[str, str]
    logs: Path
    memory_limit: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @contextmanager
    def client(self) -> Iterator[Any]:
        """A client of the scheduler."""
        from shipline.compute.dask_executor import connect

        client = connect(self.address, 60)
        try:
            yield client
        finally:
            client.close()

    def wait_for_workers(self, count: int) -> None:
        """Until ``count`` workers are connected (a killed one is restarted by its nanny)."""
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        with self.client() as client:
            while len(client.scheduler_info(n_workers=-1)["workers"]) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Dask workers did not connect; logs in {self.logs}")
                time.sleep(0.2)  # poll interval

    def statuses(self) -> dict[str, str]:
        """Each worker's status (``running``, or ``paused`` when near its memory limit)."""
        with self.client() as client:
            workers = client.scheduler_info(n_workers=-1)["workers"]
            return {address: str(worker.get("status", "")) for address, worker in workers.items()}

    def peak_memory(self) -> dict[str, int]:
        """Each worker process's peak resident memory (VmHWM), in bytes."""
        import cloudpickle

        # The workers cannot import the test package: the function travels by value.
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        with self.client() as client:
            answers: dict[str, int] = client.run(_peak_resident_bytes)
            return answers

    def stop(self) -> None:
        """Stop every process (workers first) and wait for them."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _peak_resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def start_dask_cluster(
    env: dict[str, str], logs: Path, workers: int = 2, memory_limit: str = "1GiB"
) -> DaskCluster:
    """A scheduler and ``workers`` one-thread workers (each under a nanny) on loopback."""
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cluster = DaskCluster(f"tcp://127.0.0.1:{port}", env, logs, memory_limit)
    scheduler = [_DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port)]
    cluster.processes.append(_spawn([*scheduler, "--no-dashboard"], env, logs / "scheduler.log"))
    try:
        for index in range(workers):
            command = [
                _DASK, "worker", cluster.address, "--host", "127.0.0.1", "--nthreads", "1",
                "--nworkers", "1", "--memory-limit", memory_limit, "--no-dashboard",
                "--name", f"worker-{index}",
            ]  # fmt: skip
            cluster.processes.append(_spawn(command, env, logs / f"worker-{index}.log"))
        cluster.wait_for_workers(workers)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, cwd=log.parent
        )


def worker_env(**extra: str) -> dict[str, str]:
    """This process's environment without shipline or AWS settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPLINE_", "AWS_"))}
    env.update(extra)
    return env
