"""What a project renders to run on Kubernetes (a part of ``Project``)."""

from __future__ import annotations

__all__ = ["DeployOperations"]

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shipline.deploy.kubernetes_manifests import RenderOptions, Workload
    from shipline.registry import ModelVersion


class _Opened(Protocol):
    def version(self, ref: str) -> ModelVersion:
        """A version by reference."""
        ...


class DeployOperations:
    """Kubernetes manifests for a project's workloads."""

    def kubernetes_manifests(
        self: _Opened, workload: Workload, options: RenderOptions
    ) -> list[dict[str, Any]]:
        """The workload's manifests; a prediction server's alias must point at a version."""
        from shipline.deploy.kubernetes_manifests import render

        _require_version(self, workload)
        return render(workload, options)

    def write_kustomize(
        self: _Opened, workload: Workload, options: RenderOptions, folder: Path
    ) -> list[Path]:
        """``base/`` and ``overlays/{staging,production}/`` under ``folder``; the files written."""
        from shipline.artifacts.local_file import write_atomically
        from shipline.deploy.kubernetes_manifests import kustomize_tree

        _require_version(self, workload)
        written = []
        for relative, text in kustomize_tree(workload, options).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, text.encode())
            written.append(path)
        return written

    def dask_cluster_manifest(
        self, options: RenderOptions, workers: int, worker_memory: str
    ) -> dict[str, Any]:
        """A DaskCluster resource for the Dask operator, shipline's image on every pod."""
        from shipline.config.compute import parse_bytes
        from shipline.deploy.dask_cluster import dask_cluster
        from shipline.errors import UsageError

        try:
            parse_bytes(worker_memory)
        except ValueError as error:
            raise UsageError(f"--worker-memory: {error}") from None
        return dask_cluster(options, workers, worker_memory)


def _require_version(project: _Opened, workload: Workload) -> None:
    """A prediction server's alias must point at a version (NotFoundError naming it)."""
    if workload.kind == "serving":
        project.version(f"{workload.model}@{workload.alias}")
