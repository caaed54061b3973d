"""The shadow mirror answers queued copies in batches, within its time budget, and never lets
a copy's failure or a full queue reach the user's request."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import numpy as np

from shipline.scoring import SchemaError
from shipline.scoring.loaded_model import LoadedModel, Prediction
from shipline.server.batcher import BatchResult
from shipline.server.rollout_traffic import Candidate
from shipline.server.shadow_mirror import MAX_MIRRORS_QUEUED, Mirrored, ShadowMirror
from tests.event_loop import run_in_own_thread


class _Model:
    """Duck-typed candidate: predicts 1 when x > 0; rows with x > 1e9 break it."""

    name, version, form = "m", 2, "onnx"
    bundle = SimpleNamespace(task="classification", classes=[0, 1])
    signature = SimpleNamespace(id_column="id")
    concat = staticmethod(LoadedModel.concat)
    rows = staticmethod(LoadedModel.rows)

    def __init__(self) -> None:
        self.calls: list[int] = []

    def frame(self, columns: dict[str, Any], rows: int) -> dict[str, Any]:
        if set(columns) != {"x"}:
            raise SchemaError(None, "expected x")
        return {"x": np.asarray(columns["x"], dtype=np.float64)}

    def predict(self, inputs: dict[str, Any], probabilities: bool = False) -> Prediction:
        x = inputs["x"]
        self.calls.append(len(x))
        if (x > 1e9).any():
            raise OverflowError("too large")
        values = (x > 0).astype(int).tolist()
        return Prediction(values, [[1.0 - v, float(v)] for v in values], [0, 1])


def _candidate(model: _Model) -> Candidate:
    view = SimpleNamespace(id=7, phase="shadow", share=1.0)
    return Candidate(view, model, SimpleNamespace(stopped=False))  # type: ignore[arg-type]


class _Seen:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, list[Any], dict[str, list[Any]]]] = []
        self.counted: list[bool] = []

    def record(self, name: str, request_id: str, inputs: Any, result: BatchResult, rows: int,
               ids: dict[str, list[Any]]) -> None:  # fmt: skip
        assert result.batch is not None
        mine = result.batch["x"][result.start : result.start + rows]
        assert mine.tolist() == inputs["x"].tolist()
        self.recorded.append((request_id, result.values, ids))

    def count(self, name: str, candidate: Candidate, ok: bool, seconds: float) -> None:
        self.counted.append(ok)


def test_queued_copies_are_answered_in_one_prediction_and_each_is_captured() -> None:
    model, seen = _Model(), _Seen()

    async def scenario() -> None:
        mirror = ShadowMirror(seen.record, seen.count, 64, lambda _: 0.0)
        candidate = _candidate(model)
        validated = {"x": np.array([1.0, -1.0])}
        assert mirror.offer(Mirrored("m", candidate, "r1", 2, validated, None, {"id": ["a", "b"]}))
        assert mirror.offer(Mirrored("m", candidate, "r2", 1, None, {"x": [3.0], "id": ["c"]}))
        assert mirror.offer(Mirrored("m", candidate, "r3", 1, None, {"y": [3.0]}))  # invalid
        await mirror.stop()

    run_in_own_thread(scenario())
    assert model.calls == [3]  # the two valid copies, one call
    assert seen.recorded == [("r1", [1, 0], {"id": ["a", "b"]}), ("r2", [1], {"id": ["c"]})]
    assert sorted(seen.counted) == [False, True, True]  # the invalid copy: the candidate's failure


def test_a_copy_that_breaks_the_batch_fails_alone() -> None:
    model, seen = _Model(), _Seen()

    async def scenario() -> None:
        mirror = ShadowMirror(seen.record, seen.count, 64, lambda _: 0.0)
        candidate = _candidate(model)
        for index, value in enumerate([1.0, 1e300, -2.0]):
            mirror.offer(Mirrored("m", candidate, f"r{index}", 1, {"x": np.array([value])}))
        await mirror.stop()

    run_in_own_thread(scenario())
    assert [r[0] for r in seen.recorded] == ["r0", "r2"]
    assert seen.counted.count(False) == 1 and seen.counted.count(True) == 2


def test_a_full_queue_drops_and_a_spent_budget_holds_copies_until_stop() -> None:
    model, seen = _Model(), _Seen()

    async def scenario() -> None:
        # Writing one row "costs" an hour: after the first batch the budget is spent.
        mirror = ShadowMirror(seen.record, seen.count, 1, lambda _: 3600.0)
        candidate = _candidate(model)
        offered = [
            mirror.offer(Mirrored("m", candidate, f"r{i}", 1, {"x": np.array([1.0])}))
            for i in range(MAX_MIRRORS_QUEUED + 5)
        ]
        assert offered.count(False) == 5 and not mirror.has_room()
        yields = 0
        while not seen.recorded:  # the first batch, on the budget saved up
            assert yields < 10_000, "the drain task never answered"
            yields += 1
            await asyncio.sleep(0)  # poll interval: a yield to the event loop, not a clock wait
        for _ in range(100):  # the drain task runs again and again: the budget holds it back
            await asyncio.sleep(0)  # poll interval: a yield to the event loop, not a clock wait
        assert len(seen.recorded) == 1  # one batch, then over budget: the rest wait
        await mirror.stop()  # stopping answers everything queued, whatever the budget

    run_in_own_thread(scenario())
    assert len(seen.recorded) == MAX_MIRRORS_QUEUED


def test_copies_for_a_candidate_that_was_let_go_are_not_answered() -> None:
    model, seen = _Model(), _Seen()

    async def scenario() -> None:
        mirror = ShadowMirror(seen.record, seen.count, 64, lambda _: 0.0)
        candidate = _candidate(model)
        mirror.offer(Mirrored("m", candidate, "r1", 1, {"x": np.array([1.0])}))
        candidate.batcher.stopped = True  # type: ignore[union-attr]
        await mirror.stop()

    run_in_own_thread(scenario())
    assert seen.recorded == [] and model.calls == []
