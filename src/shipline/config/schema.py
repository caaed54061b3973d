"""The shape of ``shipline.yaml`` (DESIGN.md section 4) as pydantic models.

Every model forbids unknown keys and is frozen. Later capabilities (serving, monitoring,
retraining) act on their sections; all of them are parsed and validated from day one so a
mistake is reported before anything runs.
"""

from __future__ import annotations

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "ApprovalPolicy",
    "BatchingConfig",
    "BiasConfig",
    "CaptureConfig",
    "Cron",
    "DataChecks",
    "DataConfig",
    "DeploymentConfig",
    "DriftConfig",
    "DriftOverride",
    "EvaluationConfig",
    "ExplainConfig",
    "Gate",
    "ModelConfig",
    "MonitoringConfig",
    "NotificationsConfig",
    "QualityRule",
    "RetrainingConfig",
    "ServingConfig",
    "ServingLimits",
    "SplitConfig",
    "TrainingConfig",
    "Trigger",
    "parse_duration",
]

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic_core import InitErrorDetails

from shipline.config.compute import ComputeConfig
from shipline.config.data_sections import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    DataChecks,
    DataConfig,
    SplitConfig,
    TrainingConfig,
)
from shipline.config.drift_method import check_drift_method
from shipline.config.rollout import AliasRollout
from shipline.config.section import Section
from shipline.config.trigger_kind import TRIGGER_KINDS
from shipline.config.value_types import (
    AliasName,
    ColumnName,
    Cron,
    Duration,
    ModelName,
    Share,
    Url,
    parse_duration,
)

DriftMethodName = Annotated[str, AfterValidator(check_drift_method)]


class Gate(Section):
    """One rule a candidate must pass: an absolute bound, or a comparison with an alias."""

    metric: str
    min: float | None = None
    max: float | None = None
    vs: Literal["production", "staging"] | None = None
    max_drop: float | None = Field(None, ge=0.0)

    @model_validator(mode="after")
    def _one_kind_of_rule(self) -> Gate:
        absolute = self.min is not None or self.max is not None
        relative = self.vs is not None or self.max_drop is not None
        if absolute == relative:
            raise ValueError(
                "a gate needs either 'min'/'max' (absolute) or 'vs' with 'max_drop' (comparison)"
            )
        if relative and (self.vs is None or self.max_drop is None):
            raise ValueError("a comparison gate needs both 'vs' and 'max_drop'")
        return self


class BiasConfig(Section):
    """Fairness metrics computed per sensitive column, and the largest allowed gap."""

    sensitive: list[ColumnName] = Field(min_length=1)
    metric: Literal["demographic_parity_difference", "equal_opportunity_difference"] = (
        "demographic_parity_difference"
    )
    max: Share = 0.1


class ExplainConfig(Section):
    """Which explanation is computed and how many features are kept."""

    method: Literal["permutation"] = "permutation"
    top: int = Field(10, ge=1, le=1000)


class EvaluationConfig(Section):
    """Metrics reported and the gates that decide registration."""

    metrics: list[str] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    bias: BiasConfig | None = None
    explain: ExplainConfig | None = None


class ApprovalPolicy(Section):
    """Whether moving each alias needs a person's approval, and how many."""

    staging: Literal["auto", "manual"] = "auto"
    production: Literal["auto", "manual"] = "manual"
    approvers: int = Field(1, ge=1, le=10)


class DeploymentConfig(Section):
    """How versions reach staging and production."""

    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    # Per alias: shadow and canary phases and their guardrails (config/rollout.py).
    rollout: dict[AliasName, AliasRollout] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Without rollouts the document (and its applied-config digest) is as before.
        dumped: dict[str, Any] = handler(self)
        if not self.rollout:
            dumped.pop("rollout", None)
        return dumped


class CaptureConfig(Section):
    """Which share of served requests is recorded for monitoring."""

    sample: Share = 1.0
    # Rows held in memory while the store cannot be written; beyond this, new captures are
    # dropped and counted (shipline_capture_dropped_rows_total), never buffered without bound.
    max_backlog_rows: int = Field(100_000, ge=1, le=100_000_000)


class BatchingConfig(Section):
    """Adaptive micro-batching of concurrent requests."""

    max_batch_size: int = Field(64, ge=1, le=4096)
    max_wait_ms: float = Field(2.0, ge=0.0, le=1000.0)


class ServingLimits(Section):
    """Limits on what one request may carry."""

    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=1024**3)
    max_rows: int = Field(10_000, ge=1, le=10_000_000)
    max_json_depth: int = Field(32, ge=2, le=1000)
    # A client that sends headers and then stalls may hold a body read this long, no longer.
    body_timeout_s: float = Field(10.0, gt=0.0, le=600.0)
    # Request headers must arrive within this many seconds (slow clients are disconnected).
    header_timeout_s: float = Field(10.0, gt=0.0, le=600.0)
    # Connections beyond this are answered 503 at once: file descriptors never run out.
    max_connections: int = Field(1000, ge=1, le=100_000)


class ServingConfig(Section):
    """The prediction service."""

    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    limits: ServingLimits = Field(default_factory=ServingLimits)
    onnx: bool = True


class DriftOverride(Section):
    """A per-column choice of drift method and threshold."""

    method: DriftMethodName
    threshold: float = Field(gt=0.0)


class DriftConfig(Section):
    """Data drift rules; defaults match Evidently's DataDriftPreset."""

    share: Share = 0.5
    strict: bool = False
    min_effect: Share = 0.1
    # Fewer current (or reference) values than this in a column: "not enough data", no verdict.
    min_rows: int = Field(30, ge=1)
    columns: dict[ColumnName, DriftOverride] = Field(default_factory=dict)


class QualityRule(Section):
    """A bound on a model-quality metric over a monitoring window."""

    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_bound(self) -> QualityRule:
        if self.min is None and self.max is None:
            raise ValueError("a quality rule needs 'min' or 'max'")
        return self


class BiasLimit(Section):
    """The largest bias metric allowed on labelled traffic."""

    max: Share = 0.1


class AttributionLimit(Section):
    """The smallest nDCG of the importance ranking against the baseline."""

    min_ndcg: Share = 0.9


class MonitoringConfig(Section):
    """What monitoring checks and how often."""

    schedule: Cron | None = None
    window: Duration = "24h"
    drift: DriftConfig = Field(default_factory=DriftConfig)
    quality: QualityRule | None = None
    estimated_quality: QualityRule | None = None
    bias: BiasLimit | None = None
    attribution: AttributionLimit | None = None


# The keys every trigger was dumped with before trigger kinds became plug-ins: dumped still, so
# a model's applied-config digest does not change when shipline is upgraded.
_DUMPED_TRIGGER_KEYS = ("cron", "new_data", "environment", "alarm")


class Trigger(Section):
    """One reason to retrain: exactly one key, the name of a trigger kind, with its value."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, defer_build=True)

    @model_validator(mode="wrap")
    @classmethod
    def _one_known_kind(cls, data: Any, handler: ModelWrapValidatorHandler[Trigger]) -> Trigger:
        if not isinstance(data, dict):
            return handler(data)
        # A key set to null (as dumped) or false (``new_data: false``) is not a trigger.
        given = {
            key: value for key, value in data.items() if value is not None and value is not False
        }
        if len(given) != 1:
            raise ValueError(
                f"a trigger has exactly one of {_trigger_kinds_text()}, found "
                f"{sorted(given) or 'none'}"
            )
        ((key, value),) = given.items()
        if key not in TRIGGER_KINDS:
            raise ValueError(
                f"unknown trigger kind {key!r}; expected one of {_trigger_kinds_text()}"
            )
        try:
            parsed = TypeAdapter(TRIGGER_KINDS.get(key).value_type).validate_python(
                value, strict=True
            )
        except ValidationError as error:
            raise ValidationError.from_exception_data(
                cls.__name__,
                [
                    InitErrorDetails(
                        type=detail["type"],
                        loc=(key, *detail["loc"]),
                        input=detail["input"],
                        ctx=detail.get("ctx", {}),
                    )
                    for detail in error.errors(include_url=False)
                ],
            ) from None
        return handler({key: parsed})

    if TYPE_CHECKING:
        # A trigger's one key is its kind's name: ``trigger.cron``, ``trigger.new_data``.
        def __getattr__(self, name: str) -> Any: ...

    @property
    def kind(self) -> str:
        """The trigger kind's name."""
        return next(iter(self.__pydantic_extra__ or {}))

    @property
    def value(self) -> Any:
        """The trigger's configured value."""
        return (self.__pydantic_extra__ or {})[self.kind]

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        return {**dict.fromkeys(_DUMPED_TRIGGER_KEYS), **dumped}


def _trigger_kinds_text() -> str:
    names = ["'new_data: true'" if n == "new_data" else repr(n) for n in TRIGGER_KINDS.names()]
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]


class RetrainingConfig(Section):
    """When the model is retrained, and the guards that hold it back."""

    triggers: list[Trigger] = Field(default_factory=list)
    cooldown: Duration | None = None
    min_new_rows: int = Field(0, ge=0)


class NotificationsConfig(Section):
    """Where failures and alarms are reported."""

    webhook: Url | None = None
    timeout: Duration = "5s"
    # Loopback, private, link-local and other non-public addresses are refused unless allowed:
    # a webhook must not become a way to reach internal services (SSRF).
    allow_private: bool = False


class ModelConfig(Section):
    """A validated ``shipline.yaml``: one model's whole life."""

    name: ModelName
    owner: str | None = None
    description: str | None = Field(None, max_length=10_000)
    data: DataConfig
    training: TrainingConfig
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    retraining: RetrainingConfig = Field(default_factory=RetrainingConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)
    notifications: NotificationsConfig = Field(default_factory=NotificationsConfig)

    @model_validator(mode="after")
    def _distributed_training(self) -> ModelConfig:
        if not self.compute.distributed_training:
            return self
        from shipline.config.distributed_trainer import DISTRIBUTED_TRAINERS

        training = self.training
        where = "compute.distributed_training: true"
        if training.entrypoint:
            raise ValueError(
                f"{where} trains training.estimator across the workers; an entrypoint trains "
                "itself (use n_jobs or the library's own Dask interface inside it)"
            )
        if training.search is not None:
            raise ValueError(
                f"{where} and training.search: a search fits many models, each on one worker "
                "(its trials spread over the cluster); choose one of the two"
            )
        package = (training.estimator or "").partition(".")[0]
        if package not in DISTRIBUTED_TRAINERS:
            shown = training.estimator or "the default estimator"
            raise ValueError(
                f"{where}: no distributed trainer for {shown}; expected an estimator of "
                + " or ".join(DISTRIBUTED_TRAINERS.names())
                + " (e.g. xgboost.XGBClassifier, lightgbm.LGBMRegressor)"
            )
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Where work runs is not part of what a model is: a local config's document (and
        # its applied-config digest) stays as it was before the section existed.
        dumped: dict[str, Any] = handler(self)
        if self.compute == ComputeConfig():
            dumped.pop("compute", None)
        return dumped

    def task_metrics(self) -> tuple[str, ...]:
        """The metric names that exist for this model's task."""
        if self.training.task == "classification":
            return CLASSIFICATION_METRICS
        return REGRESSION_METRICS
