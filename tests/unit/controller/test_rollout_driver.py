"""Judging a rollout step: hold while baking or short of traffic, advance when every guardrail
holds on enough traffic, roll back at the first breach; p99 from the servers' histograms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipline.config.rollout import AliasRollout
from shipline.controller.rollout_driver import judge
from shipline.monitoring.rollout_evidence import RolloutEvidence
from shipline.registry.rollout import Rollout, RolloutStatus
from shipline.registry.rollout_observation import LATENCY_BOUNDS_MS, RoleTraffic, bucket
from shipline.store.audit_log import stamp

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PLAN = {
    "shadow": {"share": 1.0, "duration": "30m"},
    "canary": {"steps": [10, 50, 100], "bake": "15m"},
    "guardrails": {
        "error_rate": {"max": 0.01},
        "latency_p99": {"max_ratio": 1.5},
        "agreement": {"min": 0.95},
        "prediction_drift": {"max_share": 0.0},
        "min_requests": 100,
    },
}


def _rollout(phase: str = "canary", step: int = 0) -> Rollout:
    plan = AliasRollout.model_validate(PLAN, strict=False)
    return Rollout(1, "churn", "production", 1, 2, RolloutStatus.RUNNING, phase, step, 0.1,
                   plan, "alice", stamp(START), stamp(START))  # fmt: skip


def _traffic(requests: int, errors: int = 0, ms: float = 5.0) -> RoleTraffic:
    counts = [0] * len(LATENCY_BOUNDS_MS)
    counts[bucket(ms / 1000)] = requests - errors
    return RoleTraffic(requests, errors, tuple(counts))


def _evidence(candidate: RoleTraffic, role: str = "canary", **more: object) -> RolloutEvidence:
    traffic = {"stable": _traffic(1000), role: candidate}
    return RolloutEvidence(stamp(START), stamp(START), traffic, **more)  # type: ignore[arg-type]


def test_a_healthy_step_holds_while_baking_then_advances() -> None:
    evidence = _evidence(_traffic(500))
    early = judge(_rollout(), evidence, START + timedelta(minutes=10))
    assert early.outcome == "hold" and "baking" in early.reason
    assert judge(_rollout(), evidence, START + timedelta(minutes=16)).outcome == "advance"


def test_too_little_traffic_holds_and_decides_nothing() -> None:
    # 50% errors on 20 requests: not enough traffic to judge, and not enough to advance.
    verdict = judge(_rollout(), _evidence(_traffic(20, 10)), START + timedelta(hours=1))
    assert verdict.outcome == "hold" and verdict.reason == "20 of 100 candidate requests"


@pytest.mark.parametrize(
    ("candidate", "more", "breach"),
    [
        (_traffic(200, 10), {}, "error_rate 0.0500 > 0.01"),
        (_traffic(200, ms=40.0), {}, "latency_p99"),
        (_traffic(200), {"paired_rows": 200, "agreement": 0.5}, "agreement 0.5000 < 0.95"),
        (_traffic(200), {"prediction_drift": 1.0}, "prediction_drift 1.00 > 0.0"),
    ],
)
def test_the_first_broken_guardrail_rolls_back_even_while_baking(
    candidate: RoleTraffic, more: dict[str, object], breach: str
) -> None:
    evidence = _evidence(candidate, "canary", **more)
    verdict = judge(_rollout(), evidence, START + timedelta(minutes=1))
    assert verdict.outcome == "rollback" and breach in verdict.reason
    assert verdict.verdict()["evidence"]["traffic"]["canary"]["requests"] == 200


def test_shadow_needs_paired_rows_for_agreement_and_judges_the_shadow_traffic() -> None:
    rollout = _rollout("shadow")
    later = START + timedelta(minutes=31)
    waiting = judge(rollout, _evidence(_traffic(300), "shadow", paired_rows=40), later)
    assert waiting.outcome == "hold" and "40 of 100 paired rows" in waiting.reason
    agreeing = _evidence(_traffic(300), "shadow", paired_rows=300, agreement=0.99)
    assert judge(rollout, agreeing, later).outcome == "advance"
    failing = _evidence(_traffic(300, 30), "shadow", paired_rows=300, agreement=0.99)
    assert judge(rollout, failing, later).outcome == "rollback"


def test_p99_comes_from_the_merged_histogram() -> None:
    fast = _traffic(99, ms=2.0)
    counts = list(fast.latency)
    counts[bucket(2.0)] += 1  # one request of 2 s in 100: the p99 is still the fast ones'
    assert RoleTraffic(100, 0, tuple(counts)).p99_ms == pytest.approx(2.0, rel=0.25)
    counts[bucket(0.002)] -= 1
    counts[bucket(2.0)] += 1  # two of 100 took 2 s: the p99 is theirs
    assert RoleTraffic(100, 0, tuple(counts)).p99_ms == pytest.approx(2000.0, rel=0.25)
    assert RoleTraffic().p99_ms is None and RoleTraffic().error_rate is None


@pytest.mark.parametrize(
    ("metric", "stable", "candidate", "labelled", "breaks"),
    [
        ("f1", 0.95, 0.90, 200, True),  # a drop of 0.05 > 0.02
        ("f1", 0.95, 0.94, 200, False),
        ("f1", 0.95, 0.50, 40, False),  # too few labelled rows to judge
        ("log_loss", 0.10, 0.20, 200, True),  # lower is better: a rise is the drop
        ("log_loss", 0.20, 0.10, 200, False),
    ],
)
def test_quality_breaks_once_both_versions_have_enough_labels(
    metric: str, stable: float, candidate: float, labelled: int, breaks: bool
) -> None:
    plan = {**PLAN, "guardrails": {"quality": {"metric": metric, "max_drop": 0.02},
                                   "min_requests": 100}}  # fmt: skip
    rollout = Rollout(1, "churn", "production", 1, 2, RolloutStatus.RUNNING, "canary", 0, 0.1,
                      AliasRollout.model_validate(plan, strict=False), "alice", stamp(START),
                      stamp(START))  # fmt: skip
    quality = {"metric": metric, "stable": {"value": stable, "labelled": labelled},
               "candidate": {"value": candidate, "labelled": labelled}}  # fmt: skip
    verdict = judge(rollout, _evidence(_traffic(500), quality=quality), START)
    assert (verdict.outcome == "rollback") is breaks, verdict
    if breaks:
        assert verdict.reason.startswith(f"quality: {metric}")
