"""How the CLI shows results: rich tables for people, JSON for scripts, plain errors.

Rich and orjson are imported when something is shown, not when the CLI starts.
"""

from __future__ import annotations

__all__ = [
    "byte_progress",
    "print_error",
    "print_json",
    "print_table",
    "row_progress",
    "stdout_console",
    "step_progress",
    "when",
]

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console() -> Console:
    """A console on stdout that never interprets markup in data."""
    from rich.console import Console

    # Piped output is read by people in logs and pagers: do not squeeze it to 80 columns.
    width = None if sys.stdout.isatty() else 200
    return Console(markup=False, highlight=False, soft_wrap=False, width=width)


def print_json(value: Any) -> None:
    """Write ``value`` as indented JSON to stdout."""
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def print_error(message: str) -> None:
    """Write an error to stderr, plainly (messages may hold brackets rich would eat)."""
    sys.stderr.write(f"error: {message}\n")


def when(stamp: str) -> str:
    """A stored UTC timestamp as people read it: ``2026-11-21 13:43:14``."""
    return stamp[:19].replace("T", " ")


# Ids and counts live in 64-bit columns: a larger number is a usage error, not a traceback.
MAX_ID = 2**63 - 1


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Render rows as a rich table on stdout."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    stdout_console().print(table)


@contextmanager
def byte_progress(
    label: str, enabled: bool
) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """A progress bar over bytes on stderr when it is a terminal; yields a start function."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:

        def start(total: int) -> Callable[[int], None]:
            task = progress.add_task(label, total=total)
            return lambda count: progress.advance(task, count)

        yield start


@contextmanager
def row_progress(label: str) -> Iterator[Callable[[int], None] | None]:
    """A running count of rows on stderr when it is a terminal; yields an advance function."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}: {task.completed:,.0f} rows"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda count: progress.advance(task, count)


@contextmanager
def step_progress(enabled: bool) -> Iterator[Callable[[str, str | None], None] | None]:
    """On a terminal (stderr), the running step with a spinner and its elapsed time, and a
    line per finished step; yields the callback a run reports its steps to."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    import time

    from rich.console import Console

    console = Console(stderr=True, highlight=False)
    started: dict[str, float] = {}
    with console.status("starting the run") as status:

        def on_step(name: str, outcome: str | None) -> None:
            if outcome is None:
                started[name] = time.monotonic()
                status.update(f"{name}: running")
                return
            seconds = time.monotonic() - started.get(name, time.monotonic())
            console.print(f"  {name}: {outcome} ({seconds:.1f}s)")

        yield on_step
