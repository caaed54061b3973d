"""The parts of `shipline build`: the Containerfile, the pins, the builders, the model folder
and what the image runs (port, captures), without building an image."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import blake3
import pytest

from shipline.errors import DigestMismatchError, NotFoundError, UsageError
from shipline.image.builder import IMAGE_BUILDERS, choose_builder
from shipline.image.containerfile import ImageSpec, containerfile
from shipline.image.context import _extras, image_constraints, image_labels
from shipline.image.manifest import BlobFolder, ImageManifest, read_manifest
from shipline.image.source import FolderCaptureSink
from shipline.registry import ModelVersion
from shipline.server.container import image_grpc_port, image_port


def _version(
    estimator: str = "sklearn.ensemble.RandomForestClassifier", **extra: Any
) -> ModelVersion:
    details = {
        "task": "classification",
        "target": "y",
        "estimator": estimator,
        "signature": {
            "inputs": [{"name": "a", "dtype": "float64"}],
            "output": {"name": "y", "task": "classification"},
        },
        "lineage": {
            "config_digest": "c" * 64,
            "git_commit": "0123abc",
            "environment": {
                "python": "3.11.7",
                "packages": {"shipline": "0.1.0", "scikit-learn": "1.9.1", "numpy": "2.4.6"},
            },
        },
        **extra,
    }
    return ModelVersion("churn", 3, 7, "b" * 64, "d" * 64, details, "2026-11-30", "alice")


def test_the_containerfile_runs_hardened_under_any_uid_in_group_0() -> None:
    spec = ImageSpec(
        base="localhost/base:1",
        python="3.11",
        shipline_wheel="shipline-0.1.0-py3-none-any.whl",
        extras=("signing",),
        labels={"a.b": 'quote " and $HOME'},
        require_signed=True,
    )
    text = containerfile(spec)
    assert text.count("FROM localhost/base:1") == 2  # wheels stay in the first stage
    assert "COPY --from=install /opt/shipline/venv /opt/shipline/venv" in text
    assert '"/tmp/wheels/shipline-0.1.0-py3-none-any.whl[signing]"' in text
    assert "--no-index" in text and "-c /tmp/wheels/constraints.txt" in text
    assert "chmod -R g=u,o-rwx" in text and "USER 10001:0" in text
    assert 'RUN ["/opt/shipline/venv/bin/shipline", "container", "check"]' in text
    assert text.index('container", "check"]') < text.index("USER 10001:0")
    assert 'LABEL a.b="quote \\" and $HOME"' in text
    assert "SHIPLINE_REQUIRE_SIGNED=1" in text and "EXPOSE 8080" in text
    assert "sys.version_info[:2]" in text and "(3, 11)" in text


def test_the_image_pins_the_libraries_the_model_was_trained_with() -> None:
    given = "# team pins\nscikit-learn==1.0.2\nnumpy>=1.26\nNumPy_Extra==1\nfoo==2\n"
    pins = image_constraints(given, _version()).splitlines()
    assert "scikit-learn==1.9.1" in pins and "numpy==2.4.6" in pins
    assert "scikit-learn==1.0.2" not in pins and "numpy>=1.26" not in pins
    assert "foo==2" in pins and "NumPy_Extra==1" in pins and "# team pins" in pins
    assert not any(line.startswith("shipline") for line in pins)


def test_extras_follow_the_estimator_and_the_signature() -> None:
    class Request:
        require_signed = False

    assert _extras(_version(), Request()) == ()  # type: ignore[arg-type]
    assert _extras(_version("xgboost.XGBClassifier"), Request()) == ("boosting",)  # type: ignore[arg-type]
    Request.require_signed = True
    assert _extras(_version("lightgbm.LGBMRegressor"), Request()) == ("boosting", "signing")  # type: ignore[arg-type]


def test_labels_carry_model_version_digests_commit_and_config() -> None:
    labels = image_labels(_version(), "production", "base:1")
    assert labels["org.opencontainers.image.title"] == "churn"
    assert labels["org.opencontainers.image.version"] == "3"
    assert labels["org.opencontainers.image.revision"] == "0123abc"
    assert labels["dev.shipline.bundle-digest"] == "blake3:" + "b" * 64
    assert labels["dev.shipline.config-digest"] == "c" * 64
    assert labels["dev.shipline.alias"] == "production"


@pytest.mark.parametrize("name", sorted(IMAGE_BUILDERS))
def test_every_builder_builds_the_containerfile_with_tag_and_id_file(
    name: str, tmp_path: Path
) -> None:
    command = IMAGE_BUILDERS[name].command(tmp_path, "shipline-churn:v3", tmp_path / "iid")
    assert command[0] == name and command[-1] == str(tmp_path)
    assert command[command.index("-f") + 1] == str(tmp_path / "Containerfile")
    assert command[command.index("-t") + 1] == "shipline-churn:v3"
    assert command[command.index("--iidfile") + 1] == str(tmp_path / "iid")
    if name != "docker":  # the Docker format keeps the HEALTHCHECK
        assert command[command.index("--format") + 1] == "docker"


def test_no_builder_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match=r"install docker .* podman or buildah"):
        choose_builder(None)
    with pytest.raises(UsageError, match="--builder podman: podman is not installed"):
        choose_builder("podman")
    with pytest.raises(UsageError, match="expected one of docker, podman, buildah"):
        choose_builder("kaniko")


def test_the_model_folder_refuses_missing_altered_and_misnamed_files(tmp_path: Path) -> None:
    data = b"model bytes"
    digest = blake3.blake3(data).hexdigest()
    (tmp_path / digest).write_bytes(data)
    folder = BlobFolder(tmp_path)
    assert folder.read_bytes(digest) == data
    (tmp_path / digest).write_bytes(b"model bytez")
    with pytest.raises(DigestMismatchError, match=str(tmp_path / digest)):
        folder.read_bytes(digest)
    with pytest.raises(NotFoundError, match="is missing"):
        folder.read_bytes("e" * 64)
    with pytest.raises(UsageError, match="BLAKE3 digest"):
        folder.read_bytes("../../etc/passwd")


def test_the_manifest_round_trips_and_bad_ones_name_the_field(tmp_path: Path) -> None:
    version = _version()
    manifest = ImageManifest(
        alias="production",
        version=ImageManifest.version_record(version),
        files={"bundle": version.bundle_digest},
        serving={},
        shipline="0.1.0",
    )
    (tmp_path / "image.json").write_text(manifest.model_dump_json())
    assert read_manifest(tmp_path).model_version() == version
    broken = json.loads(manifest.model_dump_json())
    broken["files"] = "bundle"
    (tmp_path / "image.json").write_text(json.dumps(broken))
    with pytest.raises(UsageError, match=r"image.json: files: Input should be an object"):
        read_manifest(tmp_path)
    with pytest.raises(NotFoundError, match="no image manifest"):
        read_manifest(tmp_path / "elsewhere")


def test_the_port_follows_sagemaker_then_shipline_then_8080() -> None:
    assert image_port({}) == 8080
    assert image_port({"SHIPLINE_PORT": "9000"}) == 9000
    assert image_port({"SHIPLINE_PORT": "9000", "SAGEMAKER_BIND_TO_PORT": "8081"}) == 8081
    with pytest.raises(UsageError, match="SHIPLINE_PORT: expected a port number"):
        image_port({"SHIPLINE_PORT": "80; rm -rf /"})
    with pytest.raises(UsageError, match="SAGEMAKER_BIND_TO_PORT"):
        image_port({"SAGEMAKER_BIND_TO_PORT": "70000"})


def test_grpc_is_served_only_on_a_port_of_its_own() -> None:
    assert image_grpc_port({}) is None and image_grpc_port({"SHIPLINE_GRPC_PORT": " "}) is None
    assert image_grpc_port({"SHIPLINE_GRPC_PORT": "8081"}) == 8081
    with pytest.raises(UsageError, match="SHIPLINE_GRPC_PORT: 8080 is the HTTP port"):
        image_grpc_port({"SHIPLINE_GRPC_PORT": "8080"})
    with pytest.raises(UsageError, match="SHIPLINE_GRPC_PORT: 9000 is the HTTP port"):
        image_grpc_port({"SHIPLINE_GRPC_PORT": "9000", "SHIPLINE_PORT": "9000"})
    with pytest.raises(UsageError, match="SHIPLINE_GRPC_PORT: expected a port number"):
        image_grpc_port({"SHIPLINE_GRPC_PORT": "8081\r\nX-Injected: 1"})


def test_captures_are_written_whole_per_model_and_version(tmp_path: Path) -> None:
    sink = FolderCaptureSink(tmp_path / "captures")
    sink.write_capture("churn", 3, b"PAR1...")
    sink.write_capture("churn", 3, b"PAR1,,,")
    written = sorted((tmp_path / "captures" / "churn" / "v3").iterdir())
    assert len(written) == 2 and all(p.suffix == ".parquet" for p in written)
    assert {p.read_bytes() for p in written} == {b"PAR1...", b"PAR1,,,"}
