"""Open the configured compute for one command: this process, a running Dask scheduler, or a
Dask cluster of worker processes started here and stopped afterwards."""

from __future__ import annotations

__all__ = ["ComputeTarget", "compute_target", "open_executor"]

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shipline.compute.executor import Executor, InProcess
from shipline.config.compute import ComputeConfig, LocalClusterConfig
from shipline.errors import ConfigError, Problem

# A scheduler that does not answer within this is reported, not waited on for ever.
CONNECT_TIMEOUT_S = 30


@dataclass(frozen=True)
class ComputeTarget:
    """Where work goes: an address, a local cluster's shape, or neither (this process)."""

    address: str | None = None
    local: LocalClusterConfig | None = None

    @property
    def in_process(self) -> bool:
        """No cluster at all."""
        return self.address is None and self.local is None


def compute_target(config: ComputeConfig, dask_override: str = "") -> ComputeTarget:
    """The compute this command uses: ``SHIPLINE_DASK`` (an address, or ``local`` for this
    process) wins over the ``compute:`` section, so one file runs on a laptop and a cluster."""
    override = dask_override.strip()
    if override == "local":
        return ComputeTarget()
    if override:
        try:
            address = ComputeConfig.model_validate({"dask": {"address": override}}).dask
        except ValueError:
            raise ConfigError(
                "SHIPLINE_DASK",
                [
                    Problem(
                        "",
                        f"expected 'local' or a scheduler address such as "
                        f"tcp://10.0.0.5:8786, found {override!r}",
                    )
                ],
            ) from None
        assert address is not None
        return ComputeTarget(address=address.address)
    if config.dask is None:
        return ComputeTarget()
    return ComputeTarget(config.dask.address, config.dask.local)


@contextmanager
def open_executor(target: ComputeTarget, store_url: str | None = None) -> Iterator[Executor]:
    """The executor for ``target``, open for the duration of the block.

    With ``store_url`` every worker is first asked to find a probe object in the content
    store: a store the workers cannot see fails here, with the reason, not in the middle of a
    run.
    """
    if target.in_process:
        yield InProcess()
        return
    from shipline.compute.dask_executor import DaskExecutor, connect, start_local_cluster

    cluster = None
    if target.address is not None:
        client = connect(target.address, CONNECT_TIMEOUT_S)
        description = f"dask {target.address}"
    else:
        assert target.local is not None
        cluster, client = start_local_cluster(target.local)
        description = f"dask local cluster ({target.local.workers} workers)"
    try:
        executor = DaskExecutor(client, description)
        if store_url is not None:
            executor.check_store(store_url)
        yield executor
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
