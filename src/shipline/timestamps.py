"""Date and time values as numbers: the one conversion training, profiles and drift share.

A date or timestamp column is never a category (one-hot over distinct dates, or a drift test
over them, says nothing useful); it is a point on a line, measured here in seconds since the
Unix epoch (UTC for time-zone-aware values), with missing values as NaN.
"""

from __future__ import annotations

__all__ = ["epoch_seconds", "is_datetime_dtype"]

from typing import Any

import numpy as np


def is_datetime_dtype(dtype: Any) -> bool:
    """True for numpy ``datetime64`` and pandas (time-zone-aware) datetime dtypes."""
    return getattr(dtype, "kind", "") == "M"


def epoch_seconds(values: Any) -> np.ndarray:
    """Seconds since 1970-01-01 UTC as float64, NaN where a value is missing (NaT)."""
    import pandas as pd

    stamps = pd.DatetimeIndex(pd.to_datetime(values))
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    nanos: np.ndarray = stamps.as_unit("ns").asi8.astype(np.float64)
    nanos[np.asarray(stamps.isna())] = np.nan
    seconds: np.ndarray = nanos / 1e9
    return seconds
