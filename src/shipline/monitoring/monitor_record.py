"""A stored monitoring report, as typed records.

``shipline monitor`` writes the report as JSON (a content-store blob the report's row points
at); everything that reads one back (the CLI, the alarm verdicts, the Model Monitor export,
the HTML page, the history plot) reads it through ``MonitorReport``. Sections are added over
time, never renamed: reports written by earlier releases load (a missing section is None) and
keys this release does not know are kept.
"""

from __future__ import annotations

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "ColumnVerdict",
    "EstimatedQuality",
    "FeatureDrift",
    "MonitorReport",
    "QualityCheck",
    "RuleCheck",
]

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REPORT_SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)


class ColumnVerdict(_Record):
    """One column's drift verdict (``drifted`` None: not compared, ``note`` says why)."""

    column: str
    kind: str
    method: str | None = None
    statistic: float | None = None
    threshold: float | None = None
    drifted: bool | None = None
    reference_rows: int = 0
    current_rows: int = 0
    unique: int = 0
    reference_missing_share: float = 0.0
    current_missing_share: float = 0.0
    unseen: list[str] = Field(default_factory=list)
    note: str | None = None


class FeatureDrift(_Record):
    """Every feature's verdict and the dataset-level rule."""

    dataset_drift: bool
    share: float
    share_threshold: float
    compared: int
    drifted: int
    min_rows: int = 1
    not_enough_data: int = 0
    columns: list[ColumnVerdict]

    @property
    def drifted_columns(self) -> list[str]:
        """The names of the columns that drifted."""
        return [c.column for c in self.columns if c.drifted]


class RuleCheck(_Record):
    """A monitoring rule's outcome: passed, broken, or None when it could not be judged."""

    passed: bool | None = None
    rule: dict[str, Any] | None = None
    note: str | None = None

    def evidence(self) -> dict[str, Any]:
        """Everything the check found, without its verdict (what an alarm keeps)."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if k != "passed"}


class QualityCheck(RuleCheck):
    """Quality on the labelled share of the window, against training and the rule."""

    captured_rows: int = 0
    labelled_rows: int = 0
    metrics: dict[str, float] = Field(default_factory=dict)
    training_metrics: dict[str, float] = Field(default_factory=dict)


class EstimatedQuality(RuleCheck):
    """Quality estimated without labels (CBPE), with the bands it is judged by."""

    estimated: dict[str, float | None]  # None: not estimable on this traffic (one class)
    bands: dict[str, dict[str, float]] = Field(default_factory=dict)
    assumption: str = ""


class MonitorReport(_Record):
    """One monitoring report."""

    schema_version: int = REPORT_SCHEMA_VERSION
    model: str
    version: int
    source: str
    rows: int
    features: FeatureDrift
    prediction: ColumnVerdict
    quality: QualityCheck | None = None
    estimated_quality: EstimatedQuality | None = None
    bias: RuleCheck | None = None
    attribution: RuleCheck | None = None
    alarms: dict[str, list[int]] | None = None
    histograms: dict[str, Any] | None = None
    notification_problems: list[str] | None = None
    computed_on: str | None = None  # a cluster's description when measured there

    def checks(self) -> dict[str, RuleCheck]:
        """The rule checks the report holds, by alarm kind (drift aside)."""
        found = {
            "quality": self.quality,
            "estimated_quality": self.estimated_quality,
            "bias": self.bias,
            "attribution": self.attribution,
        }
        return {kind: check for kind, check in found.items() if check is not None}
