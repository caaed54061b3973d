"""Scoring: load a version, check request data against its signature, predict, batch-score."""

from shipline.scoring.batch_scoring import score_file
from shipline.scoring.loaded_model import LoadedModel, Prediction, load_version
from shipline.scoring.payload import Batch, PayloadError, parse_invocations
from shipline.scoring.signature import SchemaError, coerce_columns

__all__ = [
    "Batch",
    "LoadedModel",
    "PayloadError",
    "Prediction",
    "SchemaError",
    "coerce_columns",
    "load_version",
    "parse_invocations",
    "score_file",
]
