"""What a registered version records about itself, as typed records.

The details are stored as JSON on the version's row; ``VersionDetails`` reads them. Fields are
added over time, never renamed: rows written by earlier releases still load (a field they lack
takes its default), and keys this release does not know are kept (``extra="allow"``). The
document's shape is ``schema_version`` 2 since the training splits are recorded on the version
(``training_data``); version 1 documents lack it and are read through the run's steps.
"""

from __future__ import annotations

__all__ = [
    "DETAILS_SCHEMA_VERSION",
    "Environment",
    "GateRecord",
    "Lineage",
    "OnnxForm",
    "ServingForms",
    "Signature",
    "SignatureColumn",
    "SignatureOutput",
    "Task",
    "TrainingData",
    "VersionDetails",
]

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DETAILS_SCHEMA_VERSION = 2


class Task(StrEnum):
    """What a model predicts."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class SignatureColumn(_Record):
    """One input column: its name, dtype and (for dates read from text) format."""

    name: str
    dtype: str
    format: str | None = None


class SignatureOutput(_Record):
    """What the model returns: the target's name, the task, and classifiers' classes."""

    name: str
    task: Task
    classes: list[Any] | None = None


class Signature(_Record):
    """The columns a version takes and what it returns."""

    inputs: list[SignatureColumn]
    output: SignatureOutput
    id_column: str | None = None

    @property
    def input_names(self) -> list[str]:
        """The input columns, in order."""
        return [column.name for column in self.inputs]


class OnnxForm(_Record):
    """Whether a verified ONNX form exists, its digest and how it was verified, or why not."""

    available: bool = False
    reason: str | None = None
    digest: str | None = None
    rows_checked: int | None = None
    tolerance: float | None = None


class ServingForms(_Record):
    """The forms a version can be served in."""

    native: dict[str, Any] = Field(default_factory=lambda: {"available": True})
    onnx: OnnxForm | None = None


class GateRecord(_Record):
    """The gates' verdict as registered: every rule, and the versions compared against."""

    passed: bool
    rules: list[dict[str, Any]] = Field(default_factory=list)
    champions: dict[str, Any] = Field(default_factory=dict)


class Environment(_Record):
    """The interpreter and packages a version was trained with."""

    python: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)


class Lineage(_Record):
    """Where a version came from: run, dataset, config, code and environment."""

    run: int | None = None
    dataset: str | None = None
    dataset_digest: str | None = None
    config_digest: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    environment: Environment = Field(default_factory=Environment)


class TrainingData(_Record):
    """The digests of the train and held-out splits the version was fitted and judged on, and
    of the monitoring reference made from them (``shipline.monitoring.reference_columns``)."""

    train: str
    test: str
    reference: str | None = None
    reference_predictions: str | None = None


class VersionSignature(_Record):
    """The version's files signed with the team's key (``shipline.registry.version_signing``)."""

    digest: str
    key_id: str
    format: str
    files: dict[str, str]


class VersionDetails(_Record):
    """Everything a version records about itself."""

    schema_version: int = 1
    task: Task
    target: str
    description: str | None = None
    estimator: str | None = None
    seed: int | None = None
    format: str | None = None
    flavour: str | None = None
    signature: Signature
    metrics: dict[str, float] = Field(default_factory=dict)
    bias: dict[str, Any] | None = None
    explain: dict[str, Any] | None = None
    serving_forms: ServingForms = Field(default_factory=ServingForms)
    gates: GateRecord | None = None
    baseline_digest: str | None = None
    lineage: Lineage = Field(default_factory=Lineage)
    training_data: TrainingData | None = None
    signed: VersionSignature | None = None
