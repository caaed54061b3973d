"""Baseline profiles: per-column statistics that monitoring compares live traffic against."""

from __future__ import annotations

__all__ = ["profile_frame"]

from typing import Any

import numpy as np
import pandas as pd

from shipline.timestamps import epoch_seconds, is_datetime_dtype

SAMPLE_SIZE = 5000
TOP_VALUES = 100


def profile_frame(frame: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """Statistics per column: counts, nulls, and numeric moments and quantiles with a sorted
    sample, or the frequencies of the most common values."""
    columns: dict[str, Any] = {}
    for name in frame.columns:
        series = frame[name]
        nulls = int(series.isna().sum())
        entry: dict[str, Any] = {"dtype": str(series.dtype), "count": len(series), "nulls": nulls}
        if is_datetime_dtype(series.dtype):
            entry.update(_numeric(epoch_seconds(series), seed))  # seconds since the epoch
            entry["unit"] = "epoch_seconds"
        elif pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            entry.update(_numeric(series.to_numpy(dtype=float, na_value=np.nan), seed))
        else:
            counts = series.astype("string").value_counts(dropna=True)
            entry["kind"] = "categorical"
            entry["unique"] = len(counts)
            entry["top"] = {str(k): int(v) for k, v in counts.head(TOP_VALUES).items()}
        columns[str(name)] = entry
    return {"rows": len(frame), "columns": columns}


def _numeric(values: np.ndarray, seed: int) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"kind": "numeric", "empty": True}
    rng = np.random.default_rng(seed)
    sample = (
        finite if finite.size <= SAMPLE_SIZE else rng.choice(finite, SAMPLE_SIZE, replace=False)
    )
    quantiles = np.quantile(finite, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99])
    return {
        "kind": "numeric",
        "mean": float(finite.mean()),
        "std": float(finite.std()),
        "min": float(finite.min()),
        "max": float(finite.max()),
        "unique": int(np.unique(finite).size),
        "quantiles": [float(q) for q in quantiles],
        "sample": [float(v) for v in np.sort(sample)],
    }
