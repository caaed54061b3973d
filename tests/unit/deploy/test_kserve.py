"""The KServe InferenceService for a built image: its pod parts strictly valid as a Kubernetes
PodSpec, hardened, V2 probes, credentials by reference, equal to its golden file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from shipline.deploy.kserve import KSERVE_API, kserve_manifests
from shipline.deploy.kubernetes_manifests import RenderOptions, Workload, to_yaml

GOLDEN = Path(__file__).parent / "golden" / "kserve.yaml"
KUBERNETES = "1.37.0"
OPTIONS = RenderOptions(namespace="ml", image="registry.example/shipline-cancer:v3")


def _rendered() -> dict[str, dict[str, Any]]:
    return {m["kind"]: m for m in kserve_manifests(Workload.serving("cancer@production"), OPTIONS)}


def test_the_inference_service_runs_the_image_with_the_v2_probes() -> None:
    manifests = kserve_manifests(Workload.serving("cancer@production"), OPTIONS)
    assert to_yaml(manifests) == GOLDEN.read_text(), f"{GOLDEN} differs from the render"
    service = _rendered()["InferenceService"]
    assert service["apiVersion"] == KSERVE_API
    annotations = service["metadata"]["annotations"]
    assert annotations["serving.kserve.io/deploymentMode"] == "RawDeployment"
    predictor = service["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 10)
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container" and container["args"] == ["serve"]
    assert container["image"] == OPTIONS.image
    assert container["ports"][0]["containerPort"] == 8080
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert predictor["securityContext"]["runAsNonRoot"] is True
    secrets = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e
    }
    assert set(secrets) == {"SHIPLINE_URL", "SHIPLINE_TOKEN"}
    assert "value" not in str(secrets)


def test_its_pod_and_the_other_manifests_validate_strictly() -> None:
    rendered = _rendered()
    for kind in ("ServiceAccount", "NetworkPolicy"):
        kubernetes_validate.validate(rendered[kind], KUBERNETES, strict=True)
    # KServe's predictor spec is a PodSpec plus its own scaling fields: the pod is checked as one.
    predictor = dict(rendered["InferenceService"]["spec"]["predictor"])
    for field in ("minReplicas", "maxReplicas"):
        predictor.pop(field)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": predictor}
    kubernetes_validate.validate(pod, KUBERNETES, strict=True)
    predictor["containers"][0]["ports"] = [{"containerPort": "8080"}]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES, strict=True)
    policy = rendered["NetworkPolicy"]["spec"]
    assert policy["ingress"] == [{"ports": [{"port": 8080}]}]
    assert policy["podSelector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": "cancer-production"
    }


def test_a_grpc_predictor_declares_h2c_and_serves_it() -> None:
    options = RenderOptions(namespace="ml", image="registry.example/shipline-cancer:v3", grpc=True)
    rendered = {
        m["kind"]: m for m in kserve_manifests(Workload.serving("cancer@production"), options)
    }
    predictor = dict(rendered["InferenceService"]["spec"]["predictor"])
    (container,) = predictor["containers"]
    assert container["ports"] == [{"name": "h2c", "containerPort": 8081, "protocol": "TCP"}]
    assert {"name": "SHIPLINE_GRPC_PORT", "value": "8081"} in container["env"]
    # The probes stay on HTTP, which the container serves beside gRPC.
    assert container["readinessProbe"]["httpGet"]["port"] == 8080
    policy = rendered["NetworkPolicy"]["spec"]["ingress"][0]["ports"]
    assert policy == [{"port": 8080}, {"port": 8081}]
    for field in ("minReplicas", "maxReplicas"):
        predictor.pop(field)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": predictor}
    kubernetes_validate.validate(pod, KUBERNETES, strict=True)
    kubernetes_validate.validate(rendered["NetworkPolicy"], KUBERNETES, strict=True)
