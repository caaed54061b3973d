"""A ``DaskCluster`` resource for the Dask Kubernetes operator (``kubernetes.dask.org/v1``):
the cluster ``compute: {dask: {address: …}}`` points at, run with shipline's image and the same
hardening as shipline's own workloads."""

from __future__ import annotations

__all__ = ["SCHEDULER_PORT", "dask_cluster"]

from typing import Any

from shipline.config.compute import parse_bytes
from shipline.deploy.kubernetes_manifests import RenderOptions, container_security, pod_security

SCHEDULER_PORT = 8786
_STORE_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL")


def dask_cluster(options: RenderOptions, workers: int, worker_memory: str) -> dict[str, Any]:
    """The resource: ``workers`` one-thread workers with ``worker_memory`` each (their Dask
    memory limit and their container's), a scheduler behind a ClusterIP service."""
    # In Kubernetes' own unit ("4GiB" is no Kubernetes quantity); Dask reads it too.
    worker_memory = f"{parse_bytes(worker_memory) // 2**20}Mi"
    name = "shipline-dask"
    secret = options.secret or f"{name}-credentials"
    # Workers read and write the content store: its credentials, by reference.
    env = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}}}
        for key in _STORE_KEYS
    ]
    worker = _container(
        "worker",
        options.image,
        [
            "dask",
            "worker",
            "--name",
            "$(DASK_WORKER_NAME)",
            "--nthreads",
            "1",
            "--memory-limit",
            worker_memory,
            "--local-directory",
            "/tmp",
        ],
        worker_memory,
        [{"name": "HOME", "value": "/tmp"}, *env],
    )
    scheduler = _container(
        "scheduler",
        options.image,
        ["dask", "scheduler"],
        options.memory,
        [{"name": "HOME", "value": "/tmp"}],
    )
    scheduler["ports"] = [{"name": "tcp-comm", "containerPort": SCHEDULER_PORT}]
    return {
        "apiVersion": "kubernetes.dask.org/v1",
        "kind": "DaskCluster",
        "metadata": {"name": name, "namespace": options.namespace},
        "spec": {
            "worker": {"replicas": workers, "spec": _pod(worker)},
            "scheduler": {
                "spec": _pod(scheduler),
                "service": {
                    "type": "ClusterIP",
                    "selector": {
                        "dask.org/cluster-name": name,
                        "dask.org/component": "scheduler",
                    },
                    "ports": [
                        {"name": "tcp-comm", "port": SCHEDULER_PORT, "targetPort": "tcp-comm"}
                    ],
                },
            },
        },
    }


def _container(
    name: str, image: str, args: list[str], memory: str, env: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": args,
        "env": env,
        "resources": {"requests": {"memory": memory}, "limits": {"memory": memory}},
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _pod(container: dict[str, Any]) -> dict[str, Any]:
    return {
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
