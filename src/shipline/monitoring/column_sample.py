"""One column's two sides, prepared once for every statistic a drift method asks of them.

Numbers are cleaned (NaN and ±inf dropped) and sorted once: the sorted arrays give the unique
count (a linear merge), Wasserstein (quantile functions), KS and the per-value counts (runs) with
no further sort. A reference stored already sorted (``monitoring.reference_columns``, written
at training) is not sorted again, so a monitoring check sorts only the current window. Other
values (text, booleans, mixed objects) are counted once per side; the categories, unseen values,
shares and tests all come from those counts, never from the rows again.
"""

from __future__ import annotations

__all__ = [
    "ColumnPair",
    "Side",
    "count_values",
    "distinct",
    "distinct_over_both",
    "prepare_side",
    "sorted_runs",
    "sorted_tally",
    "tally",
]

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from shipline.config.drift_method import ColumnKind
from shipline.data.frame import CodedText, ColumnValues, as_array
from shipline.timestamps import epoch_seconds

_MERGE_BLOCK = 1 << 16


@dataclass(frozen=True)
class Side:
    """One side of a column: sorted present numbers, or each present value's count."""

    raw: ColumnValues
    rows: int
    numbers: np.ndarray | None = None
    tally: dict[Any, int] | None = None

    @cached_property
    def values(self) -> np.ndarray:
        """The present values (numbers sorted; other values in their order)."""
        if self.numbers is not None:
            return self.numbers
        import pandas as pd

        raw = as_array(self.raw)
        kept: np.ndarray = raw[pd.notna(raw)]
        return kept

    @cached_property
    def size(self) -> int:
        """How many values are present."""
        if self.numbers is not None:
            return int(self.numbers.size)
        assert self.tally is not None
        return sum(self.tally.values())

    @cached_property
    def counts(self) -> dict[Any, int]:
        """Each present value's count."""
        if self.tally is not None:
            return self.tally
        assert self.numbers is not None
        keys, counts = sorted_runs(self.numbers)
        return dict(zip(keys.tolist(), counts.tolist(), strict=True))

    @cached_property
    def unique(self) -> int:
        """How many distinct values are present."""
        if self.numbers is not None:
            return distinct(self.numbers)
        return len(self.counts)


def prepare_side(values: ColumnValues, kind: ColumnKind, presorted: bool = False) -> Side:
    """``values`` cleaned as the column's ``kind`` needs: numbers sorted (in place when
    cleaning already made a copy; not at all when ``presorted``), anything else counted."""
    if isinstance(values, CodedText):
        if kind != "numerical":
            return Side(values, values.size, tally=values.tally())
        values = values.to_array()  # text where the reference has numbers: refused as before
    if values.dtype.kind == "M":
        seconds = epoch_seconds(values)
        present = seconds[np.isfinite(seconds)]
        return Side(values, values.size, numbers=_sorted(present, presorted, values))
    if kind == "numerical" or values.dtype.kind == "f":
        numbers = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(numbers)
        if finite.all():
            return Side(values, values.size, numbers=_sorted(numbers, presorted, numbers))
        return Side(values, values.size, numbers=_sorted(numbers[finite], presorted))
    if values.dtype.kind in "iu":
        return Side(values, values.size, numbers=_sorted(values, presorted, values))
    return Side(values, values.size, tally=tally(values))


def count_values(values: ColumnValues, presorted: bool = False) -> dict[Any, int]:
    """Each present value's count: from dictionary codes, from a sorted array's runs
    (``presorted``), else by hashing."""
    if isinstance(values, CodedText):
        return values.tally()
    return sorted_tally(values) if presorted else tally(values)


def tally(values: np.ndarray) -> dict[Any, int]:
    """Each present value's count (missing ones, None and NaN, left out)."""
    import pandas as pd

    counted = pd.Series(values, dtype=object, copy=False).value_counts(dropna=True, sort=False)
    return dict(zip(counted.index.tolist(), counted.tolist(), strict=True))


def sorted_tally(values: np.ndarray) -> dict[Any, int]:
    """``tally`` of values stored sorted (equal values side by side, missing ones last): one
    comparison of neighbours instead of hashing every value."""
    values = values[: _before_missing(values)]
    if values.size == 0:
        return {}
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    counts = np.diff(np.append(starts, values.size))
    found: dict[Any, int] = {}
    for key, count in zip(values[starts].tolist(), counts.tolist(), strict=True):
        found[key] = found.get(key, 0) + count  # equal values split by an unequal neighbour
    return found


def _before_missing(values: np.ndarray) -> int:
    """Where the missing values of an array stored with them last begin (a binary search)."""
    import pandas as pd

    low, high = 0, values.size
    while low < high:
        middle = (low + high) // 2
        if pd.isna(values[middle]):
            high = middle
        else:
            low = middle + 1
    return low


def _sorted(values: np.ndarray, presorted: bool, shared: np.ndarray | None = None) -> np.ndarray:
    """``values`` sorted: as they are when ``presorted``, in place when they are a fresh copy,
    else into a new array (``shared`` is the caller's, never changed)."""
    if presorted:
        return values
    if shared is not None and np.shares_memory(values, shared):
        return np.sort(values)
    values.sort()
    return values


def sorted_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and how many times each occurs."""
    if values.size == 0:
        return values, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    return values[starts], np.diff(np.append(starts, values.size))


def distinct(values: np.ndarray) -> int:
    """How many distinct values a sorted array holds."""
    return int(values.size > 0) + int(np.count_nonzero(values[1:] != values[:-1]))


def distinct_over_both(reference: Side, current: Side) -> int:
    """How many distinct values the two sides hold together."""
    if reference.numbers is not None and current.numbers is not None:
        return _distinct_merged(reference.numbers, current.numbers)
    return len(reference.counts.keys() | current.counts.keys())


def _distinct_merged(first: np.ndarray, second: np.ndarray) -> int:
    """How many distinct values two sorted arrays hold together, merged a block of ``first``
    at a time with the part of ``second`` up to the block's last value: small sorts that stay
    in cache, instead of a copy of both sides."""
    if first.size == 0:
        return distinct(second)
    count, last, taken = 0, None, 0
    for start in range(0, first.size, _MERGE_BLOCK):
        stop = min(start + _MERGE_BLOCK, first.size)
        upto = (
            second.size
            if stop == first.size
            else int(np.searchsorted(second, first[stop - 1], side="right"))
        )
        merged = np.concatenate([first[start:stop], second[taken:upto]])
        merged.sort()
        taken = upto
        count += distinct(merged) - int(last is not None and merged[0] == last)
        last = merged[-1]  # the block's largest value: the next block may start with it
    return count


@dataclass(frozen=True)
class ColumnPair:
    """A column's two prepared sides, as drift methods see them (``ColumnSample``)."""

    reference_side: Side
    current_side: Side
    kind: ColumnKind
    strict: bool
    min_effect: float

    @property
    def reference(self) -> np.ndarray:
        """Reference values present (numbers sorted)."""
        return self.reference_side.values

    @property
    def current(self) -> np.ndarray:
        """Current values present (numbers sorted)."""
        return self.current_side.values

    def counts(self) -> tuple[list[Any], np.ndarray, np.ndarray]:
        """Keys over both sides (sorted as text) and each side's count per key."""
        return self._counts

    @cached_property
    def _counts(self) -> tuple[list[Any], np.ndarray, np.ndarray]:
        ref_map, cur_map = self.reference_side.counts, self.current_side.counts
        keys = sorted(ref_map.keys() | cur_map.keys(), key=str)
        return (
            keys,
            np.array([ref_map.get(k, 0) for k in keys], float),
            np.array([cur_map.get(k, 0) for k in keys], float),
        )

    def shares(self) -> tuple[np.ndarray, np.ndarray]:
        """Sturges bins over the combined range (more than 20 unique numbers), else one bin per
        value."""
        ref, cur = self.reference_side, self.current_side
        if self.kind == "numerical" and ref.unique > 20:
            edges = np.histogram_bin_edges(np.concatenate([ref.values, cur.values]), "sturges")
            return (
                np.histogram(ref.values, edges)[0] / ref.size,
                np.histogram(cur.values, edges)[0] / cur.size,
            )
        _, ref_counts, cur_counts = self.counts()
        return ref_counts / ref.size, cur_counts / cur.size
