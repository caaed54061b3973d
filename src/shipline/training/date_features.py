"""Date and time columns as numeric features: never one-hot over distinct dates.

Each datetime column becomes its position in time (seconds since the epoch, which carries
trend) and its calendar parts (year, month, day of month, day of week; hour when the column
holds times of day), which carry seasonality. Missing values stay missing (NaN) for the
imputer behind this step.
"""

from __future__ import annotations

__all__ = ["DateFeatures"]

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from shipline.timestamps import epoch_seconds

_PARTS = ("epoch", "year", "month", "day", "dayofweek")


class DateFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Turn each datetime column into epoch seconds and calendar parts."""

    def fit(self, x: pd.DataFrame, y: Any = None) -> DateFeatures:
        """Remember the columns, and whether any holds a time of day (then add the hour)."""
        frame = pd.DataFrame(x)
        self.columns_ = list(frame.columns)
        self.with_hour_ = {
            str(c): bool((_as_datetimes(frame[c]).dropna().dt.hour != 0).any())
            for c in self.columns_
        }
        return self

    def transform(self, x: pd.DataFrame) -> np.ndarray:
        """One float column per feature, in ``get_feature_names_out`` order."""
        frame = pd.DataFrame(x)
        blocks: list[np.ndarray] = []
        for column in self.columns_:
            stamps = _as_datetimes(frame[column])
            parts = [
                epoch_seconds(stamps),
                stamps.dt.year.to_numpy(dtype=float, na_value=np.nan),
                stamps.dt.month.to_numpy(dtype=float, na_value=np.nan),
                stamps.dt.day.to_numpy(dtype=float, na_value=np.nan),
                stamps.dt.day_of_week.to_numpy(dtype=float, na_value=np.nan),
            ]
            if self.with_hour_[str(column)]:
                parts.append(stamps.dt.hour.to_numpy(dtype=float, na_value=np.nan))
            blocks.append(np.column_stack(parts))
        return np.hstack(blocks) if blocks else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``<column>__epoch``, ``<column>__year``, … for each column."""
        names = []
        for column in self.columns_:
            parts = (*_PARTS, "hour") if self.with_hour_[str(column)] else _PARTS
            names += [f"{column}__{part}" for part in parts]
        return np.asarray(names, dtype=object)


def _as_datetimes(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC")
    return stamps
