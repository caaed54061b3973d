"""The Dask executor: tasks on a ``distributed`` cluster, lost workers' tasks rerun by Dask."""

from __future__ import annotations

__all__ = ["DaskExecutor", "WorkerState", "connect", "start_local_cluster"]

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from shipline.compute.executor import ComputeError, TaskDone
from shipline.compute.worker_store import worker_store
from shipline.config.compute import LocalClusterConfig, parse_bytes

T = TypeVar("T")
_PROBE = b"shipline: can this worker see the content store?\n"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ComputeError(
            "compute: dask needs the Dask packages: pip install 'shipline[dask]'"
        ) from None
    return distributed


def connect(address: str, timeout_s: float) -> Any:
    """A client of the scheduler at ``address``."""
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ComputeError(
            f"Dask scheduler {address}: cannot connect within {timeout_s:.0f} s ({error}); "
            "is `dask scheduler` running there and the port open?"
        ) from None


def start_local_cluster(shape: LocalClusterConfig) -> tuple[Any, Any]:
    """Worker processes on this machine, and a client of them."""
    distributed = _distributed()
    limit: Any = "auto" if shape.memory_limit is None else parse_bytes(shape.memory_limit)
    cluster = distributed.LocalCluster(
        n_workers=shape.workers,
        threads_per_worker=shape.threads_per_worker,
        processes=True,
        memory_limit=limit,
        dashboard_address=None,
        host="127.0.0.1",
    )
    return cluster, distributed.Client(cluster, set_as_default=False)


@dataclass(frozen=True)
class WorkerState:
    """One worker as the scheduler sees it."""

    address: str
    name: str
    threads: int
    memory_limit: int
    memory_used: int


class DaskExecutor:
    """Runs tasks on the cluster behind ``client``."""

    remote = True

    def __init__(self, client: Any, description: str) -> None:
        self.client = client
        self.description = description

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Submit one task and wait for it."""
        future = self.client.submit(function, *args, pure=False)
        result: T = self._result(future, getattr(function, "__name__", "task"))
        return result

    def map(
        self,
        function: Callable[..., T],
        items: Sequence[Any],
        shared: Any = None,
        on_done: TaskDone | None = None,
    ) -> list[T]:
        """One task per item, ``shared`` scattered to every worker once; the first failure
        cancels the rest."""
        distributed = _distributed()
        if shared is not None:
            # In a list: a scattered dict would become a dict of futures.
            shared = self.client.scatter([shared], broadcast=True)[0]
        futures = self.client.map(function, list(items), shared=shared, pure=False)
        name = getattr(function, "__name__", "task")
        try:
            for future in distributed.as_completed(futures, loop=self.client.loop):
                result = self._result(future, name)
                if on_done is not None:
                    on_done(result)
        except BaseException:
            self.client.cancel(futures)
            raise
        return [future.result() for future in futures]

    def everywhere(self, function: Callable[..., T], *args: Any) -> dict[str, T]:
        """Run it in every worker process now connected."""
        answers: dict[str, T] = self.client.run(function, *args)
        return answers

    def workers(self) -> list[WorkerState]:
        """The workers the scheduler has now."""
        info = self.client.scheduler_info(n_workers=-1)
        return [
            WorkerState(
                address,
                str(worker.get("name", address)),
                int(worker.get("nthreads", 0)),
                int(worker.get("memory_limit", 0)),
                int(worker.get("metrics", {}).get("memory", 0)),
            )
            for address, worker in sorted(info.get("workers", {}).items())
        ]

    def check_store(self, store_url: str) -> None:
        """Fail now, naming the workers, if any of them cannot read the content store."""
        store = worker_store(store_url)
        digest = store.put_bytes(_PROBE).digest
        answers = self.everywhere(_sees_store, store_url, digest)
        blind = sorted(address for address, seen in answers.items() if seen is not True)
        if blind:
            local = "://" not in store_url
            hint = (
                "it is a local folder: give the cluster a shared store (SHIPLINE_STORE="
                "s3://bucket/prefix) or mount the folder at the same path on every worker"
                if local
                else "check the workers' credentials and endpoint for it"
            )
            raise ComputeError(
                f"content store {store_url}: Dask workers {', '.join(blind)} cannot read it "
                f"({answers[blind[0]]}); {hint}"
            )

    def _result(self, future: Any, name: str) -> Any:
        distributed = _distributed()
        try:
            return future.result()
        except distributed.KilledWorker:
            raise ComputeError(
                f"{name}: every worker that ran it died (the scheduler's allowed-failures was "
                "reached) and Dask gave up; see the workers' logs (out of memory?)"
            ) from None
        except distributed.comm.CommClosedError as error:
            raise ComputeError(f"{name}: lost the Dask scheduler ({error})") from None


def _sees_store(store_url: str, digest: str) -> bool | str:
    """Run on each worker: True when the probe object is there, else why not."""
    try:
        return worker_store(store_url).exists(digest) or f"no probe object on {os.uname()[1]}"
    except Exception as error:  # a missing driver, credentials or folder: reported, not raised
        return f"{type(error).__name__}: {error}"
