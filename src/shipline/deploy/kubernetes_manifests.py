"""``shipline k8s render``: plain Kubernetes manifests for a prediction server of a model alias,
the team server or the controller, and a Kustomize tree with staging and production overlays.

Every workload runs hardened: a non-root UID, read-only root filesystem (``/tmp`` is an
``emptyDir``), every capability dropped, no privilege escalation, seccomp ``RuntimeDefault``, a
ServiceAccount without a mounted API token, a NetworkPolicy that admits only the serving port.
Credentials are referenced by Secret name and key, never written: prediction servers and the
controller reach the team server with a token (remote mode), so only the team server holds the
database and bucket credentials.
"""

from __future__ import annotations

__all__ = [
    "MANIFEST_KINDS",
    "RenderOptions",
    "Workload",
    "container_security",
    "credentials",
    "kustomize_tree",
    "metadata",
    "pod_security",
    "probes",
    "render",
    "to_yaml",
]

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from shipline.errors import UsageError

# The Kubernetes API each rendered kind is validated against.
MANIFEST_KINDS = {
    "ServiceAccount": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
    "PodDisruptionBudget": "policy/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_UID = 10001


@dataclass(frozen=True)
class Workload:
    """What runs: a prediction server of ``model@alias``, the team server or the controller."""

    kind: Literal["serving", "server", "controller"]
    model: str | None = None
    alias: str | None = None

    @classmethod
    def serving(cls, reference: str) -> Workload:
        """A prediction server following ``NAME@ALIAS``."""
        name, sep, alias = reference.partition("@")
        if not sep or not name or not alias:
            raise UsageError(
                f"expected NAME@ALIAS (the alias the server follows), found {reference!r}"
            )
        return cls("serving", name, alias)

    @property
    def name(self) -> str:
        """The resources' name: a DNS label."""
        base = f"{self.model}-{self.alias}" if self.kind == "serving" else f"shipline-{self.kind}"
        label = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:63].strip("-")
        if not _DNS_LABEL.match(label):
            raise UsageError(f"{base!r} gives no valid Kubernetes name")
        return label

    @property
    def port(self) -> int | None:
        """The port it listens on (the controller listens on none)."""
        return {"serving": 8080, "server": 8000}.get(self.kind)


@dataclass(frozen=True)
class RenderOptions:
    """Choices a team makes about every workload."""

    namespace: str = "shipline"
    image: str = "shipline:latest"
    replicas: int = 2
    max_replicas: int = 10
    cpu: str = "500m"
    memory: str = "1Gi"
    # Secret holding SHIPLINE_URL and SHIPLINE_TOKEN (serving, controller) or SHIPLINE_DB,
    # SHIPLINE_STORE and the store's credentials (team server): referenced, never rendered.
    secret: str = ""
    extra_labels: dict[str, str] = field(default_factory=dict)
    # KServe only: the predictor serves the Open Inference Protocol over gRPC (KServe routes
    # one protocol to a predictor container: gRPC to its port named h2c).
    grpc: bool = False

    def __post_init__(self) -> None:
        if not _DNS_LABEL.match(self.namespace):
            raise UsageError(f"--namespace {self.namespace!r}: expected a DNS label (a-z, 0-9, -)")
        if self.replicas < 1 or self.max_replicas < self.replicas:
            raise UsageError("--replicas: expected at least 1 and no more than the maximum")


def render(workload: Workload, options: RenderOptions) -> list[dict[str, Any]]:
    """The workload's manifests, in the order they apply."""
    manifests = [_service_account(workload, options), _deployment(workload, options)]
    if workload.port is not None:
        manifests.append(_service(workload, options))
        manifests.append(_autoscaler(workload, options))
        manifests.append(_disruption_budget(workload, options))
    manifests.append(_network_policy(workload, options))
    return manifests


def to_yaml(manifests: list[dict[str, Any]]) -> str:
    """Manifests as one multi-document YAML text."""
    import yaml

    return "---\n".join(yaml.safe_dump(m, sort_keys=False) for m in manifests)


def kustomize_tree(workload: Workload, options: RenderOptions) -> dict[str, str]:
    """``base/`` (the manifests and their kustomization) and ``overlays/staging`` and
    ``overlays/production`` (namespace, replica count, an environment label), by path."""
    import yaml

    manifests = render(workload, options)
    files = {f"base/{m['kind'].lower()}.yaml": to_yaml([m]) for m in manifests}
    files["base/kustomization.yaml"] = yaml.safe_dump(
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [path.removeprefix("base/") for path in files],
        },
        sort_keys=False,
    )
    for environment, replicas in (("staging", 1), ("production", max(3, options.replicas))):
        files[f"overlays/{environment}/kustomization.yaml"] = yaml.safe_dump(
            _overlay(workload, options, environment, replicas), sort_keys=False
        )
    return files


def _overlay(
    workload: Workload, options: RenderOptions, environment: str, replicas: int
) -> dict[str, Any]:
    overlay: dict[str, Any] = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": f"{options.namespace}-{environment}",
        "resources": ["../../base"],
        "labels": [{"pairs": {"shipline.dev/environment": environment}}],
    }
    if workload.kind != "controller":  # one controller: leases make more of them idle
        overlay["replicas"] = [{"name": workload.name, "count": replicas}]
    return overlay


def _labels(workload: Workload, options: RenderOptions) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": "shipline",
        "app.kubernetes.io/component": workload.kind,
        "app.kubernetes.io/instance": workload.name,
        "app.kubernetes.io/managed-by": "shipline",
    }
    if workload.model:
        labels["shipline.dev/model"] = workload.model
    return labels | options.extra_labels


def metadata(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    """A resource's name, namespace and labels."""
    return {
        "name": workload.name,
        "namespace": options.namespace,
        "labels": _labels(workload, options),
    }


def _service_account(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(workload, options),
        "automountServiceAccountToken": False,
    }


def _selector(workload: Workload) -> dict[str, str]:
    return {"app.kubernetes.io/name": "shipline", "app.kubernetes.io/instance": workload.name}


def _deployment(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    annotations = {}
    if workload.kind == "serving":  # the prediction server's Prometheus metrics
        annotations = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(workload.port),
            "prometheus.io/path": "/metrics",
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(workload, options),
        "spec": {
            "replicas": 1 if workload.kind == "controller" else options.replicas,
            "selector": {"matchLabels": _selector(workload)},
            "template": {
                "metadata": {"labels": _labels(workload, options), "annotations": annotations},
                "spec": _pod(workload, options),
            },
        },
    }


def _pod(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    return {
        "serviceAccountName": workload.name,
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": [_container(workload, options)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def _container(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": workload.kind,
        "image": options.image,
        "command": ["shipline"],
        "args": _arguments(workload),
        "env": [{"name": "HOME", "value": "/tmp"}, *credentials(workload, options)],
        "resources": {
            "requests": {"cpu": options.cpu, "memory": options.memory},
            "limits": {"memory": options.memory},
        },
        "securityContext": container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "workingDir": "/tmp",
    }
    if workload.port is not None:
        container["ports"] = [{"name": "http", "containerPort": workload.port}]
        container |= probes(workload)
    return container


def pod_security() -> dict[str, Any]:
    """A pod's security context: a non-root UID in group 0, seccomp RuntimeDefault."""
    return {
        "runAsNonRoot": True,
        "runAsUser": _UID,
        "runAsGroup": 0,  # OpenShift's arbitrary UIDs run with group 0 too
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    """A container's: read-only root, no capability, no privilege escalation."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _arguments(workload: Workload) -> list[str]:
    if workload.kind == "serving":
        reference = f"{workload.model}@{workload.alias}"
        return ["serve", reference, "--host", "0.0.0.0", "--port", "8080"]
    if workload.kind == "server":
        return ["server", "--host", "0.0.0.0", "--port", "8000"]
    return ["controller"]


def credentials(workload: Workload, options: RenderOptions) -> list[dict[str, Any]]:
    """Environment variables read from the Secret, by key."""
    secret = options.secret or f"{workload.name}-credentials"
    if workload.kind == "server":
        keys = ["SHIPLINE_DB", "SHIPLINE_STORE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    else:
        keys = ["SHIPLINE_URL", "SHIPLINE_TOKEN"]
    return [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}} for key in keys
    ]


def probes(workload: Workload, port: int | str = "http") -> dict[str, Any]:
    """Startup, readiness and liveness probes on the ``http`` port (or ``port``)."""
    if workload.kind == "serving":
        ready, live = "/v2/health/ready", "/v2/health/live"
    else:
        ready = live = "/api/v1/health"

    def probe(path: str, period: int) -> dict[str, Any]:
        return {"httpGet": {"path": path, "port": port}, "periodSeconds": period}

    return {
        "startupProbe": probe(ready, 2) | {"failureThreshold": 90},  # loading a model
        "readinessProbe": probe(ready, 5),
        "livenessProbe": probe(live, 10),
    }


def _service(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(workload, options),
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(workload),
            "ports": [{"name": "http", "port": workload.port, "targetPort": "http"}],
        },
    }


def _autoscaler(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(workload, options),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": workload.name,
            },
            "minReplicas": options.replicas,
            "maxReplicas": options.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def _disruption_budget(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(workload, options),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _selector(workload)}},
    }


def _network_policy(workload: Workload, options: RenderOptions) -> dict[str, Any]:
    """Deny every inbound connection but the serving port (the controller: all of them)."""
    ingress = [] if workload.port is None else [{"ports": [{"port": workload.port}]}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(workload, options),
        "spec": {
            "podSelector": {"matchLabels": _selector(workload)},
            "policyTypes": ["Ingress"],
            "ingress": ingress,
        },
    }
