"""Data drift whose default decisions equal Evidently's ``DataDriftPreset``.

Per column, after dropping NaN and ±inf, with n = non-null reference rows and u = unique
values over reference and current:

- n > 1000: numerical with u > 5 → Wasserstein distance / max(std(reference), 0.001), drift if
  ≥ 0.1; numerical with u ≤ 5 and categorical → Jensen-Shannon distance (natural log), drift if
  ≥ 0.1.
- n ≤ 1000: numerical with u > 5 → two-sample KS, drift if p ≤ 0.05; categorical (or numerical)
  with u > 2 → chi-square goodness of fit against the reference shares, drift if p < 0.05;
  u ≤ 2 → two-proportion Z-test, drift if p < 0.05.
- JS bins: more than 20 unique reference values → Sturges bins over the combined range;
  otherwise one bin per value.
- Column typing: floats are numerical; integers with ≤ 10 unique values are categorical;
  text with more unique values than half its rows is free text (not compared).
- The dataset drifts when the share of drifted columns is ≥ ``share`` (0.5).

Per-column overrides (``monitoring.drift.columns``) force a method and threshold, including
``psi`` and ``hellinger`` on the same bins as Jensen-Shannon. ``strict`` replaces the
chi-square goodness-of-fit test with a test of homogeneity (the reference is a sample too) and
requires a minimum KS statistic (``min_effect``) besides a small p-value, since at large n a
negligible shift is "significant".

An empty or all-missing column is reported and skipped, never a crash.
"""

from __future__ import annotations

__all__ = [
    "ColumnDrift",
    "DriftReport",
    "column_kind",
    "compare_column",
    "compare_columns",
    "require_columns",
]

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shipline.config.drift_method import DRIFT_METHODS, ColumnKind
from shipline.config.schema import DriftConfig
from shipline.errors import UsageError
from shipline.timestamps import epoch_seconds

_SMALL_REFERENCE = 1000
_UNSEEN_SHOWN = 20
_NOT_ENOUGH = "not enough data"


@dataclass(frozen=True)
class ColumnDrift:
    """The verdict on one column."""

    column: str
    kind: str
    method: str | None
    statistic: float | None
    threshold: float | None
    drifted: bool | None
    reference_rows: int
    current_rows: int
    unique: int
    reference_missing_share: float
    current_missing_share: float
    unseen: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class DriftReport:
    """Every column's verdict and the dataset-level rule."""

    columns: tuple[ColumnDrift, ...]
    share_threshold: float
    min_rows: int = 1

    @property
    def compared(self) -> int:
        """Columns that received a verdict."""
        return sum(c.drifted is not None for c in self.columns)

    @property
    def drifted(self) -> int:
        """Columns that drifted."""
        return sum(bool(c.drifted) for c in self.columns)

    @property
    def share(self) -> float:
        """The share of compared columns that drifted."""
        return self.drifted / self.compared if self.compared else 0.0

    @property
    def short_of_data(self) -> int:
        """Columns left without a verdict because they hold fewer than ``min_rows`` values."""
        return sum(c.note is not None and c.note.startswith(_NOT_ENOUGH) for c in self.columns)

    @property
    def dataset_drift(self) -> bool:
        """True when the drifted share reaches the threshold."""
        return self.compared > 0 and self.share >= self.share_threshold

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "dataset_drift": self.dataset_drift,
            "share": self.share,
            "share_threshold": self.share_threshold,
            "compared": self.compared,
            "drifted": self.drifted,
            "min_rows": self.min_rows,
            "not_enough_data": self.short_of_data,
            "columns": [{**asdict(c), "unseen": list(c.unseen)} for c in self.columns],
        }


def column_kind(values: np.ndarray) -> ColumnKind:
    """numerical, categorical or text, as Evidently infers it from the reference (dates and
    times are numerical: points in time, not categories)."""
    if values.dtype.kind in "fM":
        return "numerical"
    if values.dtype.kind in "iu":
        return "categorical" if np.unique(values).size <= 10 else "numerical"
    if values.dtype.kind == "b":
        return "categorical"
    present = [v for v in values.tolist() if v is not None]
    return "text" if present and len(set(present)) > len(present) / 2 else "categorical"


def compare_columns(
    reference: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    config: DriftConfig | None = None,
) -> DriftReport:
    """Compare every reference column with the current column of the same name."""
    rules = config or DriftConfig()
    require_columns(rules, list(reference))
    names = [name for name in reference if name in current]
    # numpy's sorts and scans release the GIL: columns are compared on every core.
    with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1) or 1) as pool:
        verdicts = list(
            pool.map(
                lambda name: compare_column(name, reference[name], current[name], rules), names
            )
        )
    return DriftReport(tuple(verdicts), rules.share, rules.min_rows)


def require_columns(rules: DriftConfig, names: list[str]) -> None:
    """Refuse per-column rules for columns the reference data does not have."""
    unknown = [name for name in rules.columns if name not in names]
    if unknown:
        raise UsageError(
            f"monitoring.drift.columns.{unknown[0]}: no such column in the reference data"
        )


def _clean(values: np.ndarray, kind: ColumnKind) -> np.ndarray:
    if values.dtype.kind == "M":
        seconds = epoch_seconds(values)
        present: np.ndarray = seconds[np.isfinite(seconds)]
        return present
    if kind == "numerical" or values.dtype.kind == "f":
        numbers = np.asarray(values, dtype=np.float64)
        return numbers[np.isfinite(numbers)]
    if values.dtype.kind in "iub":
        return values
    import pandas as pd

    kept: np.ndarray = values[pd.notna(values)]
    return kept


def compare_column(
    name: str, reference: np.ndarray, current: np.ndarray, rules: DriftConfig
) -> ColumnDrift:
    """One column's verdict: the unit of work a cluster task computes."""
    kind = column_kind(reference)
    override = rules.columns.get(name)
    forced = DRIFT_METHODS.get(override.method) if override else None
    if forced is not None and forced.needs_numbers and kind != "numerical":
        raise UsageError(
            f"monitoring.drift.columns.{name}: method {forced.name!r} needs a numerical "
            f"column, {name!r} is {kind}"
        )
    ref, cur = _clean(reference, kind), _clean(current, kind)
    base: dict[str, Any] = {
        "column": name,
        "kind": kind,
        "reference_rows": int(ref.size),
        "current_rows": int(cur.size),
        "reference_missing_share": _missing(reference.size, ref.size),
        "current_missing_share": _missing(current.size, cur.size),
    }
    if kind == "text":
        return _no_verdict(
            base, "free text (more unique values than half the rows) is not compared"
        )
    if ref.size == 0 or cur.size == 0:
        side = "reference" if ref.size == 0 else "current"
        return _no_verdict(
            base, f"no values in the {side} data after dropping missing ones; skipped"
        )
    if min(ref.size, cur.size) < rules.min_rows:
        side = "current" if cur.size < rules.min_rows else "reference"
        return _no_verdict(
            base,
            f"{_NOT_ENOUGH}: {min(ref.size, cur.size)} {side} values, at least "
            f"{rules.min_rows} needed (monitoring.drift.min_rows)",
        )
    if ref.dtype.kind in "fiu" and cur.dtype.kind in "fiu":
        # Sorted once here; the statistics reuse the sorted arrays (sorting dominates the cost).
        ref, cur = _sorted(ref, reference), _sorted(cur, current)
        merged = np.concatenate([ref, cur])
        merged.sort(kind="stable")  # two sorted runs: a linear merge
        unique = 1 + int(np.count_nonzero(merged[1:] != merged[:-1]))
        del merged
    else:
        unique = len(set(ref.tolist()) | set(cur.tolist()))
    unseen: tuple[str, ...] = ()
    if kind == "categorical":
        new = sorted(set(cur.tolist()) - set(ref.tolist()), key=str)
        unseen = tuple(str(v) for v in new[:_UNSEEN_SHOWN])
    method = forced or DRIFT_METHODS.get(_default_method(kind, ref.size, unique))
    sample = _Sample(ref, cur, kind, rules.strict, rules.min_effect)
    statistic = method.statistic(sample)
    threshold = override.threshold if override else method.threshold
    return ColumnDrift(
        **base,
        method=method.name,
        statistic=statistic,
        threshold=threshold,
        drifted=method.drifted(statistic, threshold, sample),
        unique=unique,
        unseen=unseen,
    )


def _no_verdict(base: dict[str, Any], note: str) -> ColumnDrift:
    """A column left without a verdict, and why."""
    return ColumnDrift(
        **base, method=None, statistic=None, threshold=None, drifted=None, unique=0, note=note
    )


def _sorted(values: np.ndarray, original: np.ndarray) -> np.ndarray:
    """``values`` sorted, in place when it is already a copy of the caller's array."""
    if np.shares_memory(values, original):
        return np.sort(values)
    values.sort()
    return values


def _missing(total: int, kept: int) -> float:
    return (total - kept) / total if total else 0.0


def _default_method(kind: str, reference_rows: int, unique: int) -> str:
    """Evidently's choice of method for a column."""
    if reference_rows > _SMALL_REFERENCE:
        return "wasserstein" if kind == "numerical" and unique > 5 else "jensenshannon"
    if kind == "numerical" and unique > 5:
        return "ks"
    return "chisquare" if unique > 2 else "z"


@dataclass(frozen=True)
class _Sample:
    """A column's cleaned values, as drift methods see them (``ColumnSample``)."""

    reference: np.ndarray
    current: np.ndarray
    kind: ColumnKind
    strict: bool
    min_effect: float

    def counts(self) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """Keys over both sides (sorted as text) and each side's count per key."""
        import pandas as pd

        ref_map = pd.Series(self.reference, dtype=object).value_counts(sort=False).to_dict()
        cur_map = pd.Series(self.current, dtype=object).value_counts(sort=False).to_dict()
        keys = sorted(set(ref_map) | set(cur_map), key=str)
        return (
            keys,
            np.array([ref_map.get(k, 0) for k in keys], float),
            np.array([cur_map.get(k, 0) for k in keys], float),
        )

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Sturges bins over the combined range (more than 20 unique numbers), else one bin per
        value."""
        ref, cur = self.reference, self.current
        if self.kind == "numerical" and np.unique(ref).size > 20:
            edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
            return np.histogram(ref, edges)[0] / ref.size, np.histogram(cur, edges)[0] / cur.size
        _, ref_counts, cur_counts = self.counts()
        return ref_counts / ref.size, cur_counts / cur.size
