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
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shipline.config.drift_method import DRIFT_METHODS, ColumnKind
from shipline.config.schema import DriftConfig
from shipline.data.frame import ColumnValues
from shipline.errors import UsageError
from shipline.monitoring.column_sample import (
    ColumnPair,
    Side,
    count_values,
    distinct,
    distinct_over_both,
    prepare_side,
)

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


def column_kind(values: ColumnValues) -> ColumnKind:
    """numerical, categorical or text, as Evidently infers it from the reference (dates and
    times are numerical: points in time, not categories)."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiubM":
        return _number_kind(values)
    return _tally_kind(count_values(values))


def _number_kind(values: np.ndarray, presorted: bool = False) -> ColumnKind:
    if values.dtype.kind in "fM":
        return "numerical"
    if values.dtype.kind in "iu":
        unique = distinct(values) if presorted else np.unique(values).size
        return "categorical" if unique <= 10 else "numerical"
    return "categorical"


def _tally_kind(tally: dict[Any, int]) -> ColumnKind:
    """Text when more than half of the present values are distinct."""
    present = sum(tally.values())
    return "text" if present and len(tally) > present / 2 else "categorical"


def compare_columns(
    reference: Mapping[str, ColumnValues],
    current: Mapping[str, ColumnValues],
    config: DriftConfig | None = None,
    reference_sorted: bool = False,
    text_columns: Collection[str] | None = None,
) -> DriftReport:
    """Compare every reference column with the current column of the same name
    (``reference_sorted``: each reference column is stored sorted, as the evaluate step writes
    it with ``shipline.data.profile.sorted_columns``). Each column is looked up in the thread
    that compares it, so a mapping that reads on demand holds only the columns being compared;
    it names its ``text_columns`` (else they are found from the arrays)."""
    rules = config or DriftConfig()
    require_columns(rules, list(reference))
    names = [name for name in reference if name in current]
    if text_columns is None:
        text_columns = {name for name in names if reference[name].dtype == object}
    # numpy's sorts and scans release the GIL: columns are compared on every core. Counting
    # objects holds it, so those columns go first, while the other threads sort numbers.
    order = sorted(names, key=lambda name: name not in text_columns)
    with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1) or 1) as pool:
        verdicts = dict(
            zip(
                order,
                pool.map(
                    lambda name: compare_column(
                        name, reference[name], current[name], rules, reference_sorted
                    ),
                    order,
                ),
                strict=True,
            )
        )
    return DriftReport(tuple(verdicts[name] for name in names), rules.share, rules.min_rows)


def require_columns(rules: DriftConfig, names: list[str]) -> None:
    """Refuse per-column rules for columns the reference data does not have."""
    unknown = [name for name in rules.columns if name not in names]
    if unknown:
        raise UsageError(
            f"monitoring.drift.columns.{unknown[0]}: no such column in the reference data"
        )


def compare_column(
    name: str,
    reference: ColumnValues,
    current: ColumnValues,
    rules: DriftConfig,
    reference_sorted: bool = False,
) -> ColumnDrift:
    """One column's verdict: the unit of work a cluster task computes. ``reference_sorted``:
    the reference is stored sorted (missing values last), so it is not sorted again."""
    if isinstance(reference, np.ndarray) and reference.dtype.kind in "fiubM":
        kind = _number_kind(reference, reference_sorted)
        ref = prepare_side(reference, kind, reference_sorted)
    else:
        counted = count_values(reference, reference_sorted)
        ref = Side(reference, reference.size, tally=counted)
        kind = _tally_kind(counted)
    override = rules.columns.get(name)
    forced = DRIFT_METHODS.get(override.method) if override else None
    if forced is not None and forced.needs_numbers and kind != "numerical":
        raise UsageError(
            f"monitoring.drift.columns.{name}: method {forced.name!r} needs a numerical "
            f"column, {name!r} is {kind}"
        )
    cur = prepare_side(current, kind)
    base: dict[str, Any] = {
        "column": name,
        "kind": kind,
        "reference_rows": ref.size,
        "current_rows": cur.size,
        "reference_missing_share": _missing(ref.rows, ref.size),
        "current_missing_share": _missing(cur.rows, cur.size),
    }
    problem = _why_not_compared(kind, ref.size, cur.size, rules.min_rows)
    if problem is not None:
        return _no_verdict(base, problem)
    unique = distinct_over_both(ref, cur)
    unseen: tuple[str, ...] = ()
    if kind == "categorical":
        new = sorted(cur.counts.keys() - ref.counts.keys(), key=str)
        unseen = tuple(str(v) for v in new[:_UNSEEN_SHOWN])
    method = forced or DRIFT_METHODS.get(_default_method(kind, ref.size, unique))
    sample = ColumnPair(ref, cur, kind, rules.strict, rules.min_effect)
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


def _why_not_compared(kind: ColumnKind, ref: int, cur: int, min_rows: int) -> str | None:
    """Why a column gets no verdict (free text, an empty side, too few values), if it does not."""
    if kind == "text":
        return "free text (more unique values than half the rows) is not compared"
    if ref == 0 or cur == 0:
        side = "reference" if ref == 0 else "current"
        return f"no values in the {side} data after dropping missing ones; skipped"
    if min(ref, cur) < min_rows:
        side = "current" if cur < min_rows else "reference"
        return (
            f"{_NOT_ENOUGH}: {min(ref, cur)} {side} values, at least "
            f"{min_rows} needed (monitoring.drift.min_rows)"
        )
    return None


def _no_verdict(base: dict[str, Any], note: str) -> ColumnDrift:
    """A column left without a verdict, and why."""
    return ColumnDrift(
        **base, method=None, statistic=None, threshold=None, drifted=None, unique=0, note=note
    )


def _missing(total: int, kept: int) -> float:
    return (total - kept) / total if total else 0.0


def _default_method(kind: str, reference_rows: int, unique: int) -> str:
    """Evidently's choice of method for a column."""
    if reference_rows > _SMALL_REFERENCE:
        return "wasserstein" if kind == "numerical" and unique > 5 else "jensenshannon"
    if kind == "numerical" and unique > 5:
        return "ks"
    return "chisquare" if unique > 2 else "z"
