"""Rollouts in the registry: a promotion to an alias with an applied plan starts one instead of
moving the alias; verdicts advance it step by step to a promotion, or roll it back; people
pause, resume and abort; everything is in the audit chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipline.audit import list_events, verify_chain
from shipline.config import parse_config
from shipline.errors import ConflictError, NotFoundError
from shipline.registry import promote, resolve_model_version
from shipline.registry.applied_config import apply_config
from shipline.registry.rollout import (
    RolloutStatus,
    active_rollout,
    change_rollout,
    list_rollouts,
    record_verdict,
)
from shipline.store import Database, open_database
from tests.unit.registry.test_registry import _register

CONFIG = b"""name: churn
data: {source: d.csv, target: y}
training: {task: classification}
deployment:
  approval: {staging: auto, production: auto}
  rollout:
    production:
      shadow: {share: 0.5, duration: 10m}
      canary: {steps: [10, 50, 100], bake: 5m}
      guardrails: {error_rate: {max: 0.01}, min_requests: 50}
"""


@pytest.fixture
def db(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    database = open_database(db_url)
    _register(database, "alice", 3)
    apply_config(database, parse_config(CONFIG), "shipline.yaml", tmp_path, "alice")
    yield database
    database.close()


def _holder(db: Database, ref: str) -> int:
    with db.read() as conn:
        return resolve_model_version(conn, ref).version


def test_a_promotion_with_a_plan_starts_a_rollout_and_verdicts_carry_it_through(
    db: Database,
) -> None:
    assert promote(db, "churn", 1, "production", "alice").moved  # nothing held it: moves
    started = promote(db, "churn", 2, "production", "alice")
    assert not started.moved and started.rollout is not None
    rollout = started.rollout
    assert (rollout.stable, rollout.candidate) == (1, 2)
    assert (rollout.phase, rollout.step, rollout.share) == ("shadow", 0, 0.5)
    assert _holder(db, "churn@production") == 1  # the stable version keeps the alias
    shares = []
    for _ in range(3):
        with db.write("controller") as tx:
            rollout = record_verdict(tx, rollout, {"reason": "every guardrail held"}, "advance")
        shares.append((rollout.phase, rollout.step, rollout.share))
    assert shares == [("canary", 0, 0.1), ("canary", 1, 0.5), ("canary", 2, 1.0)]
    with db.write("controller") as tx:
        held = record_verdict(tx, rollout, {"reason": "12 of 50 requests"}, "hold")
    assert held.status == RolloutStatus.RUNNING and held.share == 1.0
    with db.write("controller") as tx:
        done = record_verdict(tx, held, {"reason": "every guardrail held"}, "advance")
    assert done.status == RolloutStatus.PROMOTED and done.ended_at is not None
    assert _holder(db, "churn@production") == 2
    assert [s["outcome"] for s in done.steps] == ["advance"] * 3 + ["hold", "advance"]
    with db.read() as conn:
        assert active_rollout(conn, "churn", "production") is None
    kinds = [e.action for e in list_events(db) if e.action.startswith("rollout.")]
    assert kinds == ["rollout.start", *["rollout.advance"] * 3, "rollout.hold",
                     "rollout.advance", "rollout.promoted"]  # fmt: skip
    assert verify_chain(db).ok


def test_a_broken_guardrail_rolls_back_and_the_alias_stays(db: Database) -> None:
    promote(db, "churn", 1, "production", "alice")
    rollout = promote(db, "churn", 2, "production", "alice").rollout
    assert rollout is not None
    with db.write("controller") as tx:
        ended = record_verdict(tx, rollout, {"reason": "error_rate 0.2 > 0.01"}, "rollback")
    assert ended.status == RolloutStatus.ROLLED_BACK
    assert _holder(db, "churn@production") == 1
    with db.write("controller") as tx, pytest.raises(ConflictError, match="rolled_back"):
        record_verdict(tx, ended, {}, "advance")


def test_people_pause_resume_and_abort(db: Database) -> None:
    promote(db, "churn", 1, "production", "alice")
    promote(db, "churn", 2, "production", "alice")
    paused = change_rollout(db, "churn", "production", "pause", "bob", "looking into p99")
    assert paused.status == RolloutStatus.PAUSED
    with pytest.raises(ConflictError, match="cannot pause"):
        change_rollout(db, "churn", "production", "pause", "bob")
    with db.write("controller") as tx, pytest.raises(ConflictError, match="paused"):
        record_verdict(tx, paused, {}, "advance")
    resumed = change_rollout(db, "churn", "production", "resume", "bob")
    assert resumed.status == RolloutStatus.RUNNING
    assert resumed.step_started_at >= paused.step_started_at
    aborted = change_rollout(db, "churn", "production", "abort", "carol", "wrong version")
    assert aborted.status == RolloutStatus.ABORTED and _holder(db, "churn@production") == 1
    with pytest.raises(NotFoundError, match="no rollout is running for churn@production"):
        change_rollout(db, "churn", "production", "resume", "bob")


def test_a_new_promotion_supersedes_the_running_rollout_and_rollback_moves_at_once(
    db: Database,
) -> None:
    promote(db, "churn", 1, "production", "alice")
    first = promote(db, "churn", 2, "production", "alice").rollout
    second = promote(db, "churn", 3, "production", "alice").rollout
    assert first is not None and second is not None and second.candidate == 3
    statuses = {r.id: r.status for r in list_rollouts(db, "churn")}
    assert statuses == {first.id: RolloutStatus.ABORTED, second.id: RolloutStatus.RUNNING}
    promote(db, "churn", 1, "staging", "alice")  # no plan for staging: moves at once
    assert promote(db, "churn", 2, "staging", "alice").moved
