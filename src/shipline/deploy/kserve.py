"""``shipline k8s render NAME@ALIAS --kserve``: a KServe ``InferenceService`` running the image
``shipline build`` made for that version, in KServe's Kubernetes (raw) deployment mode.

The image speaks the Open Inference Protocol (V2) on port 8080, which is what KServe routes to
a custom predictor container; its readiness and liveness come from ``/v2/health/*``. With
``--grpc`` the container also serves the protocol over gRPC on 8081 and declares that port as
``h2c``, the name KServe routes gRPC to (probes stay on HTTP 8080). The pod
runs hardened like every other workload; captured requests go to the team server through the
Secret's ``SHIPLINE_URL`` and ``SHIPLINE_TOKEN`` (referenced, never written).
"""

from __future__ import annotations

__all__ = ["GRPC_PORT_VARIABLE", "KSERVE_API", "inference_service", "kserve_manifests"]

from typing import Any

from shipline.deploy.kubernetes_manifests import (
    RenderOptions,
    Workload,
    container_security,
    credentials,
    metadata,
    pod_security,
    probes,
)

KSERVE_API = "serving.kserve.io/v1beta1"
_HOME = "/var/lib/shipline"
_HTTP_PORT, _GRPC_PORT = 8080, 8081
GRPC_PORT_VARIABLE = "SHIPLINE_GRPC_PORT"  # read by the image (``server/container.py``)


def kserve_manifests(workload: Workload, options: RenderOptions) -> list[dict[str, Any]]:
    """The predictor's ServiceAccount (no token), the InferenceService, and a NetworkPolicy
    admitting only the serving port to its pods."""
    account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(workload, options),
        "automountServiceAccountToken": False,
    }
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(workload, options),
        "spec": {
            "podSelector": {"matchLabels": {"serving.kserve.io/inferenceservice": workload.name}},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": port} for port in _ports(options)]}],
        },
    }
    return [account, inference_service(workload, options), policy]


def inference_service(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    """An InferenceService whose predictor is the version's image (``options.image``)."""
    meta = metadata(workload, options)
    meta["annotations"] = {
        "serving.kserve.io/deploymentMode": "RawDeployment",
        "serving.kserve.io/autoscalerClass": "hpa",
        "serving.kserve.io/metric": "cpu",
        "serving.kserve.io/targetUtilizationPercentage": "70",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "8080",
        "prometheus.io/path": "/metrics",
    }
    return {
        "apiVersion": KSERVE_API,
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": _predictor(workload, options)},
    }


def _predictor(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    container = {
        "name": "kserve-container",  # the name KServe gives its predictor container
        "image": options.image,
        "args": ["serve"],
        "ports": [
            {"name": "h2c", "containerPort": _GRPC_PORT, "protocol": "TCP"}
            if options.grpc
            else {"name": "http", "containerPort": _HTTP_PORT, "protocol": "TCP"}
        ],
        "env": [
            {"name": "SHIPLINE_HOME", "value": _HOME},
            *([{"name": GRPC_PORT_VARIABLE, "value": str(_GRPC_PORT)}] if options.grpc else []),
            *credentials(workload, options),
        ],
        "resources": {
            "requests": {"cpu": options.cpu, "memory": options.memory},
            "limits": {"memory": options.memory},
        },
        "securityContext": container_security(),
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "home", "mountPath": _HOME},
        ],
        # A gRPC predictor declares only its h2c port; HTTP is still served, probed by number.
        **probes(workload, _HTTP_PORT if options.grpc else "http"),
    }
    return {
        "minReplicas": options.replicas,
        "maxReplicas": options.max_replicas,
        "serviceAccountName": workload.name,
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "home", "emptyDir": {}}],
    }


def _ports(options: RenderOptions) -> list[int]:
    """The ports the predictor's pods admit: HTTP (probes, metrics), and gRPC when served."""
    return [_HTTP_PORT, _GRPC_PORT] if options.grpc else [_HTTP_PORT]
