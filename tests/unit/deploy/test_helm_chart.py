"""The Helm chart in charts/shipline: `helm lint` clean (Helm's own linter, through the Helm
SDK's C binding, as no `helm` binary installs here), every rendered manifest strictly valid,
the same pods as `shipline k8s render`, no Secret written, bad values refused by the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from shipline import __version__
from shipline.deploy.dask_cluster import dask_cluster
from shipline.deploy.kubernetes_manifests import RenderOptions, Workload, render, to_yaml
from tests.unit.deploy.test_kubernetes_manifests import _QUANTITY, _quantities

CHART = Path(__file__).parents[3] / "charts" / "shipline"
GOLDEN = Path(__file__).parent / "golden" / "helm-default.yaml"
KUBERNETES = "1.37.0"
EVERYTHING = {
    "models": [
        {"name": "cancer", "alias": "production"},
        {"name": "Fraud_2", "alias": "staging", "replicas": 1, "existingSecret": "fraud-token"},
    ],
    "daskCluster": {"enabled": True, "workers": 3},
}


def _render(values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(CHART) as chart:
        files = chart.render(values, name="shipline", namespace="ml")
    return [
        manifest
        for path, text in sorted(files.items())
        if path.endswith(".yaml")
        for manifest in yaml.safe_load_all(text)
        if manifest
    ]


def test_helm_lint_finds_nothing_to_fix() -> None:
    report = helm.lint(CHART, EVERYTHING, strict=True, kube_version="v1.30.0")
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_the_chart_is_versioned_with_shipline() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == __version__ and chart["version"]


def test_the_default_render_validates_strictly_and_equals_its_golden_file() -> None:
    manifests = _render({})
    for manifest in manifests:
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
    assert all(_QUANTITY.fullmatch(q) for q in _quantities(manifests))
    assert to_yaml(manifests) == GOLDEN.read_text(), f"{GOLDEN} differs from the render"
    assert {m["metadata"]["name"] for m in manifests} == {"shipline-server", "shipline-controller"}


def test_every_template_renders_the_pods_shipline_k8s_render_writes() -> None:
    manifests = _render(EVERYTHING)
    assert "Secret" not in {m["kind"] for m in manifests}  # credentials by reference only
    pods = {
        m["metadata"]["name"]: m["spec"]["template"]["spec"]
        for m in manifests
        if m["kind"] == "Deployment"
    }
    assert set(pods) == {"shipline-server", "shipline-controller", "cancer-production",
                         "fraud-2-staging"}  # fmt: skip
    options = RenderOptions(namespace="ml", image=f"shipline:{__version__}")
    expected = {
        "cancer-production": (Workload.serving("cancer@production"), options),
        "fraud-2-staging": (Workload.serving("Fraud_2@staging"), _with(options, "fraud-token")),
        "shipline-server": (Workload("server"), options),
        "shipline-controller": (Workload("controller"), options),
    }
    for name, (workload, chosen) in expected.items():
        deployment = next(m for m in render(workload, chosen) if m["kind"] == "Deployment")
        (container,) = pods[name]["containers"]
        assert container.pop("imagePullPolicy") == "IfNotPresent"
        assert pods[name] == deployment["spec"]["template"]["spec"], name
    for manifest in manifests:
        if manifest["kind"] == "DaskCluster":
            assert manifest["spec"] == dask_cluster(options, 3, "4GiB")["spec"]
            for role in ("worker", "scheduler"):
                pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": role},
                       "spec": manifest["spec"][role]["spec"]}  # fmt: skip
                kubernetes_validate.validate(pod, KUBERNETES, strict=True)
        else:
            kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
    assert all(_QUANTITY.fullmatch(q) for q in _quantities(manifests))


def _with(options: RenderOptions, secret: str) -> RenderOptions:
    from dataclasses import replace

    return replace(options, secret=secret, replicas=1)


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"models": [{"name": "cancer"}]}, "alias"),
        ({"models": [{"name": "no spaces", "alias": "production"}]}, "name"),
        ({"server": {"replicas": "two"}}, "replicas"),
        ({"daskCluster": {"enabled": True, "workerMemory": "4GiB"}}, "workerMemory"),
        ({"server": {"existingSecret": "Bad_Name"}}, "existingSecret"),
        ({"controller": {"password": "hunter2"}}, "password"),
    ],
)
def test_bad_values_are_refused_naming_the_key(values: dict[str, Any], named: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError, match=named):
        chart.render(values, name="shipline", namespace="ml")
