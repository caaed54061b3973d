"""A small, fast model project for controller tests, with an injected clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipline.project import Project

BASE_CONFIG = """\
name: churn
data:
  source: data/churn.csv
  target: churned
  split: {test_size: 0.3, seed: 1}
training:
  task: classification
  estimator: sklearn.linear_model.LogisticRegression
evaluation:
  metrics: [accuracy]
  gates:
    - {metric: accuracy, min: 0.6}
deployment:
  approval: {staging: auto, production: auto}
"""


def churn_rows(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """Churn follows usage (falling) and price (rising); inputs move with ``shift``."""
    rng = np.random.default_rng(seed)
    usage, price = rng.normal(shift, 1, rows), rng.normal(shift, 1, rows)
    churned = (-2 * usage + 1.5 * price + rng.normal(0, 0.5, rows) > 0).astype(int)
    return pd.DataFrame({"usage": usage, "price": price, "churned": churned})


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in os.environ if k.startswith("SHIPLINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SHIPLINE_USER", "controller-bot")
    (tmp_path / "data").mkdir()
    churn_rows(400, 0).to_csv(tmp_path / "data" / "churn.csv", index=False)
    return tmp_path


@pytest.fixture
def write_config(folder: Path) -> Callable[[str], None]:
    def write(extra: str) -> None:
        (folder / "shipline.yaml").write_text(BASE_CONFIG + extra)

    return write


@pytest.fixture
def project(folder: Path) -> Iterator[Project]:
    with Project.open(folder) as opened:
        yield opened


@pytest.fixture
def now() -> datetime:
    """A clock well after any config applied in the test, on a whole minute."""
    return datetime.now(UTC).replace(second=0, microsecond=0)


def write_oci_layout(folder: Path, tags: dict[str, str]) -> None:
    """An OCI image layout's index naming one manifest digest per tag (as buildah writes)."""
    import orjson

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    manifests = [
        {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest,
            "size": 1234,
            "annotations": {"org.opencontainers.image.ref.name": tag},
        }
        for tag, digest in tags.items()
    ]
    (folder / "index.json").write_bytes(orjson.dumps({"schemaVersion": 2, "manifests": manifests}))
