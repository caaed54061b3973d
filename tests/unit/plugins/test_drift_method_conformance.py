"""Every drift method (shipline's and one added by a test) passes the same checks, and one
added through the plug-in point alone is usable from shipline.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from shipline.config import parse_config
from shipline.config.drift_method import DRIFT_METHODS, ColumnSample, DriftMethod
from shipline.errors import ConfigError, UsageError
from shipline.monitoring import compare_columns

RNG = np.random.default_rng(11)


@dataclass(frozen=True)
class MeanShift:
    """A toy method: the gap of the means over the reference's spread."""

    name: str = "mean_shift"
    threshold: float = 0.5
    needs_numbers: bool = True

    def statistic(self, sample: ColumnSample) -> float:
        spread = max(float(np.std(sample.reference)), 1e-9)
        return abs(float(np.mean(sample.current)) - float(np.mean(sample.reference))) / spread

    def drifted(self, statistic: float, threshold: float, sample: ColumnSample) -> bool:
        return statistic >= threshold

    def score(self, statistic: float, threshold: float) -> float | None:
        return statistic / threshold


@pytest.fixture
def toy_method() -> Iterator[DriftMethod]:
    method = DRIFT_METHODS.register(MeanShift())
    yield method
    DRIFT_METHODS.unregister(method.name)


def _verdict(method: str, reference: np.ndarray, current: np.ndarray, threshold: float):  # type: ignore[no-untyped-def]
    yaml = f"""
name: m
data: {{source: d.csv, target: y}}
training: {{task: regression, estimator: sklearn.linear_model.Ridge}}
monitoring:
  drift:
    columns: {{x: {{method: {method}, threshold: {threshold}}}}}
"""
    config = parse_config(yaml.encode())
    return compare_columns({"x": reference}, {"x": current}, config.monitoring.drift).columns[0]


def _samples(method: DriftMethod) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reference, the same values reordered (no method may call that drift) and a large
    shift (every method must)."""
    if method.needs_numbers:
        ref = RNG.normal(0, 1, 3000)
        return ref, RNG.permutation(ref), RNG.normal(3, 1, 3000)
    values = np.array(["a", "b", "c", "d"], dtype=object)
    ref = RNG.choice(values, 3000, p=[0.4, 0.3, 0.2, 0.1])
    shifted = RNG.choice(values, 3000, p=[0.05, 0.1, 0.25, 0.6])
    return ref, RNG.permutation(ref), shifted


def _conforms(method: DriftMethod) -> None:
    assert DRIFT_METHODS.get(method.name) is method
    assert method.threshold > 0
    ref, same, shifted = _samples(method)
    calm = _verdict(method.name, ref, same, method.threshold)
    moved = _verdict(method.name, ref, shifted, method.threshold)
    for verdict in (calm, moved):
        assert verdict.method == method.name and verdict.threshold == method.threshold
        assert verdict.statistic is not None and np.isfinite(verdict.statistic)
        score = method.score(verdict.statistic, method.threshold)
        assert score is not None and (score >= 1) == verdict.drifted
    assert calm.drifted is False, f"{method.name}: identical distributions drifted"
    assert moved.drifted is True, f"{method.name}: a large shift did not drift"
    if method.needs_numbers:
        text = np.array(["a", "b"] * 100, dtype=object)
        with pytest.raises(UsageError, match="needs a numerical column"):
            _verdict(method.name, text, text, method.threshold)


@pytest.mark.parametrize("name", DRIFT_METHODS.names())
def test_every_shipped_drift_method_conforms(name: str) -> None:
    _conforms(DRIFT_METHODS.get(name))


def test_a_drift_method_added_through_the_registry_alone_works(
    toy_method: DriftMethod,
) -> None:
    _conforms(toy_method)
    assert "mean_shift" in DRIFT_METHODS.names()


def test_an_unknown_method_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        _verdict("nope", np.zeros(3), np.zeros(3), 0.1)
    assert "monitoring.drift.columns.x.method" in str(caught.value)
    assert "wasserstein" in str(caught.value) and "'nope'" in str(caught.value)


def test_a_name_cannot_be_taken_twice() -> None:
    with pytest.raises(UsageError, match="already registered"):
        DRIFT_METHODS.register(MeanShift(name="ks"))
