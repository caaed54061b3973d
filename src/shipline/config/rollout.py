"""``deployment.rollout``: how a new version takes over an alias, judged by its own traffic.

Per alias: an optional shadow phase (the candidate answers a mirrored share of requests off
the request path, never returned), then canary steps (the share of traffic it answers, each
held for the bake time), and the guardrails every phase must hold on enough traffic.
"""

from __future__ import annotations

__all__ = [
    "AgreementGuardrail",
    "AliasRollout",
    "CanaryPhase",
    "ErrorRateGuardrail",
    "Guardrails",
    "LatencyGuardrail",
    "PredictionDriftGuardrail",
    "QualityGuardrail",
    "ShadowPhase",
]

import itertools

from pydantic import Field, field_validator, model_validator

from shipline.config.section import Section
from shipline.config.value_types import Duration, Share


class ShadowPhase(Section):
    """The candidate answers a mirrored share of requests; its answers are only recorded."""

    share: Share = 1.0
    duration: Duration = "30m"


class CanaryPhase(Section):
    """Traffic percentages the candidate answers, each step held for ``bake``."""

    steps: list[int] = Field(default_factory=lambda: [10, 50, 100], min_length=1, max_length=20)
    bake: Duration = "15m"

    @field_validator("steps")
    @classmethod
    def _rising_to_100(cls, steps: list[int]) -> list[int]:
        if any(not 0 < step <= 100 for step in steps):
            raise ValueError(f"expected percentages from 1 to 100, got {steps}")
        if any(later <= earlier for earlier, later in itertools.pairwise(steps)):
            raise ValueError(f"expected rising percentages, got {steps}")
        if steps[-1] != 100:
            raise ValueError(f"the last step must be 100 (the candidate takes over), got {steps}")
        return steps


class ErrorRateGuardrail(Section):
    """The candidate's share of failed requests."""

    max: Share


class LatencyGuardrail(Section):
    """The candidate's p99 latency against the stable version's in the same window."""

    max_ratio: float = Field(ge=1.0, le=100.0)


class AgreementGuardrail(Section):
    """The share of rows on which candidate and stable predict the same."""

    min: Share


class PredictionDriftGuardrail(Section):
    """The candidate's predictions against the stable version's (drift test per output)."""

    max_share: Share


class QualityGuardrail(Section):
    """Once labels arrive for both: the candidate's metric may drop this much at most."""

    metric: str = Field(min_length=1, max_length=64)
    max_drop: float = Field(ge=0.0)


class Guardrails(Section):
    """What every phase must hold; verdicts need ``min_requests`` candidate requests."""

    error_rate: ErrorRateGuardrail | None = None
    latency_p99: LatencyGuardrail | None = None
    agreement: AgreementGuardrail | None = None
    prediction_drift: PredictionDriftGuardrail | None = None
    quality: QualityGuardrail | None = None
    min_requests: int = Field(100, ge=1, le=10_000_000)


class AliasRollout(Section):
    """How a version rolls out to one alias."""

    shadow: ShadowPhase | None = None
    canary: CanaryPhase | None = None
    guardrails: Guardrails = Field(default_factory=Guardrails)

    @model_validator(mode="after")
    def _has_a_phase(self) -> AliasRollout:
        if self.shadow is None and self.canary is None:
            raise ValueError("give a shadow phase, canary steps, or both")
        return self
