"""The controller's part in a rollout: judge the current step on its evidence, then hold,
advance (promoting after the last step) or roll back at the first broken guardrail.

A step advances when its hold time (the shadow ``duration`` or the canary ``bake``) has passed
since it started, the candidate served at least ``min_requests`` requests in it, and every
guardrail holds. A guardrail breaks only on enough traffic (``min_requests`` candidate requests,
or paired rows for agreement), so a handful of requests never decides. The step and its start
are in the database: a controller killed mid-rollout is replaced by one that goes on from the
recorded step.
"""

from __future__ import annotations

__all__ = ["Judgement", "drive_rollouts", "judge"]

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipline.config.value_types import parse_duration
from shipline.store.audit_log import parse_stamp

if TYPE_CHECKING:
    from collections.abc import Callable

    from shipline.config import ModelConfig
    from shipline.config.rollout import Guardrails
    from shipline.controller.controller_state import ControllerState
    from shipline.monitoring.rollout_evidence import RolloutEvidence
    from shipline.registry.rollout import Rollout


@dataclass(frozen=True)
class Judgement:
    """What a step's evidence says: hold, advance or rollback, and why."""

    outcome: str
    reason: str
    breaches: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    def verdict(self) -> dict[str, Any]:
        """What the rollout records."""
        return {"reason": self.reason, "breaches": list(self.breaches), "evidence": self.evidence}


def judge(rollout: Rollout, evidence: RolloutEvidence, now: datetime) -> Judgement:
    """The outcome of the current step at ``now``."""
    rails = rollout.plan.guardrails
    shown = evidence.to_dict()
    breaches = _breaches(rollout, evidence)
    if breaches:
        return Judgement("rollback", "; ".join(breaches), tuple(breaches), shown)
    plan = rollout.plan
    if rollout.phase == "shadow" and plan.shadow is not None:
        hold = parse_duration(plan.shadow.duration)
    else:
        hold = parse_duration(plan.canary.bake if plan.canary is not None else "0s")
    waited = now - parse_stamp(rollout.step_started_at)
    if waited < hold:
        return Judgement("hold", f"baking: {waited.total_seconds():.0f}s of {hold}", (), shown)
    served = evidence.candidate.requests
    if served < rails.min_requests:
        return Judgement("hold", f"{served} of {rails.min_requests} candidate requests", (), shown)
    paired = evidence.paired_rows
    if rails.agreement is not None and rollout.phase == "shadow" and paired < rails.min_requests:
        reason = f"{paired} of {rails.min_requests} paired rows for agreement"
        return Judgement("hold", reason, (), shown)
    return Judgement("advance", "every guardrail held", (), shown)


def _breaches(rollout: Rollout, evidence: RolloutEvidence) -> list[str]:
    """The guardrails the evidence breaks (each judged only on enough traffic)."""
    rails = rollout.plan.guardrails
    enough = evidence.candidate.requests >= rails.min_requests
    found = (check(rails, evidence, enough) for check in _GUARDRAILS)
    return [breach for breach in found if breach is not None]


def _error_rate(rails: Guardrails, evidence: RolloutEvidence, enough: bool) -> str | None:
    rate, rule = evidence.candidate.error_rate, rails.error_rate
    if rule is None or not enough or rate is None or rate <= rule.max:
        return None
    return f"error_rate {rate:.4f} > {rule.max}"


def _latency(rails: Guardrails, evidence: RolloutEvidence, enough: bool) -> str | None:
    ours, theirs, rule = evidence.stable.p99_ms, evidence.candidate.p99_ms, rails.latency_p99
    if rule is None or not enough or not ours or not theirs or theirs / ours <= rule.max_ratio:
        return None
    return (
        f"latency_p99 {theirs:.1f} ms is {theirs / ours:.2f}x the stable {ours:.1f} ms "
        f"> {rule.max_ratio}x"
    )


def _agreement(rails: Guardrails, evidence: RolloutEvidence, enough: bool) -> str | None:
    share, rule, paired = evidence.agreement, rails.agreement, evidence.paired_rows
    if rule is None or share is None or paired < rails.min_requests or share >= rule.min:
        return None
    return f"agreement {share:.4f} < {rule.min} on {paired} rows"


def _prediction_drift(rails: Guardrails, evidence: RolloutEvidence, enough: bool) -> str | None:
    drift, rule = evidence.prediction_drift, rails.prediction_drift
    if rule is None or not enough or drift is None or drift <= rule.max_share:
        return None
    return f"prediction_drift {drift:.2f} > {rule.max_share}"


def _quality(rails: Guardrails, evidence: RolloutEvidence, enough: bool) -> str | None:
    """Judged once both versions have ``min_requests`` labelled rows in the window."""
    from shipline.evaluation import LOWER_IS_BETTER

    rule, found = rails.quality, evidence.quality
    if rule is None or found is None:
        return None
    ours, theirs = found["stable"], found["candidate"]
    labelled = min(ours["labelled"], theirs["labelled"])
    if labelled < rails.min_requests or ours["value"] is None or theirs["value"] is None:
        return None
    drop = ours["value"] - theirs["value"]
    if rule.metric in LOWER_IS_BETTER:
        drop = -drop
    if drop <= rule.max_drop:
        return None
    return (
        f"quality: {rule.metric} {theirs['value']:.4f} vs the stable {ours['value']:.4f} "
        f"(a drop of {drop:.4f} > {rule.max_drop}) on {labelled} labelled rows"
    )


# Each guardrail: (the rules, the evidence, enough candidate traffic?) -> the breach or None.
_GUARDRAILS: tuple[Callable[[Guardrails, RolloutEvidence, bool], str | None], ...] = (
    _error_rate,
    _latency,
    _agreement,
    _prediction_drift,
    _quality,
)


def drive_rollouts(state: ControllerState, config: ModelConfig, now: datetime) -> list[str]:
    """Judge every running rollout of the model; notes on what was done."""
    from shipline.monitoring.notification import notify

    notes = []
    for rollout in state.active_rollouts(config.name):
        if rollout.status != "running":
            continue
        judgement = judge(rollout, state.rollout_evidence(rollout, now), now)
        if judgement.outcome == "hold":
            continue
        done = state.conclude_rollout_step(rollout, judgement.outcome, judgement.verdict())
        where = f"rollout {rollout.id} {rollout.model}@{rollout.alias}"
        notes.append(f"{where}: {judgement.outcome} ({judgement.reason}); now {done.status}")
        if judgement.outcome == "rollback" or done.status == "promoted":
            notify(config.notifications, f"rollout.{done.status}", {
                "model": rollout.model, "alias": rollout.alias, "rollout": rollout.id,
                "candidate": rollout.candidate, "reason": judgement.reason,
            })  # fmt: skip
    return notes
