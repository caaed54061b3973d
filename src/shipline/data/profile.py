"""Baseline statistics of a dataset: one profile, in the shape SageMaker Model Monitor
documents for ``statistics.json``, computed once at training and exported as is.

Per column: numbers get present/missing counts, mean, sum, std_dev, min, max, a 10-bucket
distribution and a sketch; anything else gets counts, a distinct count and value buckets.
Model Monitor's numerical distributions carry a KLL sketch; shipline writes the same field with
the sorted values (all of them up to 2,048, else an even sample) as its single level, which
readers treat as the exact quantiles of those values.
"""

from __future__ import annotations

__all__ = ["frame_columns", "sorted_columns", "statistics"]

from typing import Any

import numpy as np
import pandas as pd

from shipline.data.frame import column_array

_BUCKETS = 10
_SKETCH_SIZE = 2048


def frame_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """One array per column, converted as monitoring reads stored splits (dates as seconds)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    return {name: column_array(table.column(name)) for name in table.column_names}


def statistics(columns: dict[str, np.ndarray]) -> dict[str, Any]:
    """``statistics.json`` for a dataset given as one array per column."""
    rows = len(next(iter(columns.values()))) if columns else 0
    return {
        "version": 0,
        "dataset": {"item_count": rows},
        "features": [_feature(n, v) for n, v in columns.items()],
    }


def _feature(name: str, values: np.ndarray) -> dict[str, Any]:
    if values.dtype.kind in "iuf":
        numbers = np.asarray(values, dtype=np.float64)
        present = numbers[np.isfinite(numbers)]
        common = {"num_present": int(present.size), "num_missing": int(numbers.size - present.size)}
        kind = "Integral" if values.dtype.kind in "iu" else "Fractional"
        if present.size == 0:
            return {"name": name, "inferred_type": kind, "numerical_statistics": {"common": common}}
        counts, edges = np.histogram(present, bins=_BUCKETS)
        ordered = np.sort(present)
        sketch = (
            ordered
            if ordered.size <= _SKETCH_SIZE
            else ordered[np.linspace(0, ordered.size - 1, _SKETCH_SIZE).astype(int)]
        )
        stats = {
            "common": common,
            "mean": float(present.mean()),
            "sum": float(present.sum()),
            "std_dev": float(present.std()),
            "min": float(present.min()),
            "max": float(present.max()),
            "distribution": {
                "kll": {
                    "buckets": [
                        {
                            "lower_bound": float(edges[i]),
                            "upper_bound": float(edges[i + 1]),
                            "count": int(c),
                        }
                        for i, c in enumerate(counts)
                    ],
                    "sketch": {
                        "parameters": {"c": 0.64, "k": _SKETCH_SIZE},
                        "data": [sketch.tolist()],
                    },
                }
            },
        }
        return {"name": name, "inferred_type": kind, "numerical_statistics": stats}
    present_values = [v for v in values.tolist() if v is not None]
    distinct, counts = np.unique(
        np.asarray([str(v) for v in present_values], dtype=object), return_counts=True
    )
    return {
        "name": name,
        "inferred_type": "String",
        "string_statistics": {
            "common": {
                "num_present": len(present_values),
                "num_missing": int(values.size - len(present_values)),
            },
            "distinct_count": int(distinct.size),
            "distribution": {
                "categorical": {
                    "buckets": [
                        {"value": str(v), "count": int(c)}
                        for v, c in zip(distinct.tolist(), counts.tolist(), strict=True)
                    ]
                }
            },
        },
    }


def sorted_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column sorted on its own, missing values last: the form monitoring reads its
    reference in (drift compares each column's distribution, not rows)."""
    return pd.DataFrame({name: _sorted(frame[name]) for name in frame.columns})


def _sorted(values: pd.Series) -> pd.Series:
    try:
        return values.sort_values(na_position="last", ignore_index=True, kind="stable")
    except TypeError:  # values of several types: equal ones still end up side by side
        return values.sort_values(
            na_position="last",
            ignore_index=True,
            kind="stable",
            key=lambda column: column.map(_type_and_text, na_action="ignore"),
        )


def _type_and_text(value: object) -> tuple[str, str]:
    return type(value).__name__, str(value)
