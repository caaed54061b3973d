"""The one interface heavy work is handed to: run a task, or map tasks over partitions."""

from __future__ import annotations

__all__ = ["ComputeError", "Executor", "InProcess", "TaskDone"]

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from shipline.errors import ShiplineError

T = TypeVar("T")
TaskDone = Callable[[Any], None]


class ComputeError(ShiplineError):
    """The cluster cannot be reached, cannot see the store, or lost a task for good."""


class Executor(Protocol):
    """Runs functions where the configured compute is: here, or on cluster workers.

    Functions and their arguments must be importable or picklable (cloudpickle), since a
    worker may be another process or another machine.
    """

    @property
    def description(self) -> str:
        """Where work runs, for people: ``local`` or ``dask tcp://…``."""
        ...

    @property
    def remote(self) -> bool:
        """Work runs in other processes, which read inputs from the content store."""
        ...

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run one task and wait for its result (a lost worker's task runs elsewhere)."""
        ...

    def map(
        self,
        function: Callable[..., T],
        items: Sequence[Any],
        shared: Any = None,
        on_done: TaskDone | None = None,
    ) -> list[T]:
        """``function(item, shared=shared)`` per item, results in the items' order; ``on_done`` sees
        each result as it ends. ``shared`` (a model, say) travels to each worker once.

        The first task that fails cancels the rest and its error is raised.
        """
        ...

    def everywhere(self, function: Callable[..., T], *args: Any) -> dict[str, T]:
        """``function(*args)`` once in every worker process, by worker address."""
        ...


@dataclass(frozen=True)
class InProcess:
    """Everything in this process, one task after the other (``compute: local``)."""

    description: str = "local"
    remote: bool = False

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run it here."""
        return function(*args)

    def map(
        self,
        function: Callable[..., T],
        items: Sequence[Any],
        shared: Any = None,
        on_done: TaskDone | None = None,
    ) -> list[T]:
        """Run each here, in order."""
        results = []
        for item in items:
            result = function(item, shared=shared)
            if on_done is not None:
                on_done(result)
            results.append(result)
        return results

    def everywhere(self, function: Callable[..., T], *args: Any) -> dict[str, T]:
        """Here is the only worker."""
        return {"local": function(*args)}
