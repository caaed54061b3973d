"""The compute: section, training.search and SHIPLINE_DASK: every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipline.compute.cluster import ComputeTarget, compute_target
from shipline.config import config_digest, load_config
from shipline.config.compute import ComputeConfig, parse_bytes
from shipline.errors import ConfigError

BASE = """name: m
data: {source: d.csv, target: y}
training:
  task: classification
"""


def _load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "shipline.yaml"
    path.write_text(BASE + extra)
    return load_config(path)


def _problems(tmp_path: Path, extra: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, extra)
    return str(caught.value)


def test_compute_forms_parse(tmp_path: Path) -> None:
    local = _load(tmp_path, "compute: local\n")
    assert local.compute.is_local  # type: ignore[attr-defined]
    address = _load(tmp_path, "compute: {dask: {address: 'tcp://10.0.0.5:8786'}}\n")
    assert address.compute.dask.address == "tcp://10.0.0.5:8786"  # type: ignore[attr-defined]
    here = _load(tmp_path, "compute: {dask: {local: {workers: 3, memory_limit: 2GiB}}}\n")
    assert here.compute.dask.local.workers == 3  # type: ignore[attr-defined]
    assert parse_bytes("2GiB") == 2 * 2**30 and parse_bytes("512MB") == 512 * 10**6


def test_compute_mistakes_are_each_named(tmp_path: Path) -> None:
    both = _problems(tmp_path, "compute: {dask: {address: 'tcp://h:1', local: {workers: 1}}}\n")
    assert "compute.dask" in both and "not both" in both
    bad = _problems(tmp_path, "compute: {dask: {address: 'http://h'}}\n")
    assert "compute.dask.address" in bad and "tcp://10.0.0.5:8786" in bad
    tiny = _problems(tmp_path, "compute: {dask: {local: {memory_limit: 1MiB}}}\n")
    assert "memory_limit" in tiny and "64MiB" in tiny
    unknown = _problems(tmp_path, "compute: {ray: {}}\n")
    assert "compute.ray" in unknown


def test_distributed_training_needs_an_estimator_a_trainer_knows(tmp_path: Path) -> None:
    on = "compute: {distributed_training: true}\n"
    default = _problems(tmp_path, on)
    assert "compute.distributed_training: true: no distributed trainer" in default
    assert "lightgbm or xgboost" in default
    forest = _problems(tmp_path, "  estimator: sklearn.ensemble.RandomForestClassifier\n" + on)
    assert "sklearn.ensemble.RandomForestClassifier" in forest
    entrypoint = _problems(tmp_path, "  entrypoint: train.py:train\n" + on)
    assert "an entrypoint trains itself" in entrypoint
    searched = _problems(
        tmp_path,
        "  estimator: lightgbm.LGBMClassifier\n"
        "  search: {method: grid, params: {num_leaves: [7, 15]}, metric: f1}\n" + on,
    )
    assert "training.search" in searched and "choose one" in searched
    for estimator in ("lightgbm.LGBMClassifier", "xgboost.XGBClassifier"):
        config = _load(tmp_path, f"  estimator: {estimator}\n" + on)
        assert config.compute.distributed_training  # type: ignore[attr-defined]


def test_search_mistakes_are_each_named(tmp_path: Path) -> None:
    grid_with_draws = _problems(
        tmp_path,
        "  search: {method: grid, params: {max_depth: [2, 3]}, n_iter: 4, metric: f1}\n",
    )
    assert "n_iter" in grid_with_draws and "grid tries every point" in grid_with_draws
    random_without = _problems(
        tmp_path, "  search: {method: random, params: {max_depth: [2, 3]}, metric: f1}\n"
    )
    assert "needs 'n_iter'" in random_without
    wrong_metric = _problems(
        tmp_path, "  search: {method: grid, params: {max_depth: [2]}, metric: rmse}\n"
    )
    assert "'rmse' is not a classification metric" in wrong_metric
    empty = _problems(tmp_path, "  search: {method: grid, params: {max_depth: []}, metric: f1}\n")
    assert "params.max_depth" in empty


def test_a_default_section_leaves_the_config_digest_as_it_was(tmp_path: Path) -> None:
    plain = _load(tmp_path, "")
    explicit = _load(tmp_path, "compute: local\n")
    assert config_digest(plain) == config_digest(explicit)  # type: ignore[arg-type]
    dumped = plain.model_dump(mode="json")  # type: ignore[attr-defined]
    assert "compute" not in dumped and "search" not in dumped["training"]


def test_shipline_dask_overrides_the_file() -> None:
    address = ComputeConfig.model_validate({"dask": {"address": "tcp://10.0.0.5:8786"}})
    assert compute_target(address, "local") == ComputeTarget()
    assert compute_target(ComputeConfig(), "tcp://127.0.0.1:9000").address == (
        "tcp://127.0.0.1:9000"
    )
    assert compute_target(address, "").address == "tcp://10.0.0.5:8786"
    with pytest.raises(ConfigError) as caught:
        compute_target(ComputeConfig(), "localhost:8786")
    assert "SHIPLINE_DASK" in str(caught.value) and "'localhost:8786'" in str(caught.value)
