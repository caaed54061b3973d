"""The reference a version's traffic is compared with, prepared once at training.

The evaluate step writes the training split with every column sorted on its own (missing values
last, ``shipline.data.profile.sorted_columns``) and the model's predictions on those rows,
sorted the same way; registration records both on the version (``training_data.reference``).
Drift compares marginal distributions, so a column sorted alone is the same reference, and a
monitoring check then sorts only the current window and never predicts the training rows
again. Versions registered before this fall back to the split itself and the model's
predictions on it.
"""

from __future__ import annotations

__all__ = ["Reference", "load_reference", "reference_features"]

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shipline.artifacts import ContentStore
from shipline.data.frame import ColumnValues, column_array
from shipline.monitoring.drift_files import ParquetColumns
from shipline.registry import ModelVersion
from shipline.store import Database

if TYPE_CHECKING:
    from shipline.scoring import LoadedModel


@dataclass(frozen=True)
class Reference:
    """The reference columns and predictions (``presorted``: stored sorted, missing last)."""

    columns: Mapping[str, ColumnValues]
    predictions: np.ndarray
    presorted: bool


def load_reference(
    db: Database, store: ContentStore, version: ModelVersion, model: LoadedModel
) -> Reference:
    """The version's reference: the sorted one recorded at registration, else its training
    split and the model's predictions on it."""
    recorded = version.facts.training_data
    if recorded is not None and recorded.reference and recorded.reference_predictions:
        columns, _ = reference_features(db, store, version)
        predictions = _table(store, recorded.reference_predictions).column(0)
        return Reference(columns, column_array(predictions), presorted=True)
    from shipline.monitoring.measurement import reference_predictions
    from shipline.monitoring.traffic import split_columns

    # The rows themselves: predicting columns sorted one by one would score rows nobody sent.
    split = split_columns(db, store, version)
    return Reference(split, reference_predictions(model, split), presorted=False)


def reference_features(
    db: Database, store: ContentStore, version: ModelVersion
) -> tuple[Mapping[str, ColumnValues], bool]:
    """The version's input columns of its training split, and whether they are stored sorted.
    A stored reference is read a column at a time, when a check looks the column up (text as
    dictionary codes): a check holds the current window and the columns being compared, never
    the whole reference."""
    recorded = version.facts.training_data
    if recorded is None or not recorded.reference:
        from shipline.monitoring.traffic import split_columns

        return split_columns(db, store, version), False
    names = version.facts.signature.input_names
    return ParquetColumns(store.fetch(recorded.reference), names, coded_text=True), True


def _table(store: ContentStore, digest: str) -> Any:
    from pyarrow import parquet

    return parquet.read_table(io.BytesIO(store.read_bytes(digest)))
