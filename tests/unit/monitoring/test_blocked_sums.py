"""The statistics summed a block at a time equal the whole-array ones at every block size."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from shipline.monitoring import column_sample, drift_methods
from shipline.monitoring.column_sample import distinct


def _samples(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    found = []
    for trial in range(30):
        n, m = int(rng.integers(1, 900)), int(rng.integers(1, 900))
        if trial % 3 == 0:  # few values: ties inside and across the two sides
            found.append((rng.integers(0, 6, n).astype(float), rng.integers(2, 9, m).astype(float)))
        else:
            found.append((rng.normal(0, 1, n), rng.normal(0.4, 1.3, m)))
    found.append((np.array([1.0]), np.array([0.0, 2.0])))
    return [(np.sort(a), np.sort(b)) for a, b in found]


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 17])
def test_wasserstein_and_std_by_blocks(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drift_methods, "_BLOCK", block)
    for ref, cur in _samples(block):
        found = drift_methods._wasserstein_sorted(ref, cur)
        assert found == pytest.approx(stats.wasserstein_distance(ref, cur), rel=1e-12, abs=1e-15)
        assert drift_methods._std(ref) == pytest.approx(float(np.std(ref)), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("block", [1, 3, 64, 1 << 16])
def test_distinct_over_both_sides_by_blocks(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(column_sample, "_MERGE_BLOCK", block)
    cases = [
        *_samples(block),
        (np.array([]), np.array([1.0, 1.0])),
        (np.array([3.0, 3.0]), np.array([])),
    ]
    for first, second in cases:
        expected = distinct(np.sort(np.concatenate([first, second])))
        assert column_sample._distinct_merged(first, second) == expected
        assert column_sample._distinct_merged(second, first) == expected
