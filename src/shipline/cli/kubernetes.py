"""``shipline k8s``: Kubernetes manifests for a prediction server, the team server or the
controller."""

from __future__ import annotations

__all__ = ["app"]

from pathlib import Path
from typing import Annotated

import typer

from shipline.errors import UsageError
from shipline.project import Project

app = typer.Typer(help="Run shipline on Kubernetes.", no_args_is_help=True)


@app.command("render")
def render(
    ctx: typer.Context,
    target: Annotated[
        str | None, typer.Argument(help="NAME@ALIAS: a prediction server following the alias.")
    ] = None,
    server: Annotated[bool, typer.Option("--server", help="The team server.")] = False,
    controller: Annotated[bool, typer.Option("--controller", help="The controller.")] = False,
    dask_cluster: Annotated[
        bool,
        typer.Option("--dask-cluster", help="A DaskCluster for the Dask Kubernetes operator."),
    ] = False,
    kserve: Annotated[
        bool,
        typer.Option("--kserve", help="With NAME@ALIAS: a KServe InferenceService instead."),
    ] = False,
    grpc: Annotated[
        bool,
        typer.Option(
            "--grpc",
            help="With --kserve: the predictor serves the Open Inference Protocol over gRPC.",
        ),
    ] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Dask workers.")] = 2,
    worker_memory: Annotated[
        str, typer.Option("--worker-memory", help="Each Dask worker's memory limit.")
    ] = "4GiB",
    namespace: Annotated[str, typer.Option("--namespace", "-n")] = "shipline",
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="The image to run (default shipline:latest; with --kserve, the tag "
            "`shipline build` gives the version).",
        ),
    ] = None,
    replicas: Annotated[int, typer.Option("--replicas", min=1)] = 2,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="The Secret the credentials are read from (by key)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write base/ and overlays/ (Kustomize) here, not stdout."),
    ] = None,
) -> None:
    """Deployment, Service, autoscaler, disruption budget, network policy and service
    account, hardened; with --out, a Kustomize base and staging/production overlays. Or a
    KServe InferenceService running the version's image (--kserve), or a DaskCluster for the
    Dask operator (--dask-cluster)."""
    from shipline.deploy.kubernetes_manifests import RenderOptions, Workload, to_yaml

    chosen = [c for c in (target is not None, server, controller, dask_cluster) if c]
    if len(chosen) != 1:
        raise UsageError("give one of NAME@ALIAS, --server, --controller or --dask-cluster")
    if grpc and not kserve:
        raise UsageError(
            "--grpc is for --kserve (a prediction server serves gRPC with --grpc-port)"
        )
    options = RenderOptions(
        namespace, image or "shipline:latest", replicas, secret=secret or "", grpc=grpc
    )
    project: Project = ctx.obj
    if dask_cluster:
        manifest = project.dask_cluster_manifest(options, workers, worker_memory)
        typer.echo(to_yaml([manifest]), nl=False)
        return
    workload = (
        Workload.serving(target)
        if target is not None
        else Workload("server" if server else "controller")
    )
    if kserve:
        if out is not None:
            raise UsageError("--kserve writes to stdout; --out is for the Kustomize tree")
        typer.echo(to_yaml(project.kserve_manifests(workload, options, image)), nl=False)
        return
    if out is None:
        typer.echo(to_yaml(project.kubernetes_manifests(workload, options)), nl=False)
        return
    written = project.write_kustomize(workload, options, out)
    typer.echo(
        f"wrote {len(written)} files under {out} (base/, overlays/staging, overlays/production)"
    )
