"""How different two versions' training data are: the candidate's train split against the
train split of the version it would replace, column by column, with the default drift tests
(what a reviewer asks before approving: was it trained on the same world?)."""

from __future__ import annotations

__all__ = ["training_drift"]

from shipline.artifacts import ContentStore
from shipline.monitoring.drift import DriftReport, compare_columns
from shipline.monitoring.reference_columns import reference_features
from shipline.registry import ModelVersion
from shipline.store import Database


def training_drift(
    db: Database, store: ContentStore, candidate: ModelVersion, current: ModelVersion
) -> DriftReport:
    """The candidate's training data compared with ``current``'s (the reference)."""
    reference, presorted = reference_features(db, store, current)
    candidates, _ = reference_features(db, store, candidate)
    return compare_columns(reference, candidates, reference_sorted=presorted)
