"""`shipline build`: a real OCI image built with buildah on a Debian base made here, started
from its own entrypoint and command (SageMaker's `serve`), as its user and as an arbitrary UID
in group 0, answering /ping, /invocations and /v2 with the predictions of `shipline predict`;
the model's digests and signature checked at build and at start; a tampered context refused."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from shipline.scaffold import create_project
from tests.conftest import _unavailable
from tests.images import (
    BASE_TAG,
    ImageToolsMissingError,
    base_image,
    buildah,
    buildah_env,
    image_config,
    start_container,
    wait_until_ready,
)
from tests.served import shipline_env
from tests.services import free_port
from tests.team import key_pair, shipline

TAG = "localhost/shipline-cancer:e2e"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    team, team_public = key_pair(folder, "team")
    return {"team": team, "team.pub": team_public}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Path]) -> Path:
    """The example project; cancer:1 signed with the team's key and staged."""
    folder = tmp_path_factory.mktemp("image") / "cancer"
    create_project(folder, "classification")
    env = {**shipline_env(), "SHIPLINE_SIGNING_KEY": str(keys["team"])}
    done = shipline("run", env=env, cwd=folder)
    assert done.returncode == 0 and "registered cancer:1" in done.stdout, done.stderr
    return folder


def _strict(keys: dict[str, Path]) -> dict[str, str]:
    return {
        **shipline_env(),
        "SHIPLINE_REQUIRE_SIGNED": "1",
        "SHIPLINE_VERIFY_KEY": str(keys["team.pub"]),
    }


@pytest.fixture(scope="module")
def context(example: Path, keys: dict[str, Path]) -> Path:
    """The build context `shipline build --context` writes, signatures required."""
    folder = example.parent / "context"
    done = shipline("build", "cancer@staging", "--context", str(folder), "--base", BASE_TAG,
                    env=_strict(keys), cwd=example)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "buildah bud --format docker -t shipline-cancer:v1" in done.stdout
    return folder


@pytest.fixture(scope="module")
def features(example: Path) -> Path:
    """Rows to score (the id column and the inputs) and what `shipline predict` says of them."""
    frame = pd.read_csv(example / "data" / "breast_cancer.csv").drop(columns=["benign"])
    path = example.parent / "features.csv"
    frame.head(40).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def expected(example: Path, features: Path) -> list[int]:
    out = example.parent / "predicted.csv"
    done = shipline("predict", "cancer@staging", "--input", str(features), "--output", str(out),
                    env=shipline_env(), cwd=example)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [int(v) for v in pd.read_csv(out)["prediction"]]


def _answers(url: str, features: Path) -> dict[str, list[int]]:
    """Predictions from /invocations (CSV) and /v2 (JSON) for the same rows."""
    csv = httpx.post(f"{url}/invocations", content=features.read_bytes(),
                     headers={"Content-Type": "text/csv"}, timeout=30)  # fmt: skip
    assert csv.status_code == 200, csv.text
    frame = pd.read_csv(features)
    inputs = [
        {"name": name, "shape": [len(frame)], "datatype": "FP64", "data": frame[name].tolist()}
        for name in frame.columns
        if name != "sample_id"
    ]
    v2 = httpx.post(f"{url}/v2/models/cancer/infer", json={"inputs": inputs}, timeout=30)
    assert v2.status_code == 200, v2.text
    return {
        "invocations": [int(v) for v in csv.json()["predictions"]],
        "v2": [int(v) for v in v2.json()["outputs"][0]["data"]],
    }


def _grpc_answers(address: str, features: Path) -> list[int]:
    """The image's model over gRPC (``SHIPLINE_GRPC_PORT``), asked by Triton's client."""
    import numpy as np
    import tritonclient.grpc as triton

    frame = pd.read_csv(features).drop(columns=["sample_id"])
    client = triton.InferenceServerClient(address)
    try:
        assert client.is_server_ready() and client.is_model_ready("cancer", "1")
        tensor = triton.InferInput("x", list(frame.shape), "FP64")
        tensor.set_data_from_numpy(frame.to_numpy(dtype=np.float64))
        result = client.infer("cancer", [tensor])
        return [int(v) for v in result.as_numpy("predictions")]
    finally:
        client.close()


def test_the_context_is_hardened_and_serves_on_this_machine(
    example: Path, context: Path, features: Path, expected: list[int], keys: dict[str, Path]
) -> None:
    text = (context / "Containerfile").read_text()
    assert "USER 10001:0" in text and "EXPOSE 8080" in text and "HEALTHCHECK" in text
    assert 'ENTRYPOINT ["/opt/shipline/venv/bin/shipline", "container"]' in text
    assert 'CMD ["serve"]' in text and "SHIPLINE_REQUIRE_SIGNED=1" in text
    assert "[signing]" in text  # the image can check the signature it requires
    manifest = json.loads((context / "model" / "image.json").read_text())
    # The example's gradient-boosted model has a verified ONNX form: it travels too.
    assert set(manifest["files"]) == {"bundle", "onnx", "signature"}
    assert (context / "model" / "verify-key.pem").read_bytes() == keys["team.pub"].read_bytes()
    pins = (context / "wheels" / "constraints.txt").read_text().splitlines()
    assert f"scikit-learn=={_installed('scikit-learn')}" in pins
    env = {**_strict(keys), "SHIPLINE_IMAGE_MODEL": str(context / "model")}
    checked = shipline("container", "check", env=env, cwd=example.parent)
    assert checked.returncode == 0 and "cancer:1: 3 files match their digests" in checked.stdout

    port, grpc_port, home = free_port(), free_port(), example.parent / "home"
    env = {**env, "SHIPLINE_PORT": str(port), "SHIPLINE_GRPC_PORT": str(grpc_port),
           "SHIPLINE_HOME": str(home)}  # fmt: skip
    log = example.parent / "container-serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "shipline", "container", "serve"],
                                   cwd=example.parent, env=env, stderr=sink)  # fmt: skip
    try:
        _wait_for(f"http://127.0.0.1:{port}", process, log)
        answers = _answers(f"http://127.0.0.1:{port}", features)
        assert answers == {"invocations": expected, "v2": expected}
        assert _grpc_answers(f"127.0.0.1:{grpc_port}", features) == expected
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    captured = list((home / "captures" / "cancer" / "v1").glob("*.parquet"))
    assert sum(pd.read_parquet(path).shape[0] for path in captured) == 3 * len(expected)


def test_a_tampered_file_is_refused_at_check_and_start(
    example: Path, context: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    tampered = _tampered(context, tmp_path / "tampered")
    env = {**_strict(keys), "SHIPLINE_IMAGE_MODEL": str(tampered / "model"),
           "SHIPLINE_PORT": str(free_port())}  # fmt: skip
    for verb in ("check", "serve"):
        done = shipline("container", verb, env=env, cwd=example.parent)
        assert done.returncode == 1, done.stdout
        assert "content does not match its digest" in done.stderr
        assert str(tampered / "model") in done.stderr
    unsigned = json.loads((context / "model" / "image.json").read_text())
    del unsigned["files"]["signature"]
    unsigned["version"]["details"].pop("signed")
    stripped = _copy(context, tmp_path / "unsigned")
    (stripped / "model" / "image.json").write_text(json.dumps(unsigned))
    env["SHIPLINE_IMAGE_MODEL"] = str(stripped / "model")
    done = shipline("container", "check", env=env, cwd=example.parent)
    assert done.returncode == 1 and "cancer:1 is not signed" in done.stderr
    allowed = {**env, "SHIPLINE_REQUIRE_SIGNED": "0"}
    assert shipline("container", "check", env=allowed, cwd=example.parent).returncode == 0


def test_build_and_run_the_image_with_buildah(
    example: Path,
    context: Path,
    features: Path,
    expected: list[int],
    keys: dict[str, Path],
    tmp_path: Path,
) -> None:
    try:
        base = base_image()
    except ImageToolsMissingError as error:
        _unavailable("buildah", error)
    env = {**_strict(keys), **_isolation()}
    done = shipline("build", "cancer@staging", "--base", base, "--builder", "buildah", "-t", TAG,
                    env=env, cwd=example)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"built {TAG} with buildah: sha256:" in done.stdout
    assert "cancer:1: 3 files match their digests" in done.stderr  # checked inside, at build
    config = image_config(TAG)
    assert config["User"] == "10001:0" and config["Cmd"] == ["serve"]
    assert config["Entrypoint"] == ["/opt/shipline/venv/bin/shipline", "container"]
    assert "8080/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"][1:] == [*config["Entrypoint"], "health"]
    shown = json.loads(shipline("models", "show", "cancer:1", "--json", env=shipline_env(),
                                cwd=example).stdout)  # fmt: skip
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "cancer"
    assert labels["org.opencontainers.image.version"] == "1"
    assert labels["dev.shipline.bundle-digest"] == f"blake3:{shown['bundle_digest']}"
    onnx_digest = shown["serving_forms"]["onnx"]["digest"]
    assert labels["dev.shipline.onnx-digest"] == f"blake3:{onnx_digest}"
    assert labels["dev.shipline.config-digest"] == shown["lineage"]["config_digest"]
    assert labels["dev.shipline.signature-key"] == shown["signed"]["key_id"]

    for user in (None, "1000321:0"):  # the image's own user, then an arbitrary UID (OpenShift)
        container = start_container(TAG, free_port(), tmp_path, user=user)
        try:
            wait_until_ready(container)
            assert _answers(container.url, features) == {"invocations": expected, "v2": expected}
            port = container.url.rsplit(":", 1)[1]
            probe = buildah("run", "--env", f"SHIPLINE_PORT={port}", container.name, "--",
                            *config["Healthcheck"]["Test"][1:], check=False)  # fmt: skip
            assert probe.returncode == 0, probe.stderr
        finally:
            container.stop()

    tampered = _tampered(context, tmp_path / "tampered")
    refused = subprocess.run(
        ["buildah", "bud", "--format", "docker", "--layers", "-t", f"{TAG}-tampered",
         str(tampered)],
        env={**buildah_env(), **_isolation()}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "content does not match its digest" in refused.stdout + refused.stderr
    assert buildah("inspect", "--type", "image", f"{TAG}-tampered", check=False).returncode != 0


def test_required_signatures_refuse_to_build_an_unsigned_version(
    example: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    # Registered last: cancer:2 has no signature and takes the staging alias.
    config = example / "shipline.yaml"
    config.write_text(config.read_text().replace("max_iter: 200", "max_iter: 150"))
    done = shipline("run", env=shipline_env(), cwd=example)
    assert "registered cancer:2" in done.stdout, done.stderr
    folder = tmp_path / "context"
    refused = shipline("build", "cancer@staging", "--context", str(folder), env=_strict(keys),
                       cwd=example)  # fmt: skip
    assert refused.returncode == 1 and "cancer:2 is not signed" in refused.stderr
    assert not folder.exists()
    wrong = shipline("build", "cancer:1", "--context", str(folder), env=shipline_env(),
                     cwd=example)  # fmt: skip
    assert wrong.returncode == 2 and "expected NAME@ALIAS" in wrong.stderr
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "mine.txt").write_text("kept")
    taken = shipline("build", "cancer@staging", "--context", str(occupied), env=shipline_env(),
                     cwd=example)  # fmt: skip
    assert taken.returncode == 2 and "expected a new or empty folder" in taken.stderr
    assert [p.name for p in occupied.iterdir()] == ["mine.txt"]
    unknown = shipline("build", "cancer@staging", "--builder", "kaniko", env=shipline_env(),
                       cwd=example)  # fmt: skip
    assert unknown.returncode == 2 and "expected one of docker, podman, buildah" in unknown.stderr


def _installed(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def _isolation() -> dict[str, str]:
    return {"BUILDAH_ISOLATION": "chroot"}


def _copy(context: Path, folder: Path) -> Path:
    shutil.copytree(context, folder)
    return folder


def _tampered(context: Path, folder: Path) -> Path:
    """A copy of ``context`` with one byte of the bundle flipped."""
    copy = _copy(context, folder)
    manifest = json.loads((copy / "model" / "image.json").read_text())
    bundle = copy / "model" / manifest["files"]["bundle"]
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    bundle.write_bytes(bytes(data))
    return copy


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"container serve exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)  # poll interval
    raise AssertionError("container serve did not become ready")


@pytest.fixture(autouse=True, scope="module")
def _no_leftover_containers() -> Iterator[None]:
    yield
    if shutil.which("buildah"):
        listed = buildah("containers", "--format", "{{.ContainerName}}", check=False).stdout
        for name in listed.split():
            if name.startswith("shipline-test-"):
                buildah("rm", name, check=False)
        # The image and its build's intermediate layers (~1 GB each); the base stays cached.
        buildah("rmi", TAG, check=False)
        buildah("rmi", "--prune", check=False)
