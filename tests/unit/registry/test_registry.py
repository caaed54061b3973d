"""The registry on SQLite and PostgreSQL: versions, aliases, approvals, four-eyes, races."""

from __future__ import annotations

import itertools
import multiprocessing

import orjson
import pytest

from shipline.audit import list_events, verify_chain
from shipline.config.schema import ApprovalPolicy
from shipline.errors import ConflictError, ForbiddenError, NotFoundError, UsageError
from shipline.pipeline.run_record import start_run
from shipline.registry import (
    alias_history,
    approve,
    list_approvals,
    list_model_versions,
    promote,
    register_version,
    reject,
    resolve_model_version,
    rollback,
)
from shipline.store import Database, open_database
from shipline.store.blob_kinds import record_kinds

MANUAL = ApprovalPolicy(staging="auto", production="manual", approvers=1)


def _register(db: Database, author: str, count: int = 1, name: str = "churn") -> list[int]:
    numbers = []
    for index in range(count):
        run_id = start_run(db, author, name, "test", {}, "0" * 64, {}, {})
        with db.write(author) as tx:
            digest = f"{index:064x}"
            record_kinds(tx.conn, {digest: "model"})  # as the training step records its bundle
            version = register_version(tx, name, run_id, digest, digest, {"metrics": {"auc": 0.9}})
        numbers.append(version.version)
    return numbers


def _holder(db: Database, ref: str) -> int:
    with db.read() as conn:
        return resolve_model_version(conn, ref).version


@pytest.fixture
def db(db_url: str):  # type: ignore[no-untyped-def]
    database = open_database(db_url)
    yield database
    database.close()


def test_versions_number_up_and_resolve(db: Database) -> None:
    assert _register(db, "alice", 3) == [1, 2, 3]
    assert [v.ref for v in list_model_versions(db, "churn")] == ["churn:1", "churn:2", "churn:3"]
    with db.read() as conn:
        assert resolve_model_version(conn, "churn").version == 3
        assert resolve_model_version(conn, "churn:2").version == 2
        with pytest.raises(NotFoundError, match="no alias 'production'"):
            resolve_model_version(conn, "churn@production")
        with pytest.raises(NotFoundError, match="did you mean 'churn'"):
            resolve_model_version(conn, "chrun")
        for bad in ("../x", "churn@../p", "a/b:1", "x" * 300):
            with pytest.raises(UsageError):
                resolve_model_version(conn, bad)


def test_auto_alias_moves_at_once_and_rolls_back(db: Database) -> None:
    _register(db, "alice", 2)
    assert promote(db, "churn", 1, "staging", "alice", MANUAL).moved
    assert promote(db, "churn", 2, "staging", "alice", MANUAL).moved
    assert _holder(db, "churn@staging") == 2
    assert rollback(db, "churn", "staging", "carol", "bad canary").version == 1
    assert _holder(db, "churn@staging") == 1
    moves = alias_history(db, "churn", "staging")
    assert [(m.from_version, m.to_version, m.kind) for m in moves] == [
        (None, 1, "promote"),
        (1, 2, "promote"),
        (2, 1, "rollback"),
    ]
    assert moves[-1].actor == "carol" and moves[-1].reason == "bad canary"
    _register(db, "alice", 1, name="fraud")
    promote(db, "fraud", 1, "staging", "alice", MANUAL)
    with pytest.raises(ConflictError, match="no earlier holder"):
        rollback(db, "fraud", "staging", "alice")


def test_manual_alias_needs_someone_other_than_the_author(db: Database) -> None:
    _register(db, "alice")
    result = promote(db, "churn", 1, "production", "alice", MANUAL)
    assert not result.moved and result.approval is not None and result.approval.status == "pending"
    again = promote(db, "churn", 1, "production", "alice", MANUAL)
    assert again.approval is not None and again.approval.id == result.approval.id  # one request
    with pytest.raises(ForbiddenError, match="four-eyes"):
        approve(db, result.approval.id, "alice")
    with pytest.raises(NotFoundError):
        _holder(db, "churn@production")
    approved = approve(db, result.approval.id, "bob", "looks good")
    assert approved.status == "approved" and approved.decisions[0]["actor"] == "bob"
    assert _holder(db, "churn@production") == 1
    with pytest.raises(ConflictError, match="already approved"):
        approve(db, result.approval.id, "carol")


def test_the_run_owner_and_the_requester_cannot_approve_either(db: Database) -> None:
    run_id = start_run(db, "dana", "churn", "test", {}, "0" * 64, {}, {})
    with db.write("ci-bot") as tx:
        record_kinds(tx.conn, {"a" * 64: "model"})
        register_version(tx, "churn", run_id, "a" * 64, "a" * 64, {})
    approval = promote(db, "churn", 1, "production", "erin", MANUAL).approval
    assert approval is not None
    for author in ("ci-bot", "dana", "erin"):
        with pytest.raises(ForbiddenError, match="four-eyes"):
            approve(db, approval.id, author)
    assert approve(db, approval.id, "frank").status == "approved"


def test_two_approvers_when_the_policy_asks(db: Database) -> None:
    _register(db, "alice")
    policy = ApprovalPolicy(production="manual", approvers=2)
    approval = promote(db, "churn", 1, "production", "alice", policy).approval
    assert approval is not None and approval.required == 2
    assert approve(db, approval.id, "bob").status == "pending"
    with pytest.raises(ConflictError, match="already approved it"):
        approve(db, approval.id, "bob")
    with pytest.raises(NotFoundError):
        _holder(db, "churn@production")
    assert approve(db, approval.id, "carol").status == "approved"
    assert _holder(db, "churn@production") == 1


def test_rejected_stays_rejected(db: Database) -> None:
    _register(db, "alice")
    approval = promote(db, "churn", 1, "production", "alice", MANUAL).approval
    assert approval is not None
    with pytest.raises(UsageError, match="needs a reason"):
        reject(db, approval.id, "bob", " ")
    rejected = reject(db, approval.id, "bob", "fails on the holdout from March")
    assert rejected.status == "rejected" and rejected.reason == "fails on the holdout from March"
    with pytest.raises(ConflictError, match="already rejected"):
        approve(db, approval.id, "carol")
    with pytest.raises(ConflictError, match="already rejected"):
        reject(db, approval.id, "carol", "again")
    with pytest.raises(NotFoundError):
        _holder(db, "churn@production")
    assert [a.status for a in list_approvals(db)] == ["rejected"]
    actions = [e.action for e in list_events(db, limit=100)]
    assert actions[-2:] == ["approval.request", "approval.reject"]


def _promote_many(db_url: str, versions: list[int], queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    db = open_database(db_url)
    for version in versions:
        promote(db, "churn", version, "staging", f"worker{version}", MANUAL)
    queue.put("done")
    db.close()


def test_concurrent_promotions_leave_one_consistent_holder(db: Database, db_url: str) -> None:
    _register(db, "alice", 4)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    plans = [[1, 2] * 5, [3, 4] * 5]
    workers = [context.Process(target=_promote_many, args=(db_url, plan, queue)) for plan in plans]
    for worker in workers:
        worker.start()
    assert [queue.get(timeout=120) for _ in workers] == ["done", "done"]
    for worker in workers:
        worker.join(timeout=60)
    holder = _holder(db, "churn@staging")
    moves = [e for e in list_events(db, limit=10_000) if e.target == "model:churn@staging"]
    assert moves, "every move is audited"
    assert orjson.loads(moves[-1].after)["version"] == holder
    history = alias_history(db, "churn", "staging")
    assert len(history) == len(moves)
    for earlier, later in itertools.pairwise(history):
        assert later.from_version == earlier.to_version  # no lost update
    assert history[-1].to_version == holder
    assert verify_chain(db).ok


def test_stale_approvals_are_superseded_and_cannot_be_approved(db: Database) -> None:
    from shipline.registry.approval_status import ApprovalStatus

    _register(db, "alice", 3)
    first = promote(db, "churn", 1, "production", "alice", MANUAL).approval
    second = promote(db, "churn", 2, "production", "alice", MANUAL).approval
    assert first is not None and second is not None
    statuses = {a.id: a.status for a in list_approvals(db)}
    assert statuses == {first.id: ApprovalStatus.SUPERSEDED, second.id: "pending"}
    with pytest.raises(ConflictError, match="already superseded"):
        approve(db, first.id, "bob")
    # The alias moving any other way (here: at once, under an auto policy) supersedes the rest.
    promote(db, "churn", 3, "production", "alice", ApprovalPolicy(production="auto"))
    assert {a.id: a.status for a in list_approvals(db)}[second.id] == "superseded"
    assert _holder(db, "churn@production") == 3
    events = [e.action for e in list_events(db, 50)]
    assert events.count("approval.supersede") == 2
    assert verify_chain(db).ok
    from shipline.audit.state_check import verify_audit

    assert verify_audit(db).ok  # the superseded states are vouched for by the chain


def test_no_approval_opens_for_the_version_an_alias_already_holds(db: Database) -> None:
    _register(db, "alice", 1)
    assert promote(db, "churn", 1, "production", "alice", ApprovalPolicy(production="auto")).moved
    again = promote(db, "churn", 1, "production", "alice", MANUAL)
    assert not again.moved and again.approval is None
    assert list_approvals(db) == []
