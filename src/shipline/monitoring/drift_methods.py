"""shipline's own drift methods, with Evidently's statistics, thresholds and operators.

Distances (Wasserstein, Jensen-Shannon, PSI, Hellinger) drift when the statistic reaches the
threshold; tests (KS, chi-square, Z) drift when the p-value falls below it (KS: at or below it,
as Evidently does). Each is registered by name in ``shipline.config.drift_method``.
"""

from __future__ import annotations

__all__ = [
    "CHISQUARE",
    "HELLINGER",
    "JENSENSHANNON",
    "KS",
    "PSI",
    "WASSERSTEIN",
    "Distance",
    "PValueTest",
    "Z",
]

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shipline.config.drift_method import ColumnSample

_SCORE_CAP = 10.0

_BLOCK = 1 << 17  # values summed at a time (merged quantile steps, deviations)


@dataclass(frozen=True)
class Distance:
    """A distance between the two sides: drift when it reaches the threshold."""

    name: str
    threshold: float
    measure: Callable[[ColumnSample], float]
    needs_numbers: bool = False

    def statistic(self, sample: ColumnSample) -> float:
        """The distance."""
        return self.measure(sample)

    def drifted(self, statistic: float, threshold: float, sample: ColumnSample) -> bool:
        """At or past the threshold."""
        return statistic >= threshold

    def score(self, statistic: float, threshold: float) -> float | None:
        """The distance over its threshold, capped at 10."""
        return float(min(statistic / threshold, _SCORE_CAP)) if threshold else None


@dataclass(frozen=True)
class PValueTest:
    """A two-sample test: drift when the p-value is below the threshold (``inclusive``: at or
    below)."""

    name: str
    threshold: float
    p_value: Callable[[ColumnSample], float]
    needs_numbers: bool = False
    inclusive: bool = False
    effect: Callable[[ColumnSample], float] | None = None

    def statistic(self, sample: ColumnSample) -> float:
        """The p-value."""
        return self.p_value(sample)

    def drifted(self, statistic: float, threshold: float, sample: ColumnSample) -> bool:
        """Significant, and under ``strict`` with an effect of at least ``min_effect``."""
        significant = statistic <= threshold if self.inclusive else statistic < threshold
        if significant and sample.strict and self.effect is not None:
            return self.effect(sample) >= sample.min_effect
        return significant

    def score(self, statistic: float, threshold: float) -> float | None:
        """log p over log threshold (p = threshold is 1, p = threshold² is 2), capped at 10."""
        if not 0 < threshold < 1:
            return None
        return float(min(math.log(max(statistic, 1e-300)) / math.log(threshold), _SCORE_CAP))


def _wasserstein(sample: ColumnSample) -> float:
    """Wasserstein distance over the reference's standard deviation (at least 0.001)."""
    ref = sample.reference
    return _wasserstein_sorted(ref, sample.current) / max(_std(ref), 0.001)


def _std(values: np.ndarray) -> float:
    """``np.std`` (two passes: the mean, then the squared deviations), the deviations taken a
    block at a time instead of as one more copy of the column. Sums, not ``np.dot``: BLAS's
    threads would compete with the threads comparing other columns."""
    mean = np.mean(values)
    squares = 0.0
    for start in range(0, values.size, _BLOCK):
        deviations = values[start : start + _BLOCK] - mean
        squares += float(np.square(deviations, out=deviations).sum())
    return math.sqrt(squares / values.size)


def _wasserstein_sorted(ref: np.ndarray, cur: np.ndarray) -> float:
    """The 1-Wasserstein distance of two sorted samples, as the area between their quantile
    functions (equal to scipy's area between the CDFs, without sorting or searching again).

    The quantile functions step at i/n and j/m; on the integer grid of n*m those steps are
    i*m and j*n, so no floating-point step is lost. Both are arithmetic progressions, so the
    merged order needs no sort: step i*m has i-1 steps of its own and floor((i*m-1)/n) of the
    other's before it (on a tie the reference's step comes first), and the other's steps fill
    the remaining places in order. Between two steps each side stands at the value after its
    steps so far (the count of its steps before the place); a tie's second step has width 0.
    The merged steps are summed a block at a time: whole, their index arrays took ~14 bytes per
    row of both sides (and the reference's step places 8 more), more than the samples.
    """
    n, m = ref.size, cur.size
    if n == m:
        return float(np.mean(np.abs(ref - cur)))
    area, last_step = 0.0, 0
    for start in range(0, n + m, _BLOCK):
        places = np.arange(start, min(start + _BLOCK, n + m), dtype=np.int64)
        first, end = _ref_steps_before(start, n, m), _ref_steps_before(start + places.size, n, m)
        i = np.arange(first + 1, end + 1, dtype=np.int64)
        from_ref = np.zeros(places.size, dtype=np.bool_)
        from_ref[i - 1 + (i * m - 1) // n - start] = True
        ref_before = first + np.cumsum(from_ref) - from_ref
        cur_before = places - ref_before
        steps = np.where(from_ref, (ref_before + 1) * m, (cur_before + 1) * n)
        widths = np.diff(steps, prepend=last_step).astype(np.float64)  # exact: below 2**53
        ref_at = ref[np.minimum(ref_before, n - 1)]
        area += float((np.abs(ref_at - cur[cur_before]) * widths).sum())
        last_step = int(steps[-1])
    return area / (n * m)


def _ref_steps_before(place: int, n: int, m: int) -> int:
    """How many reference steps fall before ``place`` in the merged order (step i is at
    i - 1 + (i*m - 1) // n, increasing in i): a binary search on Python integers."""
    low, high = 0, n
    while low < high:
        middle = (low + high + 1) // 2
        if middle - 1 + (middle * m - 1) // n < place:
            low = middle
        else:
            high = middle - 1
    return low


def _jensenshannon(sample: ColumnSample) -> float:
    from scipy.spatial import distance

    return float(distance.jensenshannon(*sample.shares()))


def _psi(sample: ColumnSample) -> float:
    """Population stability index with Evidently's fill for empty bins."""
    reference_shares, current_shares = sample.shares()
    nonzero = np.concatenate([reference_shares, current_shares])
    smallest = float(nonzero[nonzero > 0].min()) if np.any(nonzero > 0) else 1e-4
    fill = smallest / 1e6 if smallest <= 1e-4 else 1e-4
    ref = np.where(reference_shares == 0, fill, reference_shares)
    cur = np.where(current_shares == 0, fill, current_shares)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def _hellinger(sample: ColumnSample) -> float:
    reference_shares, current_shares = sample.shares()
    gap = np.sqrt(reference_shares) - np.sqrt(current_shares)
    return float(np.sqrt(np.sum(gap * gap)) / math.sqrt(2))


def _ks(sample: ColumnSample) -> float:
    from scipy import stats

    return float(stats.ks_2samp(sample.reference, sample.current).pvalue)


def _ks_effect(sample: ColumnSample) -> float:
    from scipy import stats

    return float(stats.ks_2samp(sample.reference, sample.current).statistic)


def _chisquare(sample: ColumnSample) -> float:
    """Goodness of fit against the reference shares; under ``strict`` a test of homogeneity."""
    from scipy import stats

    _, ref_counts, cur_counts = sample.counts()
    if sample.strict:
        return float(stats.chi2_contingency(np.vstack([ref_counts, cur_counts])).pvalue)
    expected = ref_counts * (cur_counts.sum() / ref_counts.sum())
    if np.any((expected == 0) & (cur_counts > 0)):
        return 0.0  # a category the reference never had: infinite statistic
    keep = expected > 0
    return float(stats.chisquare(cur_counts[keep], expected[keep]).pvalue)


def _z(sample: ColumnSample) -> float:
    """Two-proportion Z-test on the share of the first category."""
    keys, ref_counts, cur_counts = sample.counts()
    if len(keys) == 1:
        return 1.0  # one and the same value on both sides
    ref_size, cur_size = float(ref_counts.sum()), float(cur_counts.sum())
    p1 = (ref_size - ref_counts[0]) / ref_size
    p2 = (cur_size - cur_counts[0]) / cur_size
    pooled = (p1 * ref_size + p2 * cur_size) / (ref_size + cur_size)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / ref_size + 1 / cur_size))
    if spread == 0:
        return 1.0
    from scipy.stats import norm

    return float(2 * (1 - norm.cdf(abs((p1 - p2) / spread))))


WASSERSTEIN = Distance("wasserstein", 0.1, _wasserstein, needs_numbers=True)
JENSENSHANNON = Distance("jensenshannon", 0.1, _jensenshannon)
PSI = Distance("psi", 0.1, _psi)
HELLINGER = Distance("hellinger", 0.1, _hellinger)
KS = PValueTest("ks", 0.05, _ks, needs_numbers=True, inclusive=True, effect=_ks_effect)
CHISQUARE = PValueTest("chisquare", 0.05, _chisquare)
Z = PValueTest("z", 0.05, _z)
