"""Every executor keeps the same promises: results in order, errors as raised, the shared
value delivered, every worker reached. The Dask one runs on a real two-process cluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shipline.compute import Executor, InProcess
from shipline.compute.cluster import ComputeTarget, open_executor
from shipline.config.compute import LocalClusterConfig


class _RefusedError(ValueError):
    """A task's own error."""


def _square_plus(item: int, shared: Any = None) -> int:
    return item * item + int((shared or {}).get("add", 0))


def _fails_on_three(item: int, shared: Any = None) -> int:
    if item == 3:
        raise _RefusedError(f"item {item} refused")
    return item


def _pid() -> int:
    import os

    return os.getpid()


@pytest.fixture(params=["in-process", "dask"], scope="module")
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "in-process":
        yield InProcess()
        return
    target = ComputeTarget(local=LocalClusterConfig(workers=2, memory_limit="512MiB"))
    with open_executor(target) as opened:
        yield opened


def test_map_keeps_the_order_and_reports_each_result(executor: Executor) -> None:
    seen: list[int] = []
    results = executor.map(_square_plus, list(range(8)), shared={"add": 1}, on_done=seen.append)
    assert results == [i * i + 1 for i in range(8)]
    assert sorted(seen) == sorted(results)


def test_a_failing_task_raises_its_own_error(executor: Executor) -> None:
    with pytest.raises(_RefusedError, match="item 3 refused"):
        executor.map(_fails_on_three, [1, 2, 3, 4])
    with pytest.raises(_RefusedError):
        executor.call(_fails_on_three, 3)
    assert executor.call(_square_plus, 4) == 16


def test_everywhere_reaches_every_worker(executor: Executor) -> None:
    answers = executor.everywhere(_pid)
    if executor.remote:
        assert len(answers) == 2 and len(set(answers.values())) == 2
        assert executor.description.startswith("dask")
    else:
        assert list(answers) == ["local"] and executor.description == "local"
