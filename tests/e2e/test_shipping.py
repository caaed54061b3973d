"""Shipping a model: signed versions (OpenSSF model signing) signed at registration with the
team's key, `models verify` with its public key, SHIPLINE_REQUIRE_SIGNED=1 (an unsigned version
is neither served nor scored, a running server keeps its signed version), and `k8s render`."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from shipline.project import Project
from shipline.registry.version_signing import SignatureError, verify_version
from shipline.scaffold import create_project
from tests.served import shipline_env, start_server
from tests.team import key_pair, shipline


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    team, team_public = key_pair(folder, "team")
    _, other_public = key_pair(folder, "other")
    return {"team": team, "team.pub": team_public, "other.pub": other_public}


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Path:
    """The example project, its first version registered with the team's signing key."""
    folder = tmp_path_factory.mktemp("signed") / "cancer"
    create_project(folder, "classification")
    env = {**shipline_env(), "SHIPLINE_SIGNING_KEY": str(keys["team"])}
    done = shipline("run", env=env, cwd=folder)
    assert done.returncode == 0 and "registered cancer:1" in done.stdout, done.stderr
    return folder


def test_a_version_is_signed_at_registration_and_verifies(
    signed: Path, keys: dict[str, Path]
) -> None:
    plain = shipline_env()
    shown = json.loads(
        shipline("models", "show", "cancer:1", "--json", env=plain, cwd=signed).stdout
    )
    # The native bundle and its verified ONNX form are the version's two files.
    onnx = shown["serving_forms"]["onnx"]
    assert onnx["available"] is True, onnx
    assert shown["signed"]["files"] == {
        "model.joblib": shown["bundle_digest"],
        "model.onnx": onnx["digest"],
    }
    described = shipline("models", "show", "cancer:1", env=plain, cwd=signed).stdout
    assert f"signed: key {shown['signed']['key_id']} over model.joblib, model.onnx" in described
    env = {**shipline_env(), "SHIPLINE_VERIFY_KEY": str(keys["team.pub"])}
    ok = shipline("models", "verify", "cancer:1", env=env, cwd=signed)
    assert ok.returncode == 0, ok.stderr
    held = f"cancer:1: signature holds (model.joblib, model.onnx; key {shown['signed']['key_id']})"
    assert held in ok.stdout
    other = shipline(
        "models", "verify", "cancer:1", "--key", str(keys["other.pub"]), env=plain, cwd=signed
    )
    assert other.returncode == 1 and "Key mismatch" in other.stderr


class _FlippingReader:
    """A store that hands out the bundle with one byte flipped (as if the bytes and their
    recorded digest had both been replaced)."""

    def __init__(self, inner: object, digest: str) -> None:
        self.inner, self.digest = inner, digest

    def read_bytes(self, digest: str) -> bytes:
        data = bytearray(self.inner.read_bytes(digest))  # type: ignore[attr-defined]
        if digest == self.digest:
            data[len(data) // 2] ^= 0x01
        return bytes(data)


def test_one_flipped_byte_fails_the_signature(
    signed: Path, keys: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in shipline_env().items():
        monkeypatch.setenv(name, value)
    with Project.open(signed) as project:
        version = project.version("cancer:1")
        flipping = _FlippingReader(project.store(), version.bundle_digest)
        with pytest.raises(SignatureError, match=r"Hash mismatch for 'model\.joblib'"):
            verify_version(flipping, version, keys["team.pub"])
        assert verify_version(project.store(), version, keys["team.pub"]).files


def test_required_signatures_refuse_an_unsigned_version_and_keep_serving(
    signed: Path, keys: dict[str, Path]
) -> None:
    strict = {
        **shipline_env(),
        "SHIPLINE_REQUIRE_SIGNED": "1",
        "SHIPLINE_VERIFY_KEY": str(keys["team.pub"]),
    }
    server = start_server(signed, "cancer@staging", env=strict)
    try:
        # Version 2, registered without the key, is staged: the server must not take it.
        config = signed / "shipline.yaml"
        config.write_text(config.read_text().replace("max_iter: 200", "max_iter: 150"))
        done = shipline("run", env=shipline_env(), cwd=signed)
        assert "registered cancer:2" in done.stdout, done.stderr
        log = next(signed.glob("serve-*.log"))
        deadline = time.monotonic() + 120
        while "cancer:2 is not signed" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)  # poll interval
        frame = pd.read_csv(signed / "data" / "breast_cancer.csv").drop(
            columns=["benign", "sample_id"]
        )
        row = {"columns": list(frame.columns), "data": [frame.iloc[0].tolist()]}
        answer = httpx.post(f"{server.url}/invocations", json={"dataframe_split": row})
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-model-version"] == "cancer:1", answer.text
    finally:
        assert server.stop() == 0
    assert log.read_text().count("cancer:2 is not signed") == 1  # refused once, not every poll
    unsigned = shipline("models", "verify", "cancer:2", env=strict, cwd=signed)
    assert unsigned.returncode == 1 and "cancer:2 is not signed" in unsigned.stderr
    data = signed / "data" / "breast_cancer.csv"
    scored = shipline("predict", "cancer@staging", "--input", str(data), "--output",
                      str(signed / "out.csv"), env=strict, cwd=signed)  # fmt: skip
    assert scored.returncode == 1 and "is not signed" in scored.stderr
    assert not (signed / "out.csv").exists()
    missing_key = {**shipline_env(), "SHIPLINE_REQUIRE_SIGNED": "1"}
    refused = shipline("predict", "cancer:1", "--input", str(data), "--output",
                       str(signed / "out.csv"), env=missing_key, cwd=signed)  # fmt: skip
    assert refused.returncode == 2 and "SHIPLINE_VERIFY_KEY" in refused.stderr


def test_kubernetes_manifests_for_the_signed_project(signed: Path, tmp_path: Path) -> None:
    plain = shipline_env()
    shown = shipline("k8s", "render", "cancer@staging", "-n", "ml", env=plain, cwd=signed)
    assert shown.returncode == 0, shown.stderr
    kinds = [m["kind"] for m in yaml.safe_load_all(shown.stdout)]
    assert kinds[:2] == ["ServiceAccount", "Deployment"] and "NetworkPolicy" in kinds
    assert "namespace: ml" in shown.stdout and "cancer@staging" in shown.stdout
    written = shipline("k8s", "render", "--server", "--out", str(tmp_path / "k8s"), env=plain,
                       cwd=signed)  # fmt: skip
    assert written.returncode == 0 and (tmp_path / "k8s/overlays/production").is_dir()
    kserve = shipline("k8s", "render", "cancer@staging", "--kserve", env=plain, cwd=signed)
    assert kserve.returncode == 0, kserve.stderr
    service = [m for m in yaml.safe_load_all(kserve.stdout) if m["kind"] == "InferenceService"]
    predictor = service[0]["spec"]["predictor"]["containers"][0]
    staged = shipline("models", "show", "cancer@staging", "--json", env=plain, cwd=signed)
    number = json.loads(staged.stdout)["version"]  # an earlier test may have staged another
    assert predictor["image"] == f"shipline-cancer:v{number}"  # the tag `shipline build` gives
    lone = shipline("k8s", "render", "--server", "--kserve", env=plain, cwd=signed)
    assert lone.returncode == 2 and "--kserve renders a prediction server" in lone.stderr
    unknown = shipline("k8s", "render", "nope@staging", env=plain, cwd=signed)
    assert unknown.returncode == 1 and "nope" in unknown.stderr
    both = shipline("k8s", "render", "cancer@staging", "--server", env=plain, cwd=signed)
    assert both.returncode == 2 and "give one of" in both.stderr
    dask = shipline("k8s", "render", "--dask-cluster", "--workers", "3", env=plain, cwd=signed)
    assert dask.returncode == 0 and yaml.safe_load(dask.stdout)["spec"]["worker"]["replicas"] == 3
    bad = shipline("k8s", "render", "--dask-cluster", "--worker-memory", "lots", env=plain,
                   cwd=signed)  # fmt: skip
    assert bad.returncode == 2 and "--worker-memory" in bad.stderr
